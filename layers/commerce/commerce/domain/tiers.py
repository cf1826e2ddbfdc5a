"""Member tiers: member, silver and gold by what a customer spent over the trailing twelve months.

The tier table is configuration (``parse_tiers`` reads it from one setting); each tier carries
its own price (a discount in basis points) and its benefits. The defaults are the seed's member
prices: every member pays 95 % (9.5折), silver 90 % (9折), gold 85 % (8.5折) with free shipping.
A tier's discount is applied by ``pricing.price`` as a ``TierPercentage``, after the coupons,
and its ``free_shipping`` benefit as a ``FreeShipping`` waiver (``tier_discounts``). The tier is
recomputed from the customer's orders whenever one of them is delivered or refunded.
docs/customers.md states the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

from commerce.domain.money import DEFAULT_CURRENCY, Money
from commerce.domain.orders import Order
from commerce.domain.pricing import BASIS_POINTS, Discount, FreeShipping, TierPercentage

#: The trailing window of spend: 365 days up to and including now.
TRAILING_WINDOW_SECONDS: Final = 365 * 24 * 60 * 60


#: The benefit that waives shipping on every cart and order of the tier.
FREE_SHIPPING: Final = "free_shipping"
#: Benefits other than free shipping are labels the shop shows (``priority_support``,
#: ``birthday_gift``): lower-case words, at most this many per tier.
MAX_BENEFITS: Final = 8
_BENEFIT_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class TierError(ValueError):
    """A tier table no configuration should hold."""


@dataclass(frozen=True)
class Tier:
    """``name`` applies from ``threshold`` of trailing spend, takes ``rate_bp`` off the
    merchandise and grants ``benefits`` (``FREE_SHIPPING`` waives shipping; the rest are shown)."""

    name: str
    threshold: Money
    rate_bp: int
    benefits: tuple[str, ...] = ()

    @property
    def price_bp(self) -> int:
        """What the tier pays of the list price, in basis points (9500 = 9.5折)."""
        return BASIS_POINTS - self.rate_bp


@dataclass(frozen=True)
class TierTable:
    """Tiers from the lowest (threshold 0) up; thresholds rise strictly, rates never fall."""

    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        if not self.tiers:
            raise TierError("a tier table has at least one tier")
        if self.tiers[0].threshold.amount != 0:
            raise TierError("the lowest tier starts at a spend of 0")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names) or not all(n and n.isidentifier() for n in names):
            raise TierError("tier names are distinct lower-case words")
        for tier in self.tiers:
            rate = tier.rate_bp
            if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate < BASIS_POINTS:
                raise TierError(f"{tier.name}: rate_bp must be in 0..{BASIS_POINTS - 1}")
            if tier.threshold.currency != DEFAULT_CURRENCY:
                raise TierError(f"{tier.name}: threshold must be in {DEFAULT_CURRENCY}")
            benefits = tier.benefits
            if len(benefits) > MAX_BENEFITS or len(set(benefits)) != len(benefits):
                raise TierError(f"{tier.name}: at most {MAX_BENEFITS} distinct benefits")
            if not all(isinstance(b, str) and _BENEFIT_RE.fullmatch(b) for b in benefits):
                raise TierError(f"{tier.name}: benefits are lower-case words (free_shipping)")
        for lower, upper in pairwise(self.tiers):
            if upper.threshold.amount <= lower.threshold.amount:
                raise TierError(f"{upper.name}: thresholds must rise from tier to tier")
            if upper.rate_bp < lower.rate_bp:
                raise TierError(f"{upper.name}: a higher tier never takes less off")

    def named(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


#: The seed's member prices: every member 9.5折 (5 % off), silver from 1,000.00 CNY of trailing
#: spend 9折 (10 % off), gold from 5,000.00 CNY 8.5折 (15 % off) and free shipping.
DEFAULT_TIERS: Final = TierTable(
    (
        Tier("member", Money(0), 500),
        Tier("silver", Money(100_000), 1_000),
        Tier("gold", Money(500_000), 1_500, (FREE_SHIPPING,)),
    )
)
#: ``DEFAULT_TIERS`` as the ``MEMBER_TIERS`` setting writes it.
DEFAULT_TIERS_SPEC: Final = "member:0:500,silver:100000:1000,gold:500000:1500:free_shipping"


def parse_tiers(spec: str) -> TierTable:
    """A table from its setting: ``name:threshold_fen:rate_bp[:benefit+benefit...]`` entries,
    comma-separated (``DEFAULT_TIERS_SPEC`` is the default table)."""
    tiers: list[Tier] = []
    for entry in spec.split(","):
        parts = [p.strip() for p in entry.split(":")]
        if len(parts) not in (3, 4) or not parts[1].isdigit() or not parts[2].isdigit():
            raise TierError(f"{entry.strip()!r} is not name:threshold_fen:rate_bp[:benefits]")
        benefits = tuple(b.strip() for b in parts[3].split("+")) if len(parts) == 4 else ()
        tiers.append(Tier(parts[0], Money(int(parts[1])), int(parts[2]), benefits))
    return TierTable(tuple(tiers))


def tier_for(spend: Money, table: TierTable = DEFAULT_TIERS) -> Tier:
    """The highest tier whose threshold ``spend`` reaches (the lowest for any spend below)."""
    reached = [t for t in table.tiers if spend.amount >= t.threshold.amount]
    return reached[-1] if reached else table.tiers[0]


def next_tier(spend: Money, table: TierTable = DEFAULT_TIERS) -> tuple[Tier, Money] | None:
    """The next tier up and the spend still needed to reach it; None at the top."""
    above = [t for t in table.tiers if t.threshold.amount > spend.amount]
    if not above:
        return None
    return above[0], Money(above[0].threshold.amount - max(spend.amount, 0))


def order_spend(order: Order) -> Money:
    """What an order counts towards a tier: money paid (``total``) less money refunded."""
    return Money(max(0, order.totals.total.amount - order.payment.refunded.amount))


def trailing_spend(orders: Iterable[Order], now: int) -> Money:
    """Spend over the trailing window: every order delivered in ``(now - 365 days, now]``,
    counted at what was paid less what has been refunded. Orders never delivered (pending,
    cancelled, payment failed, in transit) count nothing.
    """
    since = now - TRAILING_WINDOW_SECONDS
    total = 0
    for order in orders:
        delivered = order.delivered_at
        if delivered is not None and since < delivered <= now:
            total += order_spend(order).amount
    return Money(total)


def to_discount(tier: Tier) -> TierPercentage | None:
    """The pricing module's discount for ``tier``; None for a tier that takes nothing off."""
    return TierPercentage(tier.name, tier.rate_bp) if tier.rate_bp else None


def tier_discounts(tier: Tier) -> tuple[Discount, ...]:
    """What ``tier`` gives a cart or order: its percentage, and a shipping waiver with the
    ``free_shipping`` benefit (none for a tier with neither)."""
    percentage = to_discount(tier)
    waiver = FreeShipping(f"tier:{tier.name}") if FREE_SHIPPING in tier.benefits else None
    return tuple(d for d in (percentage, waiver) if d is not None)
