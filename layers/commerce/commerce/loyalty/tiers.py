"""The member tier a customer holds now, and the discount it gives their carts and orders.

The tier comes from the trailing twelve-month spend (orders delivered in the window, less
refunds: ``domain.tiers.trailing_spend``) against the table in force (docs/customers.md,
"Member tiers").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from commerce.domain.orders import Order
from commerce.domain.pricing import TierPercentage
from commerce.domain.tiers import (
    DEFAULT_TIERS,
    TRAILING_WINDOW_SECONDS,
    Tier,
    TierTable,
    parse_tiers,
    tier_for,
    to_discount,
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


def member_tier(sub: str, now: int) -> Tier:
    """The customer's member tier from their trailing twelve-month spend (orders delivered in
    the window, less refunds)."""
    oldest = now - TRAILING_WINDOW_SECONDS - _DELIVERY_SLACK_SECONDS
    orders: list[Order] = []
    for stored in order_store.each_customer_order(sub, _ORDERS_PAGE):
        if stored.order.created_at < oldest:
            break  # newest first: every order after this one is older still
        orders.append(stored.order)
    return tier_for(trailing_spend(orders, now), tier_table())


def member_discount(sub: str | None, now: int) -> TierPercentage | None:
    """The signed-in customer's tier discount (``member_tier``); None for guests and for the
    lowest tier."""
    if sub is None:
        return None
    return to_discount(member_tier(sub, now))
