"""Order storage: the order item, its returns, and the writes that move an order on.

Layout (OrdersTable, keys in ``keys.py``):

- order: pk=ORDER#{order_id}, sk=ORDER. ``status``, ``version`` (+1 per write), ``owner_sub`` or
  the guest token hashes (``cart_token_hash`` copied from the cart, ``order_token_hash``),
  ``email``, ``lines``, ``totals``, ``shipping_address``, ``payment`` {method, status,
  charge_id?, decline_code?, refunded}, ``payment_token`` (a provider token, never card data),
  ``reservation`` {sku: {shard: units}} (the stock the order holds while pending and committed
  once paid, per shard, so a commit, release or restock touches exactly those shards),
  ``history`` [{status, at}], ``created_at`` / ``updated_at`` (ISO 8601, microseconds),
  ``cart_id``, and after fulfilment ``carrier``, ``tracking_number``, ``delivered_at``.
  gsi1 (signed-in only): CUSTOMER#{sub} / {created_at}#{order_id}, a customer's orders newest
  first. gsi2 (sparse): DISPATCH#{bucket} / {created_at} while the payment message has not been
  confirmed sent; the reconciler resends what it finds there.
- return: pk=ORDER#{order_id}, sk=RETURN#{return_id} (``ReturnModel``). From its receipt until
  the points its refund un-earns are taken back it carries ``reversal_points``/``reversal_at``
  and the sparse gsi2 keys REVERSALS / {received_at} (:func:`pending_reversals`).

Every move of an order is a conditional write on the version and status it was read at
(:func:`order_transition_update`), added to a ``LabelledTransaction`` beside the stock updates
the move obliges (:func:`deduct_stock`, :func:`release_stock`, :func:`restock`), so the status and
the stock change together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce import clock
from commerce.domain.money import Money
from commerce.domain.orders import (
    Advance,
    NextAction,
    NextActionType,
    Order,
    OrderHistoryEntry,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    RefundRecord,
    RefundStatus,
)
from commerce.domain.pricing import Totals
from commerce.domain.privacy import (
    ORDER_PLACEHOLDERS,
    anonymise_order_fields,
    closes_for_erasure,
    is_anonymised,
)
from commerce.domain.returns import Return, ReturnLine
from commerce.domain.shipping_address import ShippingAddress
from commerce.domain.tracking import TrackingEvent, TrackingStatus
from commerce.store import keys, kit, stock_moves
from commerce.store.tables.attributes import MoneyMap
from commerce.store.tables.attributes import plain as _plain
from commerce.store.tables.orders import OrderEmailModel, OrderModel, ReturnModel
from commerce.store.transactions import LabelledTransaction

#: The label of the order item in every transaction built here.
ORDER_LABEL: Final = "order"

#: Units per shard of each SKU: ``{sku: {shard: units}}``.
Reservation = Mapping[str, Mapping[int, int]]


def stock_label(sku: str, shard: int) -> str:
    """The transaction label of one SKU's shard, so a failure names the SKU."""
    return f"stock:{sku}:{shard}"


def sku_of_label(label: str) -> str | None:
    """The SKU a :func:`stock_label` names (None for any other label)."""
    if not label.startswith("stock:"):
        return None
    return label[len("stock:") :].rsplit(":", 1)[0]


def epoch_of(iso_us: str) -> int:
    """Whole epoch seconds of a stored ``created_at`` (ISO 8601 with microseconds)."""
    return clock.epoch(iso_us)


@dataclass(frozen=True)
class StoredOrder:
    """An order as stored: the domain ``Order`` plus what only the store and payments need.

    ``order.version`` is the version it was read at (the condition of the next write);
    ``order.payment.charge_id`` the provider's charge once approved.
    """

    order: Order
    reservation: Reservation = field(default_factory=dict)
    payment_token: str | None = None
    cart_id: str | None = None
    created_at: str = ""
    carrier: str | None = None
    tracking_number: str | None = None
    dispatch_pending: bool = False
    #: The carrier's event that reported the delivery (a redelivered webhook changes nothing).
    carrier_event_id: str | None = None
    #: The language the customer checked out in (from Accept-Language), for their messages.
    locale: str | None = None
    #: The carrier's events for the shipment, in the order they happened.
    tracking: tuple[TrackingEvent, ...] = ()
    #: Its customer asked to be erased while it was open: the move that closes it anonymises it.
    erase_on_close: bool = False

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def status(self) -> OrderStatus:
        return self.order.status

    @property
    def version(self) -> int:
        return self.order.version


# --- Serialising ----------------------------------------------------------------------------


