"""OrdersFunction: checkout, order reads, cancellation, shipments and returns (API.md, orders)."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from commerce.domain.orders import OrderStatus
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, CartToken, PageLimit, PageToken
from commerce.orders import cancel, checkout, fulfilment, reading, refunds, returns, search
from commerce.orders.schemas import (
    EMAIL_PATTERN,
    OrderListOut,
    OrderOut,
    PlacedOrderOut,
    PlaceOrderIn,
    RefundIn,
    RefundOut,
    ReturnIn,
    ReturnOut,
    ShipmentIn,
)

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["orders"]
_STAFF_TAGS = ["orders", "fulfilment"]
OrderId = Annotated[str, Path(description="Order id, as POST /orders returned it")]
_ACCESS = (
    "Guests send X-Order-Token (the order_token of POST /orders) or the cart's X-Cart-Token; "
    "customers send their bearer token. Anyone else gets 404."
)

OrderToken = Annotated[
    str | None,
    Header(
        alias="X-Order-Token",
        max_length=1024,
        description="The guest's order_token from POST /orders",
    ),
]


@app.post(
    "/orders",
    status_code=202,
    summary="Check out a cart",
    description=(
        "Turns the cart's stock holds into a PENDING_PAYMENT order in one step (prices as on the "
        "cart lines; the holds stop expiring) and hands it to payment, which runs "
        "asynchronously: poll GET /orders/{order_id}. The Idempotency-Key header is required: "
        "the same key and body return the first response and create nothing; the same key with "
        "another body is 422 idempotency-key-reuse; a duplicate still being processed is 409 "
        "with Retry-After. An empty cart, a cart already checked out, or lines whose lapsed "
        "holds cannot be taken again (listed in `unavailable`) are 409. Guests send X-Cart-Token "
        "and an email, and receive an order_token. redeem_points accepts only 0 for now."
    ),
    tags=_TAGS,
    responses=responses(
        202, PlacedOrderOut, "The order, awaiting payment", 400, 401, 403, 404, 409, 422, 429
    ),
)
def place_order(
    body: PlaceOrderIn,
    caller: Authorized,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            description="Client-chosen, unique per checkout attempt; reuse it to retry safely",
        ),
    ],
    cart_token: CartToken = None,
    accept_language: Annotated[
        str | None,
        Header(
            alias="Accept-Language",
            max_length=256,
            description="The language of the order's messages (zh-CN or en; default en)",
        ),
    ] = None,
) -> PlacedOrderOut:
    return checkout.place_order(
        body, caller, cart_token, idempotency_key, app.lambda_context, accept_language
    )


@app.get(
    "/orders",
    summary="List my orders",
    description="The signed-in customer's own orders, newest first, a page at a time.",
    tags=_TAGS,
    responses=responses(200, OrderListOut, "A page of orders", 400, 401),
)
def list_orders(
    caller: Authorized,
    limit: PageLimit = None,
    next_token: PageToken = None,
) -> OrderListOut:
    return reading.list_orders(caller, limit, next_token)


@app.get(
    "/orders/<order_id>",
    summary="Get an order",
    description=(
        "Status, lines, totals, payment status and the status history. Support, ops and admin "
        "may read any order; staff and the signed-in owner also see created_at and email. "
        f"{_ACCESS}"
    ),
    tags=_TAGS,
    responses=responses(200, OrderOut, "The order", 401, 404),
)
def get_order(
    order_id: OrderId,
    caller: Authorized,
    cart_token: CartToken = None,
    order_token: OrderToken = None,
) -> OrderOut:
    return reading.get_order(order_id, caller, (order_token, cart_token))


@app.post(
    "/orders/<order_id>/cancel",
    summary="Cancel an order",
    description=(
        "Before shipment only. Awaiting payment: cancelled and its stock released at once (a "
        "payment that still goes through is refunded automatically). Paid: refunded in full and "
        "the stock returned. Shipped or later: 409. The owner (or token holder), ops and admin "
        f"may cancel; support: 403. {_ACCESS}"
    ),
    tags=_TAGS,
    responses=responses(200, OrderOut, "The cancelled order", 401, 403, 404, 409, 429),
)
def cancel_order(
    order_id: OrderId,
    caller: Authorized,
    cart_token: CartToken = None,
    order_token: OrderToken = None,
) -> OrderOut:
    return cancel.cancel_order(order_id, caller, (order_token, cart_token))


@app.post(
    "/orders/<order_id>/returns",
    status_code=201,
    summary="Request a return",
    description=(
        "Within 7 days of delivery, or 15 when `reason` is `quality` (faulty goods; `quality: "
        "<details>` works too), by lines and quantities (a later partial return may follow "
        "once the previous one is refunded). The response states the refund those lines are "
        "worth: their share of what was paid for merchandise (shipping is not refunded). "
        "Outside the window, or while another return is open: 409. Bad lines: 400 listing "
        f"every bad field. The owner or token holder only; staff: 403. {_ACCESS}"
    ),
    tags=_TAGS,
    responses=responses(201, ReturnOut, "The return, awaiting the goods", 400, 401, 403, 404, 409),
)
def request_return(
    order_id: OrderId,
    body: ReturnIn,
    caller: Authorized,
    cart_token: CartToken = None,
    order_token: OrderToken = None,
) -> ReturnOut:
    return returns.request_return(order_id, body, caller, (order_token, cart_token))


@app.get(
    "/admin/orders",
    summary="Find orders",
    description=(
        "Support's search, newest first: the orders placed with `email` (any case; guests' "
        "too), the orders in `status`, or both. One of the two is required. Served from an "
        "index (never a scan), which may lag a move by a moment: an order that has just left "
        "the status asked for is left out, so a page may hold fewer than `limit`. Roles: "
        "support, ops, admin."
    ),
    tags=_STAFF_TAGS,
    responses=responses(200, OrderListOut, "A page of orders", 400, 401, 403),
)
def find_orders(
    caller: Authorized,
    email: Annotated[
        str | None,
        Query(max_length=254, pattern=EMAIL_PATTERN, description="The order's email"),
    ] = None,
    status: Annotated[OrderStatus | None, Query(description="The order's status")] = None,
    limit: PageLimit = None,
    next_token: PageToken = None,
) -> OrderListOut:
    return search.search_orders(email, status, limit, next_token)


@app.post(
    "/admin/orders/<order_id>/shipments",
    summary="Ship an order",
    description=(
        "A PAID order is SHIPPED with its carrier and tracking number; otherwise 409. "
        "Role: ops (or admin)."
    ),
    tags=_STAFF_TAGS,
    responses=responses(200, OrderOut, "The shipped order", 400, 401, 403, 404, 409, 429),
)
def ship_order(order_id: OrderId, body: ShipmentIn, caller: Authorized) -> OrderOut:
    return fulfilment.ship_order(order_id, body, caller)


@app.post(
    "/admin/orders/<order_id>/returns/<return_id>/receive",
    summary="Receive a return",
    description=(
        "The returned goods arrived: exactly the return's refund goes back through the payment "
        "provider (once, whatever the retries), the units return to stock, the order is "
        "REFUNDED and the loyalty points the refund un-earns are taken back. Receiving a return "
        "already received changes nothing more (it only completes a points reversal left "
        "undone) and answers 200 with the order, as the first receipt did. An order not "
        "awaiting the return: 409. Role: ops (or admin)."
    ),
    tags=_STAFF_TAGS,
    responses=responses(200, OrderOut, "The refunded order", 401, 403, 404, 409, 429),
)
def receive_return(
    order_id: OrderId,
    return_id: Annotated[str, Path(description="Return id, as the return request returned it")],
    caller: Authorized,
) -> OrderOut:
    return returns.receive_return(order_id, return_id, caller)


@app.post(
    "/admin/orders/<order_id>/refunds",
    status_code=201,
    summary="Refund an order",
    description=(
        "Refunds part or all of what the order's customer paid, through the order's payment "
        "provider. Refunds of an order never add up to more than was paid: more is 409, as is "
        "an order never paid or cancelled. The Idempotency-Key header is required: the same key "
        "again answers with the same refund and refunds nothing more (and finishes a refund "
        "left `pending` when the provider could not answer); the same key with another amount "
        "or reason is 422 idempotency-key-reuse. The refund is listed on the order; the "
        "customer is notified and the loyalty points it un-earns are taken back. "
        "Role: ops (or admin)."
    ),
    tags=_STAFF_TAGS,
    responses=responses(201, RefundOut, "The refund", 400, 401, 403, 404, 409, 422, 429),
)
def refund_order(
    order_id: OrderId,
    body: RefundIn,
    caller: Authorized,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            description="Unique per refund; reuse it to retry safely",
        ),
    ],
) -> RefundOut:
    return refunds.refund_order(order_id, body, idempotency_key, staff=caller.sub)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
