"""Cart use cases, one per route: who may do what (domain ``cart_access``), then the store.

Access: the owner and the guest token's holder may change a cart; staff reach it as far as the
route's declared access says (``commerce.http.access``: read any cart, change none), and anyone
else gets 404 so a stranger never learns a cart exists. Staff trying to change a cart they can
read get 403: they already know it exists.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.carts import holding, sold_out
from commerce.carts.schemas import CartOut, SavedAddressIn, ShippingAddressIn
from commerce.carts.views import cart_view
from commerce.clock import now_iso
from commerce.coupons import applying
from commerce.customers.addresses import owned_address
from commerce.domain.access import Reach
from commerce.domain.cart import CartError, ClaimOutcome, TooManyLines, cart_access, claim
from commerce.domain.coupons import normalise_code
from commerce.domain.flash_sales import FlashSale
from commerce.domain.guest_tokens import issue_guest_token
from commerce.domain.pricing import price
from commerce.domain.product import is_valid_sku
from commerce.domain.shipping_address import parse_shipping_address
from commerce.errors import (
    CommerceError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    OutOfStock,
    PurchaseLimit,
    Unauthorized,
    ValidationFailed,
)
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.store import carts, kit
from commerce.store import coupons as coupon_store
from commerce.store.carts import StoredCart

_CART_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
#: Coupon changes retried on a fresh read when the cart changed between read and write.
_COUPON_ATTEMPTS: Final = 3


def _problem(error: CartError) -> CommerceError:
    """The domain's refusals as problems: too many lines is a state conflict, the rest 400."""
    if isinstance(error, TooManyLines):
        return Conflict(error.message)
    return ValidationFailed([FieldError(error.field, error.message)])


def _load(cart_id: str) -> StoredCart:
    cart = carts.load(cart_id) if _CART_ID_RE.fullmatch(cart_id) else None
    if cart is None:
        raise NotFound("No such cart")
    return cart


def _access(cart: StoredCart, caller: Caller, cart_token: str | None) -> Reach:
    return cart_access(
        cart.to_domain(clock.now()),
        caller_sub=caller.sub,
        staff=caller.reach,
        cart_token=cart_token,
    )


def _readable(cart_id: str, caller: Caller, cart_token: str | None) -> StoredCart:
    cart = _load(cart_id)
    if not _access(cart, caller, cart_token).sees:
        raise NotFound("No such cart")
    return cart


def _writable(cart_id: str, caller: Caller, cart_token: str | None) -> StoredCart:
    cart = _load(cart_id)
    access = _access(cart, caller, cart_token)
    if access is Reach.SEE:
        raise Forbidden("Staff may read this cart but only its owner may change it")
    if access is Reach.NONE:
        raise NotFound("No such cart")
    if cart.checked_out:
        raise Conflict("This cart has been checked out; it can no longer change")
    return cart


def _fresh(cart_id: str) -> CartOut:
    return cart_view(_load(cart_id), clock.now())


def create_cart(caller: Caller) -> CartOut:
    """A new empty cart: the signed-in caller's, or a guest's with a fresh cart token."""
    cart_id = uuid.uuid4().hex
    token = None if caller.is_authenticated else issue_guest_token(secrets.token_urlsafe)
    carts.create(
        cart_id,
        owner_sub=caller.sub,
        token_hash=token.token_hash if token else None,
        at=now_iso(),
        now=clock.now(),
    )
    metrics.add_metric(name="CartCreated", unit=MetricUnit.Count, value=1)
    logger.info("cart created", extra={"cart_id": cart_id, "guest": token is not None})
    return cart_view(_load(cart_id), clock.now(), cart_token=token.token if token else None)


def get_cart(cart_id: str, caller: Caller, cart_token: str | None) -> CartOut:
    return cart_view(_readable(cart_id, caller, cart_token), clock.now())


def set_item(
    cart_id: str, sku: str, quantity: int, caller: Caller, cart_token: str | None
) -> CartOut:
    """Set a line and hold exactly that much stock; 0 removes the line and releases it.

    A SKU this instance found sold out in the last second is refused before anything is read;
    otherwise one batch read answers whether the line can be set at all (a refusal costs that
    read alone), then the cart is read and the hold written. Checked in that order, a refusal
    for a sold-out SKU is the same 409 whoever asks about whichever cart.
    """
    if quantity > 0 and sold_out.marked(sku):
        raise OutOfStock(sku, 0)
    if not is_valid_sku(sku) or not _CART_ID_RE.fullmatch(cart_id):
        raise NotFound(f"No such SKU: {sku[:64]}" if not is_valid_sku(sku) else "No such cart")
    seen = holding.look(cart_id, sku, caller.sub)
    if seen.erased:  # the route reads the tombstone in its batch (``Access.reads_tombstone``)
        raise Unauthorized("This account has been erased")
    offer = seen.offer
    if offer is None:
        raise NotFound(f"No such SKU: {sku[:64]}")
    if quantity > 0 and not offer.sellable:
        raise Conflict(f"{sku} is no longer sold; it cannot be added to a cart")
    sale = offer.flash_sale
    if sale is not None and quantity > 0:
        _may_buy_on_sale(caller.sub, sku, quantity, sale)
    stock = holding.stock_for(seen, cart_id, quantity)
    cart = _writable(cart_id, caller, cart_token)
    if sale is not None and quantity > 0:
        _may_buy_on_sale(cart.owner_sub, sku, quantity, sale)
    try:
        after = holding.set_line(cart, sku, quantity, offer.price, stock=stock, sale=sale)
    except CartError as error:
        raise _problem(error) from error
    metrics.add_metric(name="CartLineSet", unit=MetricUnit.Count, value=1)
    return cart_view(after, clock.now(), offers={sku: offer}, zones=seen.zones)


