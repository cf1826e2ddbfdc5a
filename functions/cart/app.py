"""CartFunction: carts for guests and customers, whose lines hold stock (API.md, carts)."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from commerce.carts import service
from commerce.carts.schemas import CartOut, SavedAddressIn, SetQuantityIn, ShippingAddressIn
from commerce.coupons.schemas import ApplyCouponIn
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, CartToken

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["carts"]
CartId = Annotated[str, Path(description="Cart id, as POST /carts returned it")]
Sku = Annotated[str, Path(description="SKU code")]
_ACCESS = (
    "Open to guests (send X-Cart-Token) and signed-in customers (send a bearer token); "
    "anyone else gets 404."
)


@app.post(
    "/carts",
    status_code=201,
    summary="Create a cart",
    description=(
        "An empty cart. A signed-in caller owns it; a guest gets a `cart_token`, shown only in "
        "this response, to send as X-Cart-Token on every later call."
    ),
    tags=_TAGS,
    responses=responses(201, CartOut, "The new cart", 401),
)
def create_cart(caller: Authorized) -> CartOut:
    return service.create_cart(caller)


@app.get(
    "/carts/<cart_id>",
    summary="Get a cart",
    description=f"Lines with their holds, and totals. Staff may read any cart. {_ACCESS}",
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart", 401, 404),
)
def get_cart(cart_id: CartId, caller: Authorized, cart_token: CartToken = None) -> CartOut:
    return service.get_cart(cart_id, caller, cart_token)


@app.put(
    "/carts/<cart_id>/items/<sku>",
    summary="Set a line's quantity",
    description=(
        "Sets the line to `quantity` and holds exactly that much stock for this cart until "
        "RESERVATION_TTL_SECONDS from now; 0 removes the line and releases its hold. Not enough "
        f"stock: 409 out-of-stock with `available`, and the cart is unchanged. {_ACCESS}"
    ),
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart", 400, 401, 403, 404, 409, 429),
)
def set_item(
    cart_id: CartId,
    sku: Sku,
    body: SetQuantityIn,
    caller: Authorized,
    cart_token: CartToken = None,
) -> CartOut:
    return service.set_item(cart_id, sku, body.quantity, caller, cart_token)


@app.delete(
    "/carts/<cart_id>/items/<sku>",
    summary="Remove a line",
    description=f"Removes the line and releases its hold at once. {_ACCESS}",
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart", 401, 403, 404, 429),
)
def remove_item(
    cart_id: CartId,
    sku: Sku,
    caller: Authorized,
    cart_token: CartToken = None,
) -> CartOut:
    return service.remove_item(cart_id, sku, caller, cart_token)


@app.delete(
    "/carts/<cart_id>/items",
    summary="Empty a cart",
    description=f"Removes every line and releases every hold at once. {_ACCESS}",
    tags=_TAGS,
    responses=responses(200, CartOut, "The empty cart", 401, 403, 404, 429),
)
def clear_items(cart_id: CartId, caller: Authorized, cart_token: CartToken = None) -> CartOut:
    return service.clear_items(cart_id, caller, cart_token)


@app.put(
    "/carts/<cart_id>/shipping-address",
    summary="Set the shipping address",
    description=(
        "Validated and normalised (country upper-cased, phone in E.164); every bad field is "
        'listed in one 400. Or `{"address_id"}`: an address of the cart owner\'s address book '
        "(GET /me/addresses); any other id, or a guest cart, is 404. Shipping is then priced "
        f"by the address's zone. {_ACCESS}"
    ),
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart", 400, 401, 403, 404),
)
def set_shipping_address(
    cart_id: CartId,
    body: ShippingAddressIn | SavedAddressIn,
    caller: Authorized,
    cart_token: CartToken = None,
) -> CartOut:
    return service.set_shipping_address(cart_id, body, caller, cart_token)


@app.post(
    "/carts/<cart_id>/claim",
    summary="Claim a guest cart",
    description=(
        "A signed-in customer holding the guest cart's X-Cart-Token makes the cart theirs; the "
        "token stops working. Claiming a cart that is already yours succeeds again."
    ),
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart, now the caller's", 401, 404),
)
def claim_cart(cart_id: CartId, caller: Authorized, cart_token: CartToken = None) -> CartOut:
    return service.claim_cart(cart_id, caller, cart_token)


@app.post(
    "/carts/<cart_id>/coupons",
    summary="Apply a coupon",
    description=(
        "Adds the coupon `code` (any case) to the cart; totals show its discount. Refused with "
        "422 coupon-invalid and a `reason`: unknown, inactive, not_started, expired, "
        "sign_in_required, exhausted, customer_limit, below_minimum or not_stackable. At most "
        "one money-off and one free-shipping coupon per cart; a non-stackable coupon stands "
        f"alone. Applying a code already in the cart changes nothing. {_ACCESS}"
    ),
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart", 400, 401, 403, 404, 409, 422),
)
def apply_coupon(
    cart_id: CartId,
    body: ApplyCouponIn,
    caller: Authorized,
    cart_token: CartToken = None,
) -> CartOut:
    return service.apply_coupon(cart_id, body.code, caller, cart_token)


@app.delete(
    "/carts/<cart_id>/coupons/<code>",
    summary="Remove a coupon",
    description=f"Takes the coupon out of the cart; 404 if it is not in the cart. {_ACCESS}",
    tags=_TAGS,
    responses=responses(200, CartOut, "The cart", 401, 403, 404, 409),
)
def remove_coupon(
    cart_id: CartId,
    code: Annotated[str, Path(description="Coupon code (any case)")],
    caller: Authorized,
    cart_token: CartToken = None,
) -> CartOut:
    return service.remove_coupon(cart_id, code, caller, cart_token)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