def _money(raw: Any) -> Money:
    data = _plain(raw)
    return Money(int(data["amount"]), str(data["currency"]))


def payment_map(payment: Payment) -> dict[str, Any]:
    """The stored form of a payment (charge ids included: they stay inside)."""
    stored: dict[str, Any] = {
        "method": str(payment.method),
        "status": payment.status.value,
        "refunded": payment.refunded.to_dict(),
    }
    if payment.charge_id is not None:
        stored["charge_id"] = payment.charge_id
    if payment.decline_code is not None:
        stored["decline_code"] = payment.decline_code
    if payment.next_action is not None:
        stored["next_action"] = payment.next_action.to_dict()
    return stored


def _next_action(raw: Any) -> NextAction | None:
    if not raw:
        return None
    return NextAction(
        NextActionType(str(raw["type"])), url=raw.get("url"), code_url=raw.get("code_url")
    )


def _payment(raw: Any) -> Payment:
    data = _plain(raw) or {}
    return Payment(
        method=str(data.get("method", "card")),
        status=PaymentStatus(str(data.get("status", PaymentStatus.PENDING.value))),
        charge_id=data.get("charge_id"),
        decline_code=data.get("decline_code"),
        refunded=_money(data["refunded"]) if data.get("refunded") else Money.zero(),
        next_action=_next_action(data.get("next_action")),
    )


def refunds_list(refunds: Iterable[RefundRecord]) -> list[dict[str, Any]]:
    """The stored form of an order's refunds (times in epoch seconds, as ``history``)."""
    stored: list[dict[str, Any]] = []
    for refund in refunds:
        item: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "amount": refund.amount.to_dict(),
            "status": refund.status.value,
            "at": refund.at,
            "reason": refund.reason,
            "points_due": refund.points_due,
        }
        if refund.provider_refund_id is not None:
            item["provider_refund_id"] = refund.provider_refund_id
        stored.append(item)
    return stored


def _refunds(raw: Any) -> tuple[RefundRecord, ...]:
    return tuple(
        RefundRecord(
            refund_id=str(item["refund_id"]),
            amount=_money(item["amount"]),
            status=RefundStatus(str(item["status"])),
            at=int(item["at"]),
            reason=str(item.get("reason") or ""),
            provider_refund_id=item.get("provider_refund_id"),
            points_due=int(item.get("points_due") or 0),
        )
        for item in _plain(raw) or []
    )


def history_list(history: Iterable[OrderHistoryEntry]) -> list[dict[str, Any]]:
    return [{"status": entry.status.value, "at": entry.at} for entry in history]


def _totals(raw: Any) -> Totals:
    data = _plain(raw)
    return Totals(
        subtotal=_money(data["subtotal"]),
        discount=_money(data["discount"]),
        shipping=_money(data["shipping"]),
        points_redeemed=_money(data["points_redeemed"]),
        total=_money(data["total"]),
    )


def reservation_map(reservation: Reservation) -> dict[str, dict[str, int]]:
    """``{sku: {"shard": units}}`` with empty entries dropped (DynamoDB map keys are strings)."""
    return {
        sku: {str(shard): int(units) for shard, units in shards.items() if units}
        for sku, shards in reservation.items()
        if any(shards.values())
    }


def _reservation(raw: Any) -> dict[str, dict[int, int]]:
    data = _plain(raw) or {}
    return {
        str(sku): {int(shard): int(units) for shard, units in shards.items() if int(units)}
        for sku, shards in data.items()
    }


def tracking_list(trail: Iterable[TrackingEvent]) -> list[dict[str, Any]]:
    """The stored form of a tracking trail (event ids kept: they make a resend a no-op)."""
    stored: list[dict[str, Any]] = []
    for event in trail:
        entry: dict[str, Any] = {"event_id": event.event_id, "status": event.status.value}
        entry["at"] = event.at
        if event.location:
            entry["location"] = event.location
        stored.append(entry)
    return stored


def _tracking(raw: Any) -> tuple[TrackingEvent, ...]:
    return tuple(
        TrackingEvent(
            str(entry["event_id"]),
            TrackingStatus(str(entry["status"])),
            int(entry["at"]),
            str(entry["location"]) if entry.get("location") else None,
        )
        for entry in _plain(raw) or []
    )


