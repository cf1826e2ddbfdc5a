"""Segments: customers chosen by rules over what they bought, their tier and their RFM segment.

A segment's members are signed-in customers with at least one paid order (the customers the
stream consumer keeps a value for) for whom every rule given holds; a segment with no rules
holds them all:

- ``min_orders``: at least that many paid orders;
- ``min_spend``: spend (paid less refunded) of at least that much;
- ``last_order_within_days``: a paid order in the last N days;
- ``no_order_within_days``: no paid order in the last N days;
- ``tiers``: the member tier is one of these (``loyalty.tiers``);
- ``rfm_segments``: the RFM segment is one of these (``domain.rfm``).

Recency rules are also what the members index is read by (``recency_window``), so a segment of
recent buyers reads only them; the other rules are checked on each candidate.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from commerce.domain.money import DEFAULT_CURRENCY, Money
from commerce.domain.rfm import DAY_SECONDS, SEGMENTS, CustomerValue, Thresholds, rfm
from commerce.errors import FieldError

#: The longest recency a rule may name: ten years.
MAX_DAYS: Final = 3650


@dataclass(frozen=True)
class Rules:
    """A segment's rules; None (or an empty choice never: see ``check``) means no such rule."""

    min_orders: int | None = None
    min_spend: Money | None = None
    last_order_within_days: int | None = None
    no_order_within_days: int | None = None
    tiers: tuple[str, ...] | None = None
    rfm_segments: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, object]:
        """The rules as API.md shows them (rules not given are left out)."""
        shown: dict[str, object] = {}
        if self.min_orders is not None:
            shown["min_orders"] = self.min_orders
        if self.min_spend is not None:
            shown["min_spend"] = self.min_spend.to_dict()
        if self.last_order_within_days is not None:
            shown["last_order_within_days"] = self.last_order_within_days
        if self.no_order_within_days is not None:
            shown["no_order_within_days"] = self.no_order_within_days
        if self.tiers is not None:
            shown["tiers"] = list(self.tiers)
        if self.rfm_segments is not None:
            shown["rfm_segments"] = list(self.rfm_segments)
        return shown

    @property
    def needs_tier(self) -> bool:
        return self.tiers is not None


def check(rules: Rules, known_tiers: Collection[str]) -> list[FieldError]:
    """Why ``rules`` cannot make a segment (empty when they can): unknown tiers or RFM
    segments, empty choices, a money rule in another currency, recency rules that exclude each
    other."""
    errors: list[FieldError] = []
    if rules.min_spend is not None and rules.min_spend.currency != DEFAULT_CURRENCY:
        errors.append(FieldError("rules.min_spend.currency", f"must be {DEFAULT_CURRENCY}"))
    for name, chosen, known in (
        ("tiers", rules.tiers, tuple(known_tiers)),
        ("rfm_segments", rules.rfm_segments, SEGMENTS),
    ):
        if chosen is None:
            continue
        if not chosen:
            errors.append(FieldError(f"rules.{name}", "name at least one, or leave the rule out"))
        for index, value in enumerate(chosen):
            if value not in known:
                errors.append(
                    FieldError(f"rules.{name}[{index}]", f"must be one of {', '.join(known)}")
                )
    within, without = rules.last_order_within_days, rules.no_order_within_days
    if within is not None and without is not None and without >= within:
        errors.append(
            FieldError(
                "rules.no_order_within_days",
                "must be less than last_order_within_days, or no customer could match",
            )
        )
    return errors


@dataclass(frozen=True)
class Window:
    """Last-order times (epoch s) the recency rules allow: ``since <= t < before``."""

    since: int | None = None
    before: int | None = None


def recency_window(rules: Rules, now: int) -> Window:
    """The last-order times the recency rules allow, at ``now``."""
    since = (
        now - rules.last_order_within_days * DAY_SECONDS
        if rules.last_order_within_days is not None
        else None
    )
    before = (
        now - rules.no_order_within_days * DAY_SECONDS
        if rules.no_order_within_days is not None
        else None
    )
    return Window(since, before)


def matches(
    rules: Rules,
    value: CustomerValue,
    now: int,
    thresholds: Thresholds,
    tier: str | None = None,
) -> bool:
    """Whether a customer with ``value`` (and member ``tier``, needed when ``rules.tiers`` is
    given) is a member at ``now``."""
    if value.orders <= 0 or value.last_order_at is None:
        return False
    window = recency_window(rules, now)
    if window.since is not None and value.last_order_at < window.since:
        return False
    if window.before is not None and value.last_order_at >= window.before:
        return False
    if rules.min_orders is not None and value.orders < rules.min_orders:
        return False
    if rules.min_spend is not None and value.spend.amount < rules.min_spend.amount:
        return False
    if rules.rfm_segments is not None and (
        rfm(value, now, thresholds).segment not in rules.rfm_segments
    ):
        return False
    return rules.tiers is None or tier in rules.tiers
