"""Coupons in carts: applying a code, and the discounts a cart gets now (its coupons, then the
member tier from ``loyalty.tiers``).

A cart keeps only the codes; definitions are read fresh whenever the cart is priced, so a coupon
ops deactivate or let expire stops giving anything at once. Applying runs the domain's checks
(``check_applicable``, ``check_stack``) and answers 422 ``coupon-invalid`` with the reason; they
are advice, the checkout's conditional write is the guarantee (``consumption``).
"""

from __future__ import annotations

from collections.abc import Sequence

from commerce.domain.coupons import Coupon, check_applicable, normalise_code, to_discounts
from commerce.domain.money import Money
from commerce.domain.pricing import Discount
from commerce.loyalty.tiers import member_discounts
from commerce.store import coupons as store


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


def discounts_for(
    codes: Sequence[str], subtotal: Money, sub: str | None, now: int
) -> list[Discount]:
    """Every discount of a cart at ``now``: its coupons', then its owner's member tier."""
    return [*coupon_discounts(codes, subtotal, now), *member_discounts(sub, now)]