def from_model(model: OrderModel) -> StoredOrder:
    """An order as read from the table or an index."""
    address = _plain(model.shipping_address)
    history = tuple(
        OrderHistoryEntry(OrderStatus(str(entry["status"])), int(entry["at"]))
        for entry in _plain(model.history) or []
    )
    lines = tuple(
        OrderLine(str(line["sku"]), int(line["quantity"]), _money(line["unit_price"]))
        for line in _plain(model.lines) or []
    )
    order = Order(
        order_id=model.order_id,
        email=model.email,
        lines=lines,
        totals=_totals(model.totals),
        status=OrderStatus(model.status),
        history=history,
        created_at=epoch_of(model.created_at),
        payment=_payment(model.payment),
        shipping_address=ShippingAddress(**address) if address else None,
        owner=model.owner_sub,
        cart_token_hash=model.cart_token_hash,
        order_token_hash=model.order_token_hash,
        version=int(model.version),
        refunds=_refunds(model.refunds),
    )
    return StoredOrder(
        order=order,
        reservation=_reservation(model.reservation),
        payment_token=model.payment_token,
        cart_id=model.cart_id,
        created_at=model.created_at,
        carrier=model.carrier,
        tracking_number=model.tracking_number,
        dispatch_pending=model.gsi2pk is not None,
        carrier_event_id=model.carrier_event_id,
        tracking=_tracking(model.tracking),
        erase_on_close=bool(model.erase_on_close),
    )


def _row(order_id: str) -> OrderModel:
    return OrderModel(keys.order_pk(order_id), keys.ORDER_SK)


# --- Reading --------------------------------------------------------------------------------


def load_order(order_id: str, consistent: bool = True) -> StoredOrder | None:
    """The order, or None when there is none with this id."""
    try:
        model = OrderModel.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=consistent)
    except OrderModel.DoesNotExist:
        return None
    return from_model(model)


@dataclass(frozen=True)
class OrderPage:
    """One page of a customer's orders, newest first; ``last_key`` starts the next page."""

    orders: tuple[StoredOrder, ...]
    last_key: dict[str, Any] | None


#: The attributes DynamoDB returns as the last key of a gsi1 query (for page tokens).
CUSTOMER_ORDERS_PAGE_KEYS: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


def customer_orders(sub: str, limit: int, start_key: dict[str, Any] | None) -> OrderPage:
    """Up to ``limit`` of the customer's orders from ``start_key`` on, newest first (gsi1)."""
    result = OrderModel.gsi1.query(
        keys.customer_orders_gsi1pk(sub),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start_key,
        page_size=limit,
    )
    orders = tuple(from_model(model) for model in result)
    return OrderPage(orders, result.last_evaluated_key)


def each_customer_order(sub: str, page_size: int = 100) -> Iterator[StoredOrder]:
    """Every order in the customer's index, newest first, read a page at a time as consumed
    (a caller that stops early reads no further pages)."""
    start: dict[str, Any] | None = None
    while True:
        page = customer_orders(sub, page_size, start)
        yield from page.orders
        if page.last_key is None:
            return
        start = page.last_key


# --- Support's search (gsi3) -------------------------------------------------------------------

#: A status bucket's cursor before its first page (above every sort key) and once it is read
#: to the end (below every sort key): sort keys start with a digit of the year.
FROM_THE_TOP: Final = "~"
READ_TO_THE_END: Final = "!"
#: The attributes DynamoDB returns as the last key of a gsi3 query (for page tokens).
SEARCH_PAGE_KEYS: Final = ("pk", "sk", "gsi3pk", "gsi3sk")


def _order_id_of(pk: str) -> str:
    return pk.removeprefix("ORDER#")


def _read_orders(order_ids: Sequence[str]) -> list[StoredOrder]:
    """The orders, read by key in one batch, in the order asked (missing ones left out)."""
    if not order_ids:
        return []
    found = {
        model.order_id: from_model(model)
        for model in OrderModel.batch_get(
            [(keys.order_pk(order_id), keys.ORDER_SK) for order_id in order_ids],
            consistent_read=True,
        )
    }
    return [found[order_id] for order_id in order_ids if order_id in found]


@dataclass(frozen=True)
class StatusPage:
    """One page of the orders in a status, newest first; ``cursors`` (one per bucket) start
    the next page, None when every bucket is read to the end."""

    orders: tuple[StoredOrder, ...]
    cursors: dict[int, str] | None


