"""Checkout: a cart's holds become a pending order in one transaction, once per Idempotency-Key.

Idempotency (Powertools, DynamoDB-backed on the Idempotency table) is keyed by
``sha256(caller identity + Idempotency-Key)``, the identity being the customer's ``sub`` or the
guest's cart token hash, so two callers can never collide on a key. The request body is the
validated payload: the same key with another body is 422 ``idempotency-key-reuse``; a duplicate
arriving while the first is still running is 409 ``conflict`` with ``Retry-After: 1``; a
duplicate after it finished gets the stored 202 body and creates nothing. A checkout that fails
(409, 404, ...) leaves no record, so the client may retry with the same key.

A checkout whose function died after its transaction and before Powertools stored the answer
(the client got a 502) leaves an in-progress record that expires with the invocation; the
retry then runs again and finds the cart checked out. The order id is derived from the
idempotency scope and the cart (``placed_order_id``), and a guest's order token from the cart
token (``domain.guest_tokens.order_token_for``), so the retry recognises the order as its own and
answers the same 202 (finishing the hand-off to payments if the first attempt did not),
where another key on that cart gets 409.

The placement, written by the checkout book (``orders.placing``) all or nothing, as one
TransactWriteItems call on DynamoDB:

- the order, ``attribute_not_exists`` (PENDING_PAYMENT, prices snapshotted from the lines, the
  dispatch marker set);
- each cart line whose hold is live: the hold attributes are removed, conditioned on the line's
  version and a still-live expiry. Its units stay reserved on the same shards, now owned by the
  order (``reservation``), and no longer expire: the sweeper cannot see them any more;
- each lapsed line: its stock is taken afresh (net of any stale units an unswept hold still
  keeps), ``available >= d`` on each shard; lines that cannot be made good are a 409 naming them;
- each coupon of the cart: one use consumed, conditioned on its limits, being active and in its
  window (``coupons.consumption``); redeemed points debited (``balance >= points``) with their
  ledger entry; a failed condition there is 422 ``coupon-invalid`` (or 409 for points);
- the cart header: checked out, conditioned on its version and the caller's write right, so a
  cart is checked out once and never changes again.

Any failed condition writes nothing; the cart is read again and the checkout decided afresh a
few times (a concurrent line change, a shard that moved), then answered 409.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from commerce import clock
from commerce.clock import now_iso
from commerce.coupons.consumption import CheckoutPerks
from commerce.domain.access import Reach
from commerce.domain.cart import cart_access
from commerce.domain.flash_sales import CountMove, count_moves
from commerce.domain.guest_tokens import GuestToken, hash_guest_token, order_token_for
from commerce.domain.locale import negotiate
from commerce.domain.orders import (
    ACTION_METHODS,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    new_order,
)
from commerce.domain.reservations import Refusal, plan_set, preferred_shard
from commerce.errors import (
    Conflict,
    FieldError,
    Forbidden,
    IdempotencyKeyReuse,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from commerce.http.auth import Caller
from commerce.http.schemas import totals_out
from commerce.observability import logger, metrics
from commerce.orders import charging, dispatch
from commerce.orders.book import order_book
from commerce.orders.events import publish_order_event
from commerce.orders.placing import CheckoutBook, Placement, checkout_book
from commerce.orders.schemas import PlacedOrderOut, PlaceOrderIn
from commerce.orders.views import payment_view
from commerce.settings import get_settings
from commerce.store import kit
from commerce.store import orders as store
from commerce.store.carts import StoredCart, StoredLine
from commerce.store.orders import StoredOrder

#: Whole checkouts attempted before a contended cart is answered 409.
ATTEMPTS: Final = 4
#: How long a finished checkout's response is replayed for its key.
IDEMPOTENCY_TTL_SECONDS: Final = 24 * 3600
_CART_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


class CheckoutInProgress(Conflict):
    """The same Idempotency-Key is being processed right now: 409 with ``Retry-After: 1``."""

    def __init__(self) -> None:
        super().__init__("A checkout with this Idempotency-Key is still in progress; retry shortly")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


# --- Idempotency ----------------------------------------------------------------------------

_CONFIG: Final = IdempotencyConfig(
    event_key_jmespath="scope",
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
    hash_function="sha256",
)


def idempotency_scope(identity: str, idempotency_key: str) -> str:
    """The key Powertools hashes: the caller's identity and their key, never one without the
    other (two guests choosing the same key must not see each other's order)."""
    return hashlib.sha256(f"{identity}\n{idempotency_key}".encode()).hexdigest()


@lru_cache(maxsize=1)
def _idempotent_place() -> Any:
    """``_place`` wrapped by Powertools idempotency; built on first use (it creates a client)."""
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)
    return idempotent_function(
        _place,
        data_keyword_argument="request",
        persistence_store=persistence,
        config=_CONFIG,
    )


