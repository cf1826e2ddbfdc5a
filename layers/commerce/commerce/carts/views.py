"""A stored cart as clients see it: lines with their hold state, and totals priced now."""

from __future__ import annotations

from collections.abc import Mapping

from commerce import clock
from commerce.carts.schemas import CartLineOut, CartOut
from commerce.coupons.applying import discounts_for
from commerce.domain.pricing import price
from commerce.domain.shipping import ZoneTable
from commerce.http.schemas import address_out, money_out, totals_out
from commerce.shipping.zones import rule_for
from commerce.store.carts import StoredCart, with_current_prices
from commerce.store.products import SkuOffer


def cart_view(
    cart: StoredCart,
    now: int,
    cart_token: str | None = None,
    *,
    offers: Mapping[str, SkuOffer] | None = None,
    zones: ZoneTable | None = None,
) -> CartOut:
    """The cart at ``now``; ``cart_token`` only in the response that created a guest cart.
    Lines are shown at their SKUs' current prices, as checkout will charge them. ``offers``
    and ``zones`` are what the request already read (the rest is read here)."""
    domain = with_current_prices(cart, offers).to_domain(now)
    lines = domain.price_lines()
    # Coupon definitions and the owner's tier are read fresh, so totals always say what
    # checkout would charge now (checkout re-checks the coupons' limits).
    # The shipping zone table too: a cart without an address shows the default zone's price.
    discounts = discounts_for(cart.coupons, price(lines).totals.subtotal, cart.owner_sub, now)
    totals = price(lines, rule_for(domain.shipping_address, zones), discounts).totals
    return CartOut(
        cart_id=cart.cart_id,
        cart_token=cart_token,
        lines=[
            CartLineOut(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=money_out(line.unit_price),
                reserved_until=clock.iso(line.reserved_until) if line.reserved_until else None,
            )
            for line in domain.lines
        ],
        shipping_address=address_out(domain.shipping_address),
        coupons=list(domain.coupons),
        totals=totals_out(totals),
    )