def orders_with_status(
    status: OrderStatus, limit: int, cursors: Mapping[int, str] | None
) -> StatusPage:
    """Up to ``limit`` orders in ``status``, newest first, from ``cursors`` on.

    The status index is spread over ``ORDER_STATUS_BUCKETS`` partitions: each bucket is queried
    below its cursor for ``limit + 1`` keys (the one more tells whether it has more), the newest
    ``limit`` of them all make the page, and each bucket's cursor moves to the last of its keys
    taken; a bucket read to its end is not queried again. The index is eventually consistent and
    holds only keys; the orders are then read by key, and one that has moved on since is left
    out (the page may hold fewer than ``limit``).
    """
    below = (
        dict(cursors) if cursors else dict.fromkeys(range(keys.ORDER_STATUS_BUCKETS), FROM_THE_TOP)
    )
    found: list[tuple[str, int, str]] = []
    exhausted: set[int] = set()
    for bucket, cursor in sorted(below.items()):
        if cursor == READ_TO_THE_END:
            exhausted.add(bucket)
            continue
        rows = list(
            OrderModel.gsi3.query(
                keys.order_status_gsi3pk(status.value, bucket),
                OrderModel.gsi3sk < cursor,
                scan_index_forward=False,
                limit=limit + 1,
                page_size=limit + 1,
            )
        )
        found += [(row.gsi3sk, bucket, _order_id_of(row.pk)) for row in rows]
        if len(rows) <= limit:  # one more than a page was asked for: this is all there is
            exhausted.add(bucket)
    found.sort(reverse=True)
    taken = found[:limit]
    following = dict(below)
    for bucket in below:
        mine = [sort_key for sort_key, b, _ in taken if b == bucket]
        left = [sort_key for sort_key, b, _ in found[limit:] if b == bucket]
        if mine:
            following[bucket] = mine[-1]
        if bucket in exhausted and not left:
            following[bucket] = READ_TO_THE_END
    done = all(cursor == READ_TO_THE_END for cursor in following.values())
    orders = [o for o in _read_orders([order_id for _, _, order_id in taken]) if o.status is status]
    return StatusPage(tuple(orders), None if done else following)


@dataclass(frozen=True)
class EmailPage:
    """One page of the orders placed with an email, newest first; ``last_key`` starts the next."""

    orders: tuple[StoredOrder, ...]
    last_key: dict[str, Any] | None


def orders_with_email(email: str, limit: int, start: dict[str, Any] | None) -> EmailPage:
    """Up to ``limit`` orders placed with ``email`` (any spelling of its case), newest first."""
    result = OrderEmailModel.gsi3.query(
        keys.order_email_gsi3pk(email),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
        page_size=limit,
    )
    order_ids = [_order_id_of(row.pk) for row in result]
    return EmailPage(tuple(_read_orders(order_ids)), result.last_evaluated_key)


# --- Writing a new order (checkout) ----------------------------------------------------------


def new_order_item(
    stored: StoredOrder, *, updated_at: str, dispatch_pending: bool = True
) -> OrderModel:
    """The item of a freshly placed order, with its gsi1 (signed-in) and gsi2 (dispatch) keys."""
    order = stored.order
    item = OrderModel(
        keys.order_pk(order.order_id),
        keys.ORDER_SK,
        order_id=order.order_id,
        status=order.status.value,
        version=order.version,
        owner_sub=order.owner,
        locale=stored.locale,
        cart_token_hash=order.cart_token_hash,
        order_token_hash=order.order_token_hash,
        email=order.email,
        lines=[line.to_dict() for line in order.lines],
        totals=order.totals.to_dict(),
        shipping_address=order.shipping_address.to_dict() if order.shipping_address else None,
        payment=payment_map(order.payment),
        payment_token=stored.payment_token,
        reservation=reservation_map(stored.reservation),
        history=history_list(order.history),
        created_at=stored.created_at,
        updated_at=updated_at,
        cart_id=stored.cart_id,
    )
    if order.owner is not None:
        item.gsi1pk = keys.customer_orders_gsi1pk(order.owner)
        item.gsi1sk = keys.customer_orders_gsi1sk(stored.created_at, order.order_id)
    if dispatch_pending:
        item.gsi2pk = keys.dispatch_gsi2pk(keys.dispatch_bucket(order.order_id))
        item.gsi2sk = stored.created_at
    item.gsi3pk = status_gsi3pk(order.order_id, order.status)
    item.gsi3sk = keys.order_search_gsi3sk(stored.created_at, order.order_id)
    return item


def status_gsi3pk(order_id: str, status: OrderStatus) -> str:
    """The order's partition in the status index (gsi3)."""
    return keys.order_status_gsi3pk(status.value, keys.order_status_bucket(order_id))


def put_new_order(tx: LabelledTransaction, stored: StoredOrder, *, updated_at: str) -> None:
    """Add to ``tx``: the new order, if no order has its id (label ``order``), and its entry
    under its email in the search index (label ``order_email``)."""
    tx.put(
        ORDER_LABEL, new_order_item(stored, updated_at=updated_at), OrderModel.pk.does_not_exist()
    )
    order = stored.order
    entry = OrderEmailModel(
        keys.order_pk(order.order_id),
        keys.ORDER_EMAIL_SK,
        order_id=order.order_id,
        gsi3pk=keys.order_email_gsi3pk(order.email),
        gsi3sk=keys.order_search_gsi3sk(stored.created_at, order.order_id),
    )
    tx.put("order_email", entry)


