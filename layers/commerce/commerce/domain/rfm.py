"""RFM: how recently, how often and how much a customer buys, scored and named.

The stream consumer keeps per signed-in customer: paid orders (frequency), spend (money paid
less refunded: monetary) and the time of the last paid order; recency is read from that at the
moment of asking, in whole days. Each is scored 1 (low) to 5 (high) against four thresholds, and
the scores name a segment, first rule that holds:

| segment          | rule                                  |
|------------------|---------------------------------------|
| ``none``         | no paid order yet                     |
| ``champions``    | R >= 4 and F >= 4                     |
| ``loyal``        | R >= 3 and F >= 3                     |
| ``new``          | R >= 4 and F = 1                      |
| ``promising``    | R >= 4                                |
| ``at_risk``      | R <= 2 and (F >= 3 or M >= 4)         |
| ``lost``         | R = 1                                 |
| ``hibernating``  | R = 2                                 |
| ``need_attention`` | every other case                    |

Thresholds are configuration (``RFM_THRESHOLDS``, read by ``parse_thresholds``); the defaults:
recency at most 30 / 90 / 180 / 365 days scores 5 / 4 / 3 / 2 (older: 1); frequency of at least
10 / 5 / 3 / 2 orders scores 5 / 4 / 3 / 2 (else 1); monetary of at least 10,000 / 3,000 /
1,000 / 300 CNY scores 5 / 4 / 3 / 2 (else 1). docs/analytics.md has the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from commerce.domain.money import DEFAULT_CURRENCY, Money

DAY_SECONDS: Final = 24 * 60 * 60

#: Every segment name, in the order of the rules above (``none`` first).
SEGMENTS: Final = (
    "none",
    "champions",
    "loyal",
    "new",
    "promising",
    "at_risk",
    "lost",
    "hibernating",
    "need_attention",
)


class RfmConfigError(ValueError):
    """RFM thresholds no configuration should hold."""


@dataclass(frozen=True)
class Thresholds:
    """Four cut-offs per measure, from the score-5 one down to the score-2 one.

    ``recency_days`` rise (the fewer days since the last order, the higher the score);
    ``frequency`` and ``monetary`` (minor units) fall.
    """

    recency_days: tuple[int, int, int, int]
    frequency: tuple[int, int, int, int]
    monetary: tuple[int, int, int, int]

    def __post_init__(self) -> None:
        for name, values, rising in (
            ("r", self.recency_days, True),
            ("f", self.frequency, False),
            ("m", self.monetary, False),
        ):
            if len(values) != 4 or any(v < 0 for v in values):
                raise RfmConfigError(f"{name}: four non-negative thresholds")
            ordered = sorted(values) if rising else sorted(values, reverse=True)
            if list(values) != ordered or len(set(values)) != 4:
                raise RfmConfigError(
                    f"{name}: thresholds must {'rise' if rising else 'fall'} strictly"
                )


DEFAULT_THRESHOLDS: Final = Thresholds(
    recency_days=(30, 90, 180, 365),
    frequency=(10, 5, 3, 2),
    monetary=(1_000_000, 300_000, 100_000, 30_000),
)


def parse_thresholds(spec: str) -> Thresholds:
    """Thresholds from their setting, ``r=30,90,180,365;f=10,5,3,2;m=1000000,300000,100000,30000``
    (monetary in minor units); "" gives the defaults."""
    if not spec.strip():
        return DEFAULT_THRESHOLDS
    found: dict[str, tuple[int, int, int, int]] = {}
    for part in spec.split(";"):
        name, _, values = part.partition("=")
        numbers = [v.strip() for v in values.split(",")]
        if name.strip() not in ("r", "f", "m") or len(numbers) != 4:
            raise RfmConfigError(f"{part.strip()!r} is not r|f|m=a,b,c,d")
        if not all(n.isdigit() for n in numbers):
            raise RfmConfigError(f"{part.strip()!r}: thresholds are whole numbers")
        a, b, c, d = (int(n) for n in numbers)
        found[name.strip()] = (a, b, c, d)
    if set(found) != {"r", "f", "m"}:
        raise RfmConfigError("name r, f and m once each")
    return Thresholds(found["r"], found["f"], found["m"])


@dataclass(frozen=True)
class CustomerValue:
    """What the stream consumer keeps about one customer's paid orders."""

    orders: int = 0
    spend: Money = field(default_factory=Money.zero)
    last_order_at: int | None = None


@dataclass(frozen=True)
class Scores:
    recency: int
    frequency: int
    monetary: int


@dataclass(frozen=True)
class Rfm:
    """The RFM of a customer as support and the export show it."""

    recency_days: int | None
    frequency: int
    monetary: Money
    segment: str
    scores: Scores | None


def recency_days(last_order_at: int | None, now: int) -> int | None:
    """Whole days since the last paid order (0 on the same day); None without one."""
    if last_order_at is None:
        return None
    return max(0, now - last_order_at) // DAY_SECONDS


def _score_up(value: int, cutoffs: tuple[int, int, int, int]) -> int:
    """5 for a value at or above the first cut-off, ... 2 at or above the last, else 1."""
    for score, cutoff in zip((5, 4, 3, 2), cutoffs, strict=True):
        if value >= cutoff:
            return score
    return 1


def _score_down(value: int, cutoffs: tuple[int, int, int, int]) -> int:
    """5 for a value at or below the first cut-off, ... 2 at or below the last, else 1."""
    for score, cutoff in zip((5, 4, 3, 2), cutoffs, strict=True):
        if value <= cutoff:
            return score
    return 1


def scores(value: CustomerValue, now: int, thresholds: Thresholds) -> Scores | None:
    """R, F and M from 1 to 5; None for a customer with no paid order."""
    days = recency_days(value.last_order_at, now)
    if value.orders <= 0 or days is None:
        return None
    return Scores(
        recency=_score_down(days, thresholds.recency_days),
        frequency=_score_up(value.orders, thresholds.frequency),
        monetary=_score_up(value.spend.amount, thresholds.monetary),
    )


def segment_of(s: Scores | None) -> str:
    """The segment the scores name (the table in this module's docstring)."""
    if s is None:
        return "none"
    r, f, m = s.recency, s.frequency, s.monetary
    if r >= 4 and f >= 4:
        return "champions"
    if r >= 3 and f >= 3:
        return "loyal"
    if r >= 4 and f == 1:
        return "new"
    if r >= 4:
        return "promising"
    if r <= 2 and (f >= 3 or m >= 4):
        return "at_risk"
    if r == 1:
        return "lost"
    if r == 2:
        return "hibernating"
    return "need_attention"


def rfm(value: CustomerValue | None, now: int, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Rfm:
    """The customer's RFM now (a customer the consumer never saw has none: segment ``none``)."""
    known = value or CustomerValue()
    s = scores(known, now, thresholds)
    return Rfm(
        recency_days=recency_days(known.last_order_at, now),
        frequency=max(0, known.orders),
        monetary=Money(known.spend.amount, DEFAULT_CURRENCY),
        segment=segment_of(s),
        scores=s,
    )
