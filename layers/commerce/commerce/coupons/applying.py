"""Coupons and the member tier in carts: applying a code, and the discounts a cart gets now.

A cart keeps only the codes; definitions are read fresh whenever the cart is priced, so a coupon
ops deactivate or let expire stops giving anything at once. Applying runs the domain's checks
(``check_applicable``, ``check_stack``) and answers 422 ``coupon-invalid`` with the reason; they
are advice, the checkout's conditional write is the guarantee (``consumption``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from commerce.domain.coupons import Coupon, check_applicable, normalise_code, to_discounts
from commerce.domain.money import Money
from commerce.domain.orders import Order
from commerce.domain.pricing import Discount, TierPercentage
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
from commerce.store import coupons as store
from commerce.store import orders as order_store

#: Orders created this long before the trailing window may still have been delivered inside it.
_DELIVERY_SLACK_SECONDS: Final = 90 * 24 * 3600
_ORDERS_PAGE: Final = 100
#: The member tiers (docs/customers.md, "Member tiers").


@lru_cache(maxsize=1)
def tier_table() -> TierTable:
    """The member tiers in force: ``MEMBER_TIERS`` when set, else the documented defaults."""
    spec = get_settings().member_tiers
    return parse_tiers(spec) if spec else DEFAULT_TIERS


def applicable(
    cart_codes: Sequence[str], code: str, subtotal: Money, sub: str | None, now: int
) -> Coupon:
    """The coupon ``code`` if it may join a cart holding ``cart_codes`` at ``subtotal``, else
    the 422 ``coupon-invalid`` problem with the first reason that fails."""
    typed = normalise_code(code)
    found = store.load_many([*cart_codes, typed])
    stored = found.get(typed)
    alongside = [found[c].coupon for c in cart_codes if c in found and c != typed]
    uses = 0
    if stored is not None and stored.coupon.per_customer_limit is not None:
        uses = store.uses_by(typed, sub)
    rejection = check_applicable(
        stored.coupon if stored else None,
        subtotal,
        now,
        stored.uses_total if stored else 0,
        uses,
        sub,
        code=typed,
        alongside=alongside,
    )
    if rejection is not None:
        raise rejection.to_error()
    assert stored is not None
    return stored.coupon


def _usable(coupon: Coupon, now: int) -> bool:
    """Active and inside its validity window (limits are the checkout's to enforce)."""
    if not coupon.active:
        return False
    if coupon.valid_from is not None and now < coupon.valid_from:
        return False
    return coupon.valid_until is None or now < coupon.valid_until


def coupon_discounts(codes: Sequence[str], subtotal: Money, now: int) -> list[Discount]:
    """What a cart's coupons take off now: each coupon read fresh, those inactive or outside
    their window giving nothing, those whose minimum the subtotal misses giving nothing."""
    if not codes:
        return []
    found = store.load_many(codes)
    usable = [found[c].coupon for c in codes if c in found and _usable(found[c].coupon, now)]
    return to_discounts(usable, subtotal)


def member_tier(sub: str, now: int) -> Tier:
    """The customer's member tier from their trailing twelve-month spend (orders delivered in
    the window, less refunds)."""
    oldest = now - TRAILING_WINDOW_SECONDS - _DELIVERY_SLACK_SECONDS
    orders: list[Order] = []
    start = None
    while True:
        page = order_store.customer_orders(sub, _ORDERS_PAGE, start)
        orders.extend(s.order for s in page.orders)
        if page.last_key is None or any(s.order.created_at < oldest for s in page.orders):
            break
        start = page.last_key
    return tier_for(trailing_spend(orders, now), tier_table())


def member_discount(sub: str | None, now: int) -> TierPercentage | None:
    """The signed-in customer's tier discount (``member_tier``); None for guests and for the
    lowest tier."""
    if sub is None:
        return None
    return to_discount(member_tier(sub, now))


def discounts_for(
    codes: Sequence[str], subtotal: Money, sub: str | None, now: int
) -> list[Discount]:
    """Every discount of a cart at ``now``: its coupons', then its owner's member tier."""
    found: list[Discount] = coupon_discounts(codes, subtotal, now)
    tier = member_discount(sub, now)
    if tier is not None:
        found.append(tier)
    return found