# --- Moving an order on ----------------------------------------------------------------------


def order_transition_update(
    tx: LabelledTransaction,
    stored: StoredOrder,
    advance: Advance,
    extra_actions: Sequence[Action] = (),
    *,
    at: str | None = None,
) -> None:
    """Add to ``tx`` the write of ``advance`` (from ``commerce.domain.orders.advance``).

    Sets ``status``, ``history``, ``payment`` (the whole map, from ``advance.order.payment``: to
    record a charge, pass an advance whose order carries it, e.g.
    ``replace(adv, order=replace(adv.order, payment=adv.order.payment.approved(charge_id)))``),
    ``version`` (to ``advance.order.version``) and ``updated_at``, plus ``extra_actions`` (e.g.
    ``OrderModel.carrier.set(...)``). Condition: ``version = :read AND status = :from``, so of
    two racing moves exactly one is written. Labelled ``order``: a ``ConditionalCheckFailed``
    on that label means the order moved on meanwhile; re-read and decide again.
    """
    order = advance.order
    actions: list[Action] = [
        OrderModel.status.set(order.status.value),
        OrderModel.history.set(history_list(order.history)),
        OrderModel.payment.set(payment_map(order.payment)),
        OrderModel.version.set(order.version),
        OrderModel.updated_at.set(at or clock.now_iso()),
        *extra_actions,
    ]
    if order.refunds or stored.order.refunds:
        actions.append(OrderModel.refunds.set(refunds_list(order.refunds)))
    if advance.changed_status:
        # The status index follows the status; its sort key goes back to the creation time (a
        # pending order may have been relisted further on: ``relist_unpaid``).
        actions += [
            OrderModel.gsi3pk.set(status_gsi3pk(order.order_id, order.status)),
            OrderModel.gsi3sk.set(keys.order_search_gsi3sk(stored.created_at, order.order_id)),
        ]
    condition: Condition = (OrderModel.version == stored.version) & (
        OrderModel.status == advance.previous.value
    )
    tx.update(ORDER_LABEL, _row(stored.order_id), actions, condition)


def shipment_actions(carrier: str, tracking_number: str) -> list[Action]:
    """The attributes a SHIP move sets beside the transition."""
    return [OrderModel.carrier.set(carrier), OrderModel.tracking_number.set(tracking_number)]


def delivery_actions(at: int, carrier_event_id: str) -> list[Action]:
    """The attributes a DELIVER move sets: when, and the carrier event that reported it."""
    return [OrderModel.delivered_at.set(at), OrderModel.carrier_event_id.set(carrier_event_id)]


def tracking_actions(trail: Iterable[TrackingEvent]) -> list[Action]:
    """The attribute a carrier event's move sets: the whole trail, the event in its place (the
    move is conditioned on the order's version, so no concurrent event is lost)."""
    return [OrderModel.tracking.set(tracking_list(trail))]


def _each_unit(reservation: Reservation) -> Iterator[tuple[str, int, int]]:
    for sku, shards in sorted(reservation.items()):
        for shard, units in sorted(shards.items()):
            if units:
                yield sku, shard, units


def deduct_stock(tx: LabelledTransaction, reservation: Reservation) -> None:
    """Add to ``tx``: the reserved units leave stock on each shard (on_hand -= u, reserved -= u,
    CONDITION reserved >= u). The PAID write's companion. Labels: :func:`stock_label`."""
    for sku, shard, units in _each_unit(reservation):
        stock_moves.deduct(tx, sku, shard, units, label=stock_label(sku, shard))


def release_stock(tx: LabelledTransaction, reservation: Reservation) -> None:
    """Add to ``tx``: the reserved units are given back on each shard (reserved -= u,
    available += u, CONDITION reserved >= u). For PAYMENT_FAILED and a pending cancel."""
    for sku, shard, units in _each_unit(reservation):
        stock_moves.release(tx, sku, shard, units, label=stock_label(sku, shard))


def restock(tx: LabelledTransaction, units: Reservation) -> None:
    """Add to ``tx``: committed units return to ``on_hand`` on each shard (a paid order
    cancelled, or a return received)."""
    for sku, shard, count in _each_unit(units):
        stock_moves.restock(tx, sku, shard, count, label=stock_label(sku, shard))


