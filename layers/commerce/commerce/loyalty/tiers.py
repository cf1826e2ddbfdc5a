"""The member tier a customer holds now, and what it gives their carts and orders.

The tier comes from the trailing twelve-month spend (orders delivered in the window, less
refunds: ``domain.tiers.trailing_spend``) against the table in force (docs/customers.md,
"Member tiers"): its discount and, with the ``free_shipping`` benefit, a shipping waiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from commerce.domain.money import Money
from commerce.domain.orders import Order
from commerce.domain.pricing import Discount
from commerce.domain.tiers import (
    DEFAULT_TIERS,
    TRAILING_WINDOW_SECONDS,
    Tier,
    TierTable,
    next_tier,
    parse_tiers,
    tier_discounts,
    tier_for,
    trailing_spend,
)
from commerce.settings import get_settings
from commerce.store import orders as order_store

#: Orders created this long before the trailing window may still have been delivered inside it.
_DELIVERY_SLACK_SECONDS: Final = 90 * 24 * 3600
_ORDERS_PAGE: Final = 100


@lru_cache(maxsize=1)
def tier_table() -> TierTable:
    """The member tiers in force: ``MEMBER_TIERS`` when set, else the documented defaults."""
    spec = get_settings().member_tiers
    return parse_tiers(spec) if spec else DEFAULT_TIERS


@dataclass(frozen=True)
class Standing:
    """A customer's tier now, the spend that earned it, and the next tier up (None at the top)
    with the spend still needed to reach it."""

    tier: Tier
    spend: Money
    next: tuple[Tier, Money] | None


def standing(sub: str, now: int) -> Standing:
    """The customer's tier from their trailing twelve-month spend (orders delivered in the
    window, less refunds), and how far the next one is."""
    oldest = now - TRAILING_WINDOW_SECONDS - _DELIVERY_SLACK_SECONDS
    orders: list[Order] = []
    for stored in order_store.each_customer_order(sub, _ORDERS_PAGE):
        if stored.order.created_at < oldest:
            break  # newest first: every order after this one is older still
        orders.append(stored.order)
    table = tier_table()
    spend = trailing_spend(orders, now)
    return Standing(tier_for(spend, table), spend, next_tier(spend, table))


def member_tier(sub: str, now: int) -> Tier:
    """The customer's member tier now (``standing``)."""
    return standing(sub, now).tier


def member_discounts(sub: str | None, now: int) -> tuple[Discount, ...]:
    """What the signed-in customer's tier gives a cart or order (``tier_discounts``); nothing
    for guests."""
    if sub is None:
        return ()
    return tier_discounts(member_tier(sub, now))