def _may_buy_on_sale(sub: str | None, sku: str, quantity: int, sale: FlashSale) -> None:
    """A live flash sale's units go to signed-in customers in their own carts (401 for a guest
    or a guest's cart), never more than the limit in one line (409 before anything is
    written; the count in the hold's transaction holds it across carts and orders)."""
    if sub is None:
        raise Unauthorized(f"Sign in to buy {sku} during its flash sale")
    if quantity > sale.per_customer_limit:
        raise PurchaseLimit(sku, sale.per_customer_limit)


def remove_item(cart_id: str, sku: str, caller: Caller, cart_token: str | None) -> CartOut:
    """Drop a line and release its hold at once; a line that is not there is already gone."""
    cart = _writable(cart_id, caller, cart_token)
    if cart.line(sku) is not None:
        holding.set_line(cart, sku, 0, None)
    return _fresh(cart_id)


def clear_items(cart_id: str, caller: Caller, cart_token: str | None) -> CartOut:
    """Empty the cart, releasing every hold (one transaction per line, each exactly once)."""
    cart = _writable(cart_id, caller, cart_token)
    for line in cart.lines:
        holding.set_line(cart, line.sku, 0, None)
    return _fresh(cart_id)


def set_shipping_address(
    cart_id: str,
    body: ShippingAddressIn | SavedAddressIn,
    caller: Caller,
    cart_token: str | None,
) -> CartOut:
    """The address as sent, or one of the cart owner's saved addresses by its id."""
    cart = _writable(cart_id, caller, cart_token)
    if isinstance(body, SavedAddressIn):
        if cart.owner_sub is None:
            raise NotFound("No such address")  # a guest cart has no address book
        parsed = owned_address(cart.owner_sub, body.address_id).address
    else:
        checked = parse_shipping_address(body.model_dump(exclude_none=True))
        if isinstance(checked, list):
            raise ValidationFailed(checked)
        parsed = checked
    if not carts.set_shipping_address(cart, parsed.to_dict(), at=now_iso(), now=clock.now()):
        raise NotFound("No such cart")
    return _fresh(cart_id)


def claim_cart(cart_id: str, caller: Caller, cart_token: str | None) -> CartOut:
    """A signed-in customer takes over the guest cart whose token they hold; a retry succeeds."""
    cart = _load(cart_id)
    outcome, _ = claim(cart.to_domain(clock.now()), caller_sub=caller.sub, cart_token=cart_token)
    if outcome is ClaimOutcome.SIGN_IN_REQUIRED:
        raise Unauthorized("Sign in to claim a cart")
    if outcome is ClaimOutcome.NOT_FOUND:
        raise NotFound("No such cart")
    if outcome is ClaimOutcome.CLAIMED and caller.sub is not None:
        if cart.checked_out:
            raise Conflict("This cart has been checked out; it can no longer change owner")
        if not carts.claim(cart, caller.sub, at=now_iso(), now=clock.now()):
            # Lost a race: fine if the winner was this same customer (a retried claim).
            current = _load(cart_id)
            if current.checked_out and current.owner_sub != caller.sub:
                raise Conflict("This cart has been checked out; it can no longer change owner")
            if current.owner_sub != caller.sub:
                raise NotFound("No such cart")
        metrics.add_metric(name="CartClaimed", unit=MetricUnit.Count, value=1)
        logger.info("cart claimed", extra={"cart_id": cart_id})
    return _fresh(cart_id)


def apply_coupon(cart_id: str, code: str, caller: Caller, cart_token: str | None) -> CartOut:
    """Add a coupon to the cart: 422 ``coupon-invalid`` with the reason when it cannot be used
    (docs/customers.md); a code already in the cart changes nothing."""

    def attempt(_: int) -> CartOut | kit.Retry:
        cart = _writable(cart_id, caller, cart_token)
        now = clock.now()
        subtotal = price(cart.to_domain(now).price_lines()).totals.subtotal
        coupon = applying.applicable(cart.coupons, code, subtotal, cart.owner_sub, now)
        if coupon.code in cart.coupons:
            return _fresh(cart_id)
        codes = [*cart.coupons, coupon.code]
        if not coupon_store.set_cart_coupons(cart, codes, at=now_iso(), now=now):
            return kit.RETRY
        metrics.add_metric(name="CouponApplied", unit=MetricUnit.Count, value=1)
        return _fresh(cart_id)

    return kit.retry_on_conflict(attempt, give_up=_kept_changing, attempts=_COUPON_ATTEMPTS)


def remove_coupon(cart_id: str, code: str, caller: Caller, cart_token: str | None) -> CartOut:
    """Take a coupon out of the cart; 404 when it is not in the cart."""
    typed = normalise_code(code)

    def attempt(_: int) -> CartOut | kit.Retry:
        cart = _writable(cart_id, caller, cart_token)
        if typed not in cart.coupons:
            raise NotFound(f"Coupon {typed[:32]} is not applied to this cart")
        codes = [c for c in cart.coupons if c != typed]
        if not coupon_store.set_cart_coupons(cart, codes, at=now_iso(), now=clock.now()):
            return kit.RETRY
        return _fresh(cart_id)

    return kit.retry_on_conflict(attempt, give_up=_kept_changing, attempts=_COUPON_ATTEMPTS)


def _kept_changing() -> Conflict:
    return Conflict("The cart kept changing; try again")