def spread_over(
    reservation: Reservation, quantities: Mapping[str, int]
) -> dict[str, dict[int, int]]:
    """``quantities`` per SKU laid over the shards of ``reservation``, lowest shard first.

    Returned units go back to the shards they were committed from, so no shard's ``on_hand``
    grows past what it once had.
    """
    spread: dict[str, dict[int, int]] = {}
    for sku, wanted in quantities.items():
        left = wanted
        shards = reservation.get(sku) or {0: wanted}
        for shard, units in sorted(shards.items()):
            part = min(left, units)
            if part:
                spread.setdefault(sku, {})[shard] = part
                left -= part
        if left:
            first = min(shards) if shards else 0
            spread.setdefault(sku, {})[first] = spread.get(sku, {}).get(first, 0) + left
    return spread


# --- The dispatch marker (gsi2) --------------------------------------------------------------


def clear_dispatch_marker(order_id: str) -> bool:
    """Remove the order from the dispatch index once its payment message was sent.

    Best effort: False when the marker was already gone (another sender got there first).
    """
    return kit.applied(
        lambda: _row(order_id).update(
            [OrderModel.gsi2pk.remove(), OrderModel.gsi2sk.remove()],
            condition=OrderModel.gsi2pk.exists(),
        )
    )


def unpaid(bucket: int, listed_before: str, page_size: int = 100) -> Iterator[str]:
    """Ids of the orders of one status bucket that the status index (gsi3) still lists as
    PENDING_PAYMENT before ``listed_before``: their creation time, until :func:`relist_unpaid`
    moves them on. Keys only and eventually consistent: every move made on one is decided on a
    fresh read, conditioned on the order's version and status."""
    rows = OrderModel.gsi3.query(
        keys.order_status_gsi3pk(OrderStatus.PENDING_PAYMENT.value, bucket),
        OrderModel.gsi3sk < listed_before,
        page_size=page_size,
    )
    for row in rows:
        yield row.pk.removeprefix(keys.order_pk(""))


def relist_unpaid(order_id: str, listed_at: str) -> bool:
    """Move a pending order's place in the status index to ``listed_at`` (ISO 8601), so the
    payment sweep does not look at it before then (support's list of pending orders shows it
    there too). Leaves ``version`` alone, like the charge-attempt mark; False when the order
    is no longer pending."""
    return kit.applied(
        lambda: _row(order_id).update(
            [OrderModel.gsi3sk.set(keys.order_search_gsi3sk(listed_at, order_id))],
            condition=(OrderModel.status == OrderStatus.PENDING_PAYMENT.value)
            & OrderModel.gsi3pk.exists(),
        )
    )


def undispatched(bucket: int, created_before: str, page_size: int = 100) -> Iterator[StoredOrder]:
    """Orders of one dispatch bucket still marked as not sent, created before ``created_before``.

    The index is eventually consistent; a resend is harmless (charging and the
    provider are idempotent by order), so no condition is needed to act on what is found.
    """
    rows = OrderModel.gsi2.query(
        keys.dispatch_gsi2pk(bucket),
        OrderModel.gsi2sk < created_before,
        page_size=page_size,
    )
    for row in rows:
        yield from_model(row)


# --- Returns --------------------------------------------------------------------------------

RETURN_REQUESTED: Final = "REQUESTED"
RETURN_RECEIVED: Final = "RECEIVED"
#: The label of the return item in a points reversal's transaction.
REVERSAL_LABEL: Final = "reversal"


@dataclass(frozen=True)
class PendingReversal:
    """Points a received return's refund un-earns, decided at the receipt and kept on the
    return until taken back, so that whoever writes the reversal (the receipt itself, a retry
    of it, the sweeper) writes the same one: ``points`` due, ledger time ``at`` (epoch s)."""

    points: int
    at: int


@dataclass(frozen=True)
class StoredReturn:
    """A return as stored: the domain ``Return``, its status and, once refunded, the refund id."""

    order_id: str
    value: Return
    status: str
    created_at: str
    received_at: str | None = None
    refund_id: str | None = None
    reversal: PendingReversal | None = None


def _return_from_model(model: ReturnModel) -> StoredReturn:
    lines = tuple(
        ReturnLine(str(line["sku"]), int(line["quantity"])) for line in _plain(model.lines) or []
    )
    value = Return(
        return_id=model.return_id,
        lines=lines,
        reason=model.reason or "",
        refund=Money(int(model.refund.amount), model.refund.currency),
        requested_at=int(model.requested_at),
    )
    return StoredReturn(
        order_id=model.order_id,
        value=value,
        status=model.status,
        created_at=model.created_at,
        received_at=model.received_at,
        refund_id=model.refund_id,
        reversal=(
            PendingReversal(int(model.reversal_points), int(model.reversal_at or 0))
            if model.reversal_points is not None
            else None
        ),
    )


