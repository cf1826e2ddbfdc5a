"""The Orders table: orders, returns, the perks they consumed and webhook replay guards.

Orders and returns are written by ``store/orders.py`` (the charge-attempt mark by
``store/charge_attempts.py``), perks by ``store/coupons.py``, replay guards by
``store/webhook_events.py``. Key layouts are in ``store/keys.py``.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index, MoneyMap
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class OrdersTable(TableModel):
    """Items of the Orders table: orders, returns, perks and webhook replay guards."""

    class Meta:
        table_name = _settings.orders_table
        region = _settings.region


class DispatchIndex(GlobalSecondaryIndex["OrderModel"]):  # type: ignore[no-untyped-call]
    """gsi2 (sparse): orders whose payment message is not yet confirmed sent, by creation time."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class ReversalIndex(GlobalSecondaryIndex["ReturnModel"]):  # type: ignore[no-untyped-call]
    """gsi2 of return items (sparse): returns received whose points reversal is not yet
    written, by receipt time. Shares gsi2 with the dispatch index under its own key."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class SearchIndex(GlobalSecondaryIndex[Any]):  # type: ignore[no-untyped-call]
    """gsi3, support's order search (keys only: the orders are read by key afterwards, so an
    order's other writes never touch the index). Order items carry STATUS#{status}#{bucket}
    keys, email items EMAIL#{digest}; both sort by ``{created_at}#{order_id}`` (a pending order
    the payment sweep relisted sorts by when it is next due: store/orders.relist_unpaid)."""

    class Meta:
        index_name = "gsi3"
        projection = KeysOnlyProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class OrderModel(OrdersTable):
    """pk=ORDER#{order_id}, sk=ORDER: an order (layout: commerce/store/orders.py).

    ``lines`` [{sku, quantity, unit_price}], ``totals`` (five money maps), ``payment`` {method,
    status, charge_id?, decline_code?, refunded}, ``reservation`` {sku: {shard: units}} (the
    stock the order holds or committed, per shard), ``history`` [{status, at (epoch s)}].
    ``version`` grows by one with every write; every transition is conditioned on it.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    status = UnicodeAttribute()
    version = NumberAttribute()
    owner_sub = UnicodeAttribute(null=True)
    cart_token_hash = UnicodeAttribute(null=True)
    order_token_hash = UnicodeAttribute(null=True)
    email = UnicodeAttribute()
    locale = UnicodeAttribute(null=True)
    lines = ListAttribute[Any](null=True)
    totals = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    shipping_address = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    payment = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    payment_token = UnicodeAttribute(null=True)
    reservation = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    history = ListAttribute[Any](null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    cart_id = UnicodeAttribute(null=True)
    delivered_at = NumberAttribute(null=True)
    carrier = UnicodeAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)
    carrier_event_id = UnicodeAttribute(null=True)
    # Set (once, epoch s) by charging just before its first charge call, while the
    # order is PENDING_PAYMENT: a cancelled order without it was never charged, so the consumer
    # never asks the provider about it (commerce/orders/charging.py).
    charge_attempted_at = NumberAttribute(null=True)
    # The carrier's events for the shipment, in the order they happened: [{event_id, status,
    # at (epoch s), location?}] (commerce/domain/tracking.py).
    tracking = ListAttribute[Any](null=True)
    # The provider's own reference of the order's payment, kept before the customer can be
    # charged (Stripe: the PaymentIntent id, stored before it is confirmed), so a retry finds
    # the payment it began instead of beginning another (commerce/store/charge_attempts.py).
    payment_ref = UnicodeAttribute(null=True)
    # Every refund of the charge: [{refund_id, amount, status, at, reason, provider_refund_id?,
    # points_due}] (commerce/domain/refunds.py).
    refunds = ListAttribute[Any](null=True)
    # The customer asked to be erased while the order was open: the move that closes it
    # anonymises it in the same write (commerce/orders/moves.py).
    erase_on_close = BooleanAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    # gsi1: a signed-in customer's orders, newest first (CUSTOMER#{sub}, {created_at}#{id}).
    gsi1: Gsi1Index[OrderModel] = Gsi1Index()
    gsi2 = DispatchIndex()
    # gsi3: orders by status, spread over buckets (STATUS#{status}#{bucket}, {created_at}#{id}).
    gsi3 = SearchIndex()


class OrderEmailModel(OrdersTable):
    """pk=ORDER#{order_id}, sk=EMAIL: the order under its email in the search index (gsi3
    EMAIL#{digest of the address}), written once at checkout, deleted when it is anonymised."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    gsi3pk = UnicodeAttribute()
    gsi3sk = UnicodeAttribute()
    gsi3 = SearchIndex()


class ReturnModel(OrdersTable):
    """pk=ORDER#{order_id}, sk=RETURN#{return_id}: one return of an order.

    ``lines`` [{sku, quantity}], ``refund`` money map, ``status`` REQUESTED | RECEIVED,
    ``requested_at`` (epoch s), ``refund_id`` once the provider refunded it.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    return_id = UnicodeAttribute()
    lines = ListAttribute[Any]()
    reason = UnicodeAttribute(default="")
    refund = MoneyMap()  # type: ignore[no-untyped-call]
    status = UnicodeAttribute()
    requested_at = NumberAttribute()
    created_at = UnicodeAttribute()
    received_at = UnicodeAttribute(null=True)
    refund_id = UnicodeAttribute(null=True)
    # Set by the receipt while the points its refund un-earns are still to be taken back
    # (points and the ledger time to write them at); removed, with the gsi2 keys, by the write
    # that takes them (commerce/loyalty/points.py). gsi2: REVERSALS / {received_at}.
    reversal_points = NumberAttribute(null=True)
    reversal_at = NumberAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2 = ReversalIndex()


class OrderPerksModel(OrdersTable):
    """pk=ORDER#{id}, sk=PERKS: the coupons and points an order consumed at checkout."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    coupons = ListAttribute(of=UnicodeAttribute, default=list)
    per_customer = ListAttribute(of=UnicodeAttribute, default=list)
    points_used = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    given_back_at = UnicodeAttribute(null=True)


class WebhookEventModel(OrdersTable):
    """pk=WEBHOOK#{sender}#{event_id}, sk=WEBHOOK: a webhook event already acted on.

    Written with attribute_not_exists, so a replayed event changes nothing; ``ttl`` (received +
    7 days) only tidies the table.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sender = UnicodeAttribute()
    event_id = UnicodeAttribute()
    received_at = UnicodeAttribute()
    ttl = NumberAttribute()
