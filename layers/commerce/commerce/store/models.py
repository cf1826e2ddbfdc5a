"""PynamoDB models of the Catalog, Inventory, Carts and Orders tables.

Each model subclasses its table's base in ``commerce.store.tables``, which names the table.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from commerce.store.tables import (
    CartsTable,
    CatalogTable,
    CustomersTable,
    InventoryTable,
    OrdersTable,
)

_M = TypeVar("_M", bound=Model)


class Gsi1Index(GlobalSecondaryIndex[_M]):  # type: ignore[no-untyped-call]
    """``gsi1`` as every table declares it: ``gsi1pk``/``gsi1sk``, every attribute projected.

    One class serves every model: PynamoDB binds each instance to the model it is assigned in,
    and what the keys hold is written beside each model's ``gsi1`` attribute.
    """

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class MoneyMap(MapAttribute[str, Any]):
    """``{"amount": int, "currency": str}``, the wire shape of money, stored as is."""

    amount = NumberAttribute()
    currency = UnicodeAttribute()


class SkuEntry(MapAttribute[str, Any]):
    """A SKU as embedded in its product (the product item is read whole)."""

    sku = UnicodeAttribute()
    price = MoneyMap()  # type: ignore[no-untyped-call]  # pynamodb leaves __init__ untyped
    attributes = MapAttribute[str, Any](default=dict)  # type: ignore[no-untyped-call]


class ProductModel(CatalogTable):
    """pk=PRODUCT#{id}, sk=PRODUCT."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    # gsi1 as the product list uses it: every product under one key, by creation time.
    gsi1: Gsi1Index[ProductModel] = Gsi1Index()
    product_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    skus = ListAttribute(of=SkuEntry)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    created_by = UnicodeAttribute()


class SkuRecordModel(CatalogTable):
    """pk=SKU#{sku}, sk=SKU: makes a SKU code unique across products; carts look SKUs up here."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sku = UnicodeAttribute()
    product_id = UnicodeAttribute()
    price = MoneyMap()  # type: ignore[no-untyped-call]  # pynamodb leaves __init__ untyped
    attributes = MapAttribute[str, Any](default=dict)  # type: ignore[no-untyped-call]


class StockShardModel(InventoryTable):
    """pk=STOCK#{sku}#{shard:02d}, sk=STOCK. Every write keeps available = on_hand - reserved."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sku = UnicodeAttribute()
    shard = NumberAttribute()
    on_hand = NumberAttribute()
    reserved = NumberAttribute()
    available = NumberAttribute()


class SkuMetaModel(InventoryTable):
    """pk=SKU#{sku}, sk=META: how a SKU's stock is laid out and kept."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sku = UnicodeAttribute()
    product_id = UnicodeAttribute()
    safety_stock = NumberAttribute(default=0)
    shard_count = NumberAttribute(default=1)
    # Set while total available is below safety_stock; flipped only by conditional updates, so
    # exactly one writer sees each crossing. ``low_stock_crossings`` numbers the crossings and
    # makes each low-stock event's id stable.
    low_stock = BooleanAttribute(null=True)
    low_stock_crossings = NumberAttribute(null=True)


class LedgerEntryModel(InventoryTable):
    """pk=LEDGER#{sku}, sk={at}#{entry_id}: one row per change of on-hand stock, for audit."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sku = UnicodeAttribute()
    entry_id = UnicodeAttribute()
    delta = NumberAttribute()
    reason = UnicodeAttribute()
    actor = UnicodeAttribute()
    at = UnicodeAttribute()
    idempotency_key = UnicodeAttribute(null=True)