def load_returns(order_id: str) -> list[StoredReturn]:
    """Every return of the order, read consistently, oldest first by id."""
    rows = ReturnModel.query(
        keys.order_pk(order_id),
        ReturnModel.sk.startswith(keys.RETURN_SK_PREFIX),
        consistent_read=True,
    )
    found = [_return_from_model(row) for row in rows]
    return sorted(found, key=lambda r: (r.value.requested_at, r.created_at))


def load_return(order_id: str, return_id: str) -> StoredReturn | None:
    try:
        row = ReturnModel.get(
            keys.order_pk(order_id), keys.return_sk(return_id), consistent_read=True
        )
    except ReturnModel.DoesNotExist:
        return None
    return _return_from_model(row)


def put_return(tx: LabelledTransaction, order_id: str, value: Return, *, at: str) -> None:
    """Add to ``tx``: a new return of the order (label ``return``), if its id is new."""
    item = ReturnModel(
        keys.order_pk(order_id),
        keys.return_sk(value.return_id),
        order_id=order_id,
        return_id=value.return_id,
        lines=[{"sku": line.sku, "quantity": line.quantity} for line in value.lines],
        reason=value.reason,
        refund=MoneyMap(  # type: ignore[no-untyped-call]
            amount=value.refund.amount, currency=value.refund.currency
        ),
        status=RETURN_REQUESTED,
        requested_at=value.requested_at,
        created_at=at,
    )
    tx.put("return", item, ReturnModel.pk.does_not_exist())


def mark_return_received(
    tx: LabelledTransaction,
    order_id: str,
    return_id: str,
    *,
    refund_id: str,
    at: str,
    reversal: PendingReversal | None = None,
) -> None:
    """Add to ``tx``: the return was received and refunded (label ``return``), once; with
    ``reversal``, marked as owing that points reversal until :func:`clear_reversal`."""
    row = ReturnModel(keys.order_pk(order_id), keys.return_sk(return_id))
    actions: list[Action] = [
        ReturnModel.status.set(RETURN_RECEIVED),
        ReturnModel.received_at.set(at),
        ReturnModel.refund_id.set(refund_id),
    ]
    if reversal is not None:
        actions += [
            ReturnModel.reversal_points.set(reversal.points),
            ReturnModel.reversal_at.set(reversal.at),
            ReturnModel.gsi2pk.set(keys.REVERSALS_GSI2PK),
            ReturnModel.gsi2sk.set(at),
        ]
    tx.update("return", row, actions, ReturnModel.status == RETURN_REQUESTED)


def clear_reversal(tx: LabelledTransaction, order_id: str, return_id: str) -> None:
    """Add to ``tx``: the return's points reversal is written (label ``reversal``), only while
    it is still marked as owed, so of two writers of one reversal exactly one commits."""
    row = ReturnModel(keys.order_pk(order_id), keys.return_sk(return_id))
    tx.update(
        REVERSAL_LABEL,
        row,
        [
            ReturnModel.reversal_points.remove(),
            ReturnModel.reversal_at.remove(),
            ReturnModel.gsi2pk.remove(),
            ReturnModel.gsi2sk.remove(),
        ],
        ReturnModel.reversal_points.exists(),
    )


def pending_reversals(received_before: str, page_size: int = 100) -> Iterator[StoredReturn]:
    """Returns received before ``received_before`` (ISO 8601, as ``received_at``) whose points
    reversal is still owed. The index is eventually consistent: one found here may have been
    settled meanwhile, which :func:`clear_reversal`'s condition tells."""
    rows = ReturnModel.gsi2.query(
        keys.REVERSALS_GSI2PK,
        ReturnModel.gsi2sk < received_before,
        page_size=page_size,
    )
    for row in rows:
        yield _return_from_model(row)


# --- Erasure (commerce/customers/privacy.py) -------------------------------------------------

#: The customer index of the Orders table: erasure takes every anonymised order out of it.
CUSTOMER_INDEX_KEYS: Final = ("gsi1pk", "gsi1sk")
#: What an anonymised order no longer has: the customer's index, and the mark of an erasure
#: waiting for it to close.
ERASURE_DROPS: Final = (*CUSTOMER_INDEX_KEYS, "erase_on_close")
#: The order's own attributes erasure removes rather than replaces (payment token, tracking).
REMOVED_ON_ERASURE: Final = tuple(
    path
    for path, placeholder in ORDER_PLACEHOLDERS.items()
    if placeholder is None and "." not in path
)
#: Reads an anonymisation may take while the order keeps moving under it.
_ANONYMISE_ATTEMPTS: Final = 5
_DESERIALIZER: Final = TypeDeserializer()