def place_order(
    body: PlaceOrderIn,
    caller: Caller,
    cart_token: str | None,
    idempotency_key: str,
    lambda_context: LambdaContext | None = None,
    accept_language: str | None = None,
) -> PlacedOrderOut:
    """``POST /orders``: the 202 body, the same one for every retry of the same key and body."""
    if body.redeem_points and not caller.is_authenticated:
        raise ValidationFailed([FieldError("redeem_points", "sign in to redeem points")])
    if body.payment.method == PaymentMethod.CARD.value and body.payment.token is None:
        raise ValidationFailed([FieldError("payment.token", "is required to pay by card")])
    if body.payment.method != PaymentMethod.CARD.value and body.payment.token is not None:
        raise ValidationFailed(
            [FieldError("payment.token", f"is not taken for {body.payment.method}")]
        )
    if not caller.is_authenticated and body.email is None:
        raise ValidationFailed([FieldError("email", "is required for guest checkout")])
    if caller.sub is not None:
        identity = f"sub:{caller.sub}"
    elif cart_token:
        identity = f"guest:{hash_guest_token(cart_token)}"
    else:
        raise NotFound("No such cart")  # a guest without the cart's token cannot reach it
    request = {
        "scope": idempotency_scope(identity, idempotency_key),
        "body": body.model_dump(mode="json"),
        # Outside the idempotency payload check: a retry from another browser is the same order.
        "locale": negotiate(accept_language).value,
    }
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        # An in-progress record then expires with this invocation, so a crashed checkout
        # does not block its key for the whole record lifetime.
        _CONFIG.register_lambda_context(lambda_context)
    try:
        result = _idempotent_place()(request=request, caller=caller, cart_token=cart_token)
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReuse(
            "This Idempotency-Key was used with a different request body"
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise CheckoutInProgress() from error
    return PlacedOrderOut.model_validate(result)


# --- The checkout itself --------------------------------------------------------------------


@dataclass
class _Plan:
    """One attempt's decision: what the order will hold, and what lapsed lines take again."""

    reservation: dict[str, dict[int, int]] = field(default_factory=dict)
    retakes: dict[str, dict[int, int]] = field(default_factory=dict)
    unavailable: list[dict[str, Any]] = field(default_factory=list)


def placed_order_id(scope: str, cart_id: str) -> str:
    """The id of the order a checkout under idempotency ``scope`` makes of ``cart_id``: the
    same for every retry of that checkout, distinct for any other key or cart."""
    return hashlib.sha256(f"order\n{scope}\n{cart_id}".encode()).hexdigest()[:32]


def _load_cart(
    book: CheckoutBook, cart_id: str, caller: Caller, cart_token: str | None
) -> StoredCart:
    """The cart the caller may check out (checked out or not): 404 or 403 otherwise."""
    cart = book.load_cart(cart_id) if _CART_ID_RE.fullmatch(cart_id) else None
    if cart is None:
        raise NotFound("No such cart")
    access = cart_access(
        cart.to_domain(clock.now()),
        caller_sub=caller.sub,
        staff=caller.reach,
        cart_token=cart_token,
    )
    if access is Reach.NONE:
        raise NotFound("No such cart")
    if access is Reach.SEE:
        raise Forbidden("Only the cart's owner may check it out")
    return cart


def _load_writable(
    book: CheckoutBook, cart_id: str, caller: Caller, cart_token: str | None
) -> StoredCart:
    return _writable(_load_cart(book, cart_id, caller, cart_token))


def _writable(cart: StoredCart) -> StoredCart:
    """The cart, if it can be checked out: 409 when checked out, empty or selling a retired
    SKU."""
    if cart.checked_out:
        raise Conflict("This cart has already been checked out")
    if not cart.lines:
        raise Conflict("The cart is empty")
    retired = [line for line in cart.lines if not line.sellable]
    if retired:
        skus = ", ".join(line.sku for line in retired)
        raise Conflict(
            f"No longer sold: {skus}. Remove them from the cart and check out again.",
            unavailable=[
                {"sku": line.sku, "quantity": line.quantity, "available": 0} for line in retired
            ],
        )
    return cart


def _retake(book: CheckoutBook, plan: _Plan, cart: StoredCart, line: StoredLine, now: int) -> None:
    """A lapsed line's stock taken afresh (net of stale units an unswept hold still keeps)."""
    try:
        levels = book.levels(line.sku)
    except NotFound:
        plan.unavailable.append({"sku": line.sku, "quantity": line.quantity, "available": 0})
        return
    count = len(levels)
    hold = line.hold(count)
    moves = plan_set(levels, hold, line.quantity, now, preferred_shard(cart.cart_id, count))
    if isinstance(moves, Refusal):
        plan.unavailable.append(
            {"sku": line.sku, "quantity": line.quantity, "available": moves.available}
        )
        return
    before = hold.takes if hold else ()
    after: dict[int, int] = {}
    for shard, delta in enumerate(moves.deltas):
        if delta:
            plan.retakes.setdefault(line.sku, {})[shard] = delta
        units = (before[shard] if shard < len(before) else 0) + delta
        if units:
            after[shard] = units
    plan.reservation[line.sku] = after


def _plan(book: CheckoutBook, cart: StoredCart, now: int) -> _Plan:
    plan = _Plan()
    for line in cart.lines:
        if line.reserved_until(now) is not None:
            plan.reservation[line.sku] = dict(line.takes)
        else:
            _retake(book, plan, cart, line, now)
    return plan


def _sale_counts(cart: StoredCart, sub: str | None) -> dict[str, tuple[CountMove, ...]]:
    """Per line of a SKU on a live flash sale, the units the order adds to its customer's count
    (what a lapsed line takes afresh; a live hold counted its units already). A guest cannot
    buy during a sale (401). Counts a line kept for a sale that has ended stay as they are: the
    order is not of that sale, and its count no longer limits anything."""
    counts: dict[str, tuple[CountMove, ...]] = {}
    for line in cart.lines:
        if line.sale_now is None:
            continue
        if sub is None:
            raise Unauthorized(f"Sign in to buy {line.sku} during its flash sale")
        _, moves = count_moves(line.counted, line.sale_now, sub, line.quantity)
        growing = tuple(move for move in moves if move.units > 0)
        if growing:
            counts[line.sku] = growing
    return counts


def _unavailable(lines: list[dict[str, Any]]) -> Conflict:
    skus = ", ".join(str(line["sku"]) for line in lines)
    return Conflict(
        f"These lines' holds lapsed and their stock cannot be held again: {skus}. "
        "Change their quantities and check out again.",
        unavailable=lines,
    )


def _order(
    cart: StoredCart,
    body: PlaceOrderIn,
    caller: Caller,
    cart_token: str | None,
    order_id: str,
    plan: tuple[dict[str, dict[int, int]], str, int, CheckoutPerks],
) -> tuple[StoredOrder, str | None]:
    """The new order and, for a guest, its order token (shown in the 202)."""
    reservation, at, now, perks = plan
    domain = cart.to_domain(now)
    token = _order_token(caller, cart_token, order_id)
    email = body.email or caller.email
    if not email:
        raise ValidationFailed([FieldError("email", "is required: the account has no email")])
    order = new_order(
        order_id,
        email=email,
        lines=tuple(OrderLine(line.sku, line.quantity, line.unit_price) for line in cart.lines),
        totals=perks.totals,
        created_at=store.epoch_of(at),
        method=body.payment.method,
        shipping_address=domain.shipping_address,
        owner=caller.sub,
        cart_token_hash=None if caller.is_authenticated else cart.token_hash,
        order_token_hash=token.token_hash if token else None,
    )
    stored = StoredOrder(
        order=order,
        reservation=reservation,
        payment_token=body.payment.token,
        cart_id=cart.cart_id,
        created_at=at,
        dispatch_pending=True,
    )
    return stored, token.token if token else None


def _order_token(caller: Caller, cart_token: str | None, order_id: str) -> GuestToken | None:
    if caller.is_authenticated or not cart_token:
        return None
    return order_token_for(cart_token, order_id)


def place(
    body: PlaceOrderIn,
    caller: Caller,
    cart_token: str | None,
    *,
    locale: str | None = None,
    book: CheckoutBook | None = None,
    scope: str | None = None,
) -> dict[str, Any]:
    """One checkout of ``body.cart_id``: the 202 body as a JSON-ready dict.

    Read the cart, decide, write one placement; if anything read changed before the write,
    decide again on a fresh read (a few times, then 409). With the idempotency ``scope`` the
    order's id is ``placed_order_id(scope, cart)``, and a cart already checked out into that
    very order is answered as its first checkout was.
    """
    books = book or checkout_book()

    def attempt(n: int) -> dict[str, Any] | kit.Retry:
        cart = _load_cart(books, body.cart_id, caller, cart_token)
        order_id = placed_order_id(scope, cart.cart_id) if scope else uuid.uuid4().hex
        if cart.checked_out and cart.order_id == order_id:
            return _replayed(order_id, caller, cart_token)
        cart = _writable(cart)
        now, at = clock.now(), now_iso()
        plan = _plan(books, cart, now)
        if plan.unavailable:
            raise _unavailable(plan.unavailable)
        counts = _sale_counts(cart, caller.sub)
        perks = books.perks(cart, caller.sub, body.redeem_points, now)
        decided = (plan.reservation, at, now, perks)
        stored, order_token = _order(cart, body, caller, cart_token, order_id, decided)
        stored = replace(stored, locale=locale)
        placement = Placement(stored, cart, plan.retakes, perks, caller.sub, now=now, at=at)
        raced = books.place(replace(placement, counts=counts))
        if raced is None:
            return _placed(stored, order_token)
        logger.info("checkout raced; retrying", extra={"attempt": n, "failed": raced.labels})
        return kit.RETRY

    def gave_up() -> Conflict:
        _load_writable(books, body.cart_id, caller, cart_token)  # checked out meanwhile: say so
        return Conflict("The cart kept changing during checkout; review it and try again")

    return kit.retry_on_conflict(attempt, give_up=gave_up, attempts=ATTEMPTS)


def _place(request: dict[str, Any], caller: Caller, cart_token: str | None) -> dict[str, Any]:
    """One checkout under idempotency (the request as Powertools hashed it)."""
    body = PlaceOrderIn.model_validate(request["body"])
    return place(
        body, caller, cart_token, locale=request.get("locale"), scope=str(request["scope"])
    )


def _placed(stored: StoredOrder, order_token: str | None) -> dict[str, Any]:
    order = stored.order
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
    logger.info("order placed", extra={"order_id": order.order_id, "guest": order.is_guest})
    dispatch.send_payment_message(order.order_id)
    publish_order_event(stored)
    return _answer(stored, order_token)


def _replayed(order_id: str, caller: Caller, cart_token: str | None) -> dict[str, Any]:
    """The 202 of a checkout that placed ``order_id`` and died before answering: the same body,
    and the hand-off to payments finished if the first attempt did not finish it (both sends
    are idempotent: the consumer charges once per order, the event id is stable)."""
    stored = order_book().load(order_id)
    if stored is None:  # pragma: no cover - a checked-out cart's order is never deleted
        raise NotFound("No such order")
    logger.info("checkout retried after its order was placed", extra={"order_id": order_id})
    if stored.dispatch_pending:
        dispatch.send_payment_message(order_id)
        publish_order_event(stored)
    token = _order_token(caller, cart_token, order_id)
    return _answer(stored, token.token if token else None)


def _answer(stored: StoredOrder, order_token: str | None) -> dict[str, Any]:
    """The 202 body of a placed order."""
    order = stored.order
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "totals": totals_out(order.totals).model_dump(mode="json"),
    }
    if order_token is not None:
        body["order_token"] = order_token
    if order.payment.method in ACTION_METHODS:
        # The customer pays at the provider: begin now so the answer carries the redirect or
        # the QR code (a provider outage leaves it to the queue; the client polls the order).
        payment = order.payment
        if payment.next_action is None:
            payment = replace(payment, next_action=charging.begin_payment(order.order_id))
        body["payment"] = payment_view(payment).model_dump(mode="json")
    return body