class AdjustmentMarkerModel(InventoryTable):
    """pk=ADJUSTMENT#{sku}#{digest}, sk=IDEMPOTENCY: an Idempotency-Key already applied.

    Written in the adjustment's transaction with attribute_not_exists, so a retried request
    cannot change stock twice. ``fingerprint`` tells a retry from a reuse with another body;
    ``ttl`` only tidies the table, it is not what makes a retry safe.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    ttl = NumberAttribute()


# --- Carts table (issue 4) ---------------------------------------------------------------------


class OwnerIndex(GlobalSecondaryIndex["CartModel"]):  # type: ignore[no-untyped-call]
    """gsi2 of cart headers: a signed-in customer's carts by last change (OWNER#{sub})."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class CartModel(CartsTable):
    """pk=CART#{cart_id}, sk=CART: who owns the cart (a customer's sub or a guest token's hash).

    ``gsi2pk``/``gsi2sk`` (OWNER#{sub}, updated_at) are set for signed-in carts only.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    cart_id = UnicodeAttribute()
    owner_sub = UnicodeAttribute(null=True)
    token_hash = UnicodeAttribute(null=True)
    shipping_address = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    coupons = ListAttribute(of=UnicodeAttribute, default=list)
    version = NumberAttribute(default=1)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    ttl = NumberAttribute()
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    # Set by the checkout's transaction: the cart became this order and never changes again.
    checked_out_at = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    # Set once by the abandoned-cart reminder (commerce/carts/reminders.py): reminded at most once.
    reminded_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # gsi1 as the reminder uses it: reminder candidates by last change (IDLE#{bucket},
    # {updated_at}#{cart_id}; sparse, commerce/store/carts.py says when a header is in it).
    gsi1: Gsi1Index[CartModel] = Gsi1Index()
    gsi2 = OwnerIndex()


class CartLineModel(CartsTable):
    """pk=CART#{cart_id}, sk=LINE#{sku}: one line; while it holds stock it is a hold.

    A hold carries ``takes`` (shard number as a string -> units taken from that shard),
    ``expires_at`` (epoch seconds) and the gsi1 keys; releasing it removes all four in the
    transaction that gives the units back. ``version`` changes on every write of the line.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    cart_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    quantity = NumberAttribute()
    unit_price = MoneyMap()  # type: ignore[no-untyped-call]  # pynamodb leaves __init__ untyped
    takes = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    expires_at = NumberAttribute(null=True)
    version = NumberAttribute()
    updated_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # gsi1 as the sweeper uses it: live holds by expiry, one key per bucket (sparse).
    gsi1: Gsi1Index[CartLineModel] = Gsi1Index()


# --- Orders table (issue 5) --------------------------------------------------------------------


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
    # Set (once, epoch s) by the payments consumer just before its first charge call, while the
    # order is PENDING_PAYMENT: a cancelled order without it was never charged, so the consumer
    # never asks the provider about it (commerce/payments/consumer.py).
    charge_attempted_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    # gsi1: a signed-in customer's orders, newest first (CUSTOMER#{sub}, {created_at}#{id}).
    gsi1: Gsi1Index[OrderModel] = Gsi1Index()
    gsi2 = DispatchIndex()


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
    # that takes them (commerce/coupons/consumption.py). gsi2: REVERSALS / {received_at}.
    reversal_points = NumberAttribute(null=True)
    reversal_at = NumberAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2 = ReversalIndex()


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


class NotificationSentModel(CustomersTable):
    """pk=NOTIFY#{dedupe_key}, sk=SENT: one message's claim, then its proof of sending.

    ``status`` SENDING while a consumer sends it, SENT once the provider accepted it;
    ``claimed_at`` (epoch s) lets a later delivery take over a claim its sender died holding.
    ``ttl`` (30 days) only tidies the table (commerce/store/notifications.py).
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    claimed_at = NumberAttribute()
    sent_at = NumberAttribute(null=True)
    ttl = NumberAttribute()
    # A customer's own messages, for their export and their erasure (sparse gsi1:
    # MESSAGES#{sub}); what was sent, never to which address or what it said.
    customer_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)
    event_type = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # gsi1 of sent-records: a customer's own messages by time (MESSAGES#{sub}; sparse).
    gsi1: Gsi1Index[NotificationSentModel] = Gsi1Index()