def customer_order_ids(sub: str) -> list[str]:
    """Ids of every order still in the customer's index (anonymised ones have left it)."""
    rows = OrderModel.gsi1.query(keys.customer_orders_gsi1pk(sub), attributes_to_get=["order_id"])
    return [row.order_id for row in rows]


def _stored_attributes(row: OrderModel) -> dict[str, Any]:
    """The item's attributes as plain values, as the privacy rules read a stored order."""
    raw: Mapping[str, Any] = row.serialize()
    return {name: _DESERIALIZER.deserialize(value) for name, value in raw.items()}


def _anonymising_actions(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Action]:
    """Set every attribute that ``after`` changes, remove every one it drops."""
    attributes = OrderModel.get_attributes()
    actions: list[Action] = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            actions.append(attributes[name].remove())
        elif before.get(name) != after[name]:
            actions.append(attributes[name].set(after[name]))
    return actions


class Settled(StrEnum):
    """What erasure did to one of the customer's orders."""

    #: Closed: anonymised now (or it already was).
    ANONYMISED = "anonymised"
    #: Open: marked ``erase_on_close``, anonymised by the move that closes it.
    DEFERRED = "deferred"
    #: Not the customer's (any more): nothing done.
    NOT_THEIRS = "not_theirs"


def settle_for_erasure(order_id: str, sub: str, *, updated_at: str) -> Settled:
    """Anonymise the customer's order if it is closed, else mark it to be anonymised by the
    move that closes it (``erase_on_close``).

    Anonymising replaces the order's personal fields and drops it from the customer's index
    and, with its email's search entry, from support's search by email. Both writes are
    conditioned on the version read and on the order still being the customer's, and both
    bump the version: a move racing the mark either lands first (the mark then decides again,
    and may find the order closed) or fails its own condition and decides again on an order
    that carries the mark.
    """

    def attempt(_: int) -> Settled | kit.Retry:
        try:
            row = OrderModel.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=True)
        except OrderModel.DoesNotExist:
            return Settled.NOT_THEIRS
        item = _stored_attributes(row)
        if is_anonymised(item):
            return Settled.ANONYMISED
        if item.get("owner_sub") != sub:
            return Settled.NOT_THEIRS
        version = int(item["version"])
        condition = (OrderModel.version == version) & (OrderModel.owner_sub == sub)
        if not closes_for_erasure(OrderStatus(str(item["status"]))):
            if item.get("erase_on_close"):
                return Settled.DEFERRED
            marking: list[Action] = [
                OrderModel.erase_on_close.set(True),
                OrderModel.version.set(version + 1),
                OrderModel.updated_at.set(updated_at),
            ]
            condition = condition & (OrderModel.status == str(item["status"]))
            done = kit.applied(lambda: row.update(marking, condition=condition))
            return Settled.DEFERRED if done else kit.RETRY
        # The email's search entry goes first: a retry after a failure here finds the order
        # still the customer's and deletes it again (a no-op), never leaves it behind.
        OrderEmailModel(keys.order_pk(order_id), keys.ORDER_EMAIL_SK).delete()
        updated = anonymise_order_fields(item, drop=ERASURE_DROPS)
        updated["version"] = version + 1
        updated["updated_at"] = updated_at
        actions = _anonymising_actions(item, updated)
        done = kit.applied(lambda: row.update(actions, condition=condition))
        return Settled.ANONYMISED if done else kit.RETRY

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: RuntimeError(f"order {order_id} kept changing while being erased"),
        attempts=_ANONYMISE_ATTEMPTS,
    )


def anonymise_in_move(tx: LabelledTransaction, stored: StoredOrder) -> list[Action]:
    """The actions that anonymise ``stored`` within the move that closes it (to go with
    :func:`order_transition_update`, whose condition guards them), and the deletion of its
    email's search entry added to ``tx``: what :func:`settle_for_erasure` does to a closed
    order. Every attribute erasure removes is removed whether the order has it or not."""
    order = stored.order
    tx.delete("order_email", OrderEmailModel(keys.order_pk(order.order_id), keys.ORDER_EMAIL_SK))
    item: dict[str, Any] = {"owner_sub": order.owner, "email": order.email}
    if order.shipping_address is not None:
        item["shipping_address"] = order.shipping_address.to_dict()
    attributes = OrderModel.get_attributes()
    actions: list[Action] = [
        attributes[name].set(value) for name, value in anonymise_order_fields(item).items()
    ]
    actions += [attributes[name].remove() for name in (*REMOVED_ON_ERASURE, *ERASURE_DROPS)]
    return actions
