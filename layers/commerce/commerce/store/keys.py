"""Key formats of the Catalog, Inventory, Carts and Orders tables, written once.

Every item's ``pk``/``sk`` is built here, so a layout change (such as splitting a SKU over more
stock shards) touches one module and the repositories stay readable.
"""

from __future__ import annotations

import hashlib
from typing import Final

PRODUCT_SK: Final = "PRODUCT"
SKU_SK: Final = "SKU"
STOCK_SK: Final = "STOCK"
META_SK: Final = "META"
IDEMPOTENCY_SK: Final = "IDEMPOTENCY"


def product_pk(product_id: str) -> str:
    return f"PRODUCT#{product_id}"


# --- The catalog's derived items (issue 12): lists, search, categories, reviews, sales -------

LIST_SK_PREFIX: Final = "LIST#"
PRICE_SK_PREFIX: Final = "PRICE#"
CATEGORY_SK: Final = "CATEGORY"
CATEGORIES_GSI1PK: Final = "CATEGORIES"
CATEGORY_NAME_SK: Final = "CATEGORY_NAME"
SALE_SK_PREFIX: Final = "SALE#"
REVIEW_SK: Final = "REVIEW"


def list_sk(partition: str) -> str:
    """A product's entry in one list (``ALL``, ``CAT#{id}``, ``TAG#{tag}``), in its partition."""
    return f"{LIST_SK_PREFIX}{partition}"


def list_lpk(partition: str) -> str:
    """The listing indexes' partition key: every product of one list."""
    return f"{LIST_SK_PREFIX}{partition}"


def price_change_sk(at: str, change_id: str) -> str:
    """A SKU's price changes sort by time, in the SKU record's partition."""
    return f"{PRICE_SK_PREFIX}{at}#{change_id}"


def posting_pk(token: str) -> str:
    return f"TOKEN#{token}"


def posting_sk(created_at: str, product_id: str) -> str:
    """A token's products, newest first when read backwards."""
    return f"{created_at}#{product_id}"


def category_pk(category_id: str) -> str:
    return f"CATEGORY#{category_id}"


def category_gsi1sk(parent_id: str | None, category_id: str) -> str:
    """The tree's index sorts top levels first, then children by parent."""
    return f"{parent_id or '-'}#{category_id}"


def category_name_pk(parent_id: str | None, name_key: str) -> str:
    """The guard that makes a name unique among its siblings (digested: names are free text)."""
    digest = hashlib.sha256(name_key.encode()).hexdigest()[:32]
    return f"CATEGORY_NAME#{parent_id or 'TOP'}#{digest}"


def sale_sk(order_id: str, event: str) -> str:
    """The marker that an order's event (paid, cancelled, a return) moved ``sold`` once."""
    return f"{SALE_SK_PREFIX}{order_id}#{event}"


def buyer_pk(sub: str) -> str:
    """A customer's buyer records: one partition per customer (reviews, export, erasure)."""
    return f"BUYER#{sub}"


def review_pk(review_id: str) -> str:
    return f"REVIEW#{review_id}"


def reviews_gsi1pk(product_id: str) -> str:
    """A product's published reviews."""
    return f"REVIEWS#{product_id}"


def review_gsi1sk(created_at: str, review_id: str) -> str:
    return f"{created_at}#{review_id}"


def sku_pk(sku: str) -> str:
    """The catalog's SKU record and the inventory's SKU meta share this partition key."""
    return f"SKU#{sku}"


def stock_pk(sku: str, shard: int) -> str:
    return f"STOCK#{sku}#{shard:02d}"


def ledger_pk(sku: str) -> str:
    return f"LEDGER#{sku}"


def ledger_sk(at: str, entry_id: str) -> str:
    """Ledger entries of a SKU sort by time."""
    return f"{at}#{entry_id}"


def adjustment_key_digest(sku: str, idempotency_key: str) -> str:
    """A fixed-size id for a client's Idempotency-Key, scoped to one SKU.

    Hashing keeps arbitrary client text out of keys and logs.
    """
    return hashlib.sha256(f"{sku}\n{idempotency_key}".encode()).hexdigest()[:32]


def adjustment_marker_pk(sku: str, digest: str) -> str:
    return f"ADJUSTMENT#{sku}#{digest}"


# --- Carts table (issue 4): carts, their lines, and the holds index ---------------------------

CART_SK: Final = "CART"
LINE_SK_PREFIX: Final = "LINE#"
#: Buckets of the holds-by-expiry index: spreads a flash sale's index writes over partitions.
HOLD_BUCKETS: Final = 16


def cart_pk(cart_id: str) -> str:
    return f"CART#{cart_id}"


def line_sk(sku: str) -> str:
    return f"{LINE_SK_PREFIX}{sku}"


def _cart_bucket(cart_id: str, buckets: int) -> int:
    """Stable across processes (not Python's hash), so a key written by one is found by all."""
    return int.from_bytes(hashlib.sha256(cart_id.encode()).digest()[:4], "big") % buckets


def hold_bucket(cart_id: str) -> int:
    """A cart's bucket in the holds index."""
    return _cart_bucket(cart_id, HOLD_BUCKETS)


def holds_gsi1pk(bucket: int) -> str:
    return f"HOLDS#{bucket:02d}"


def holds_gsi1sk(expires_at: int, cart_id: str, sku: str) -> str:
    """Holds sort by expiry (zero-padded epoch seconds), so "expired" is one key range."""
    return f"{expires_at:012d}#{cart_id}#{sku}"


def holds_expired_before(now: int) -> str:
    """Upper bound (exclusive) of the gsi1sk range holding every hold with expires_at <= now."""
    return f"{now + 1:012d}"


# The idle index shares gsi1 with the holds index: header items (sk=CART) carry IDLE# keys,
# line items HOLDS# keys, so the two families never meet in one index partition.

#: Buckets of the idle-carts index: spreads signed-in carts' header writes over partitions.
IDLE_BUCKETS: Final = 16


def idle_bucket(cart_id: str) -> int:
    """A cart's bucket in the idle index."""
    return _cart_bucket(cart_id, IDLE_BUCKETS)


def idle_gsi1pk(bucket: int) -> str:
    return f"IDLE#{bucket:02d}"


def idle_gsi1sk(updated_at: str, cart_id: str) -> str:
    """Carts sort by their last change (fixed-width ISO 8601), so "idle since T" is the key range
    below T: ``{updated_at}#...`` < T exactly when ``updated_at`` < T."""
    return f"{updated_at}#{cart_id}"


def owner_gsi2pk(sub: str) -> str:
    return f"OWNER#{sub}"


# --- Orders table (issue 5): orders, their returns, webhook replay guards ----------------------

ORDER_SK: Final = "ORDER"
RETURN_SK_PREFIX: Final = "RETURN#"
WEBHOOK_SK: Final = "WEBHOOK"
#: Buckets of the dispatch index (gsi2): orders whose payment message is not yet confirmed sent.
DISPATCH_BUCKETS: Final = 4


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def return_sk(return_id: str) -> str:
    return f"{RETURN_SK_PREFIX}{return_id}"


def customer_orders_gsi1pk(sub: str) -> str:
    return f"CUSTOMER#{sub}"


def customer_orders_gsi1sk(created_at: str, order_id: str) -> str:
    """A customer's orders sort by creation time (fixed-width ISO 8601); the id breaks ties."""
    return f"{created_at}#{order_id}"


def dispatch_bucket(order_id: str) -> int:
    """An order's bucket in the dispatch index; stable across processes (not Python's hash)."""
    return int.from_bytes(hashlib.sha256(order_id.encode()).digest()[:4], "big") % DISPATCH_BUCKETS


def dispatch_gsi2pk(bucket: int) -> str:
    return f"DISPATCH#{bucket:02d}"


#: gsi2 of return items whose points reversal is still to be written. Returns are received by
#: hand and stay in the index only between two writes, so one index partition holds them all.
REVERSALS_GSI2PK: Final = "REVERSALS"


def webhook_pk(sender: str, event_id: str) -> str:
    """The replay guard of one webhook event of one sender (a carrier or a payment provider)."""
    return f"WEBHOOK#{sender}#{event_id}"


# --- Customers table: notification sent-records --------------------------------------------

NOTIFY_SENT_SK: Final = "SENT"


def customer_messages_gsi1pk(customer_id: str) -> str:
    """The sent-records of one customer's own messages, for their export and erasure."""
    return f"MESSAGES#{customer_id}"


def notify_pk(dedupe_key: str) -> str:
    """The claim of one message (event, channel, address): sent at most once per key."""
    return f"NOTIFY#{dedupe_key}"


# --- Coupons (Catalog table) and points (Customers table), issue 7 ----------------------------

COUPON_SK: Final = "COUPON"
COUPONS_GSI1PK: Final = "COUPONS"
COUPON_USE_SK_PREFIX: Final = "USE#"
POINTS_SK: Final = "POINTS"
POINTS_ENTRY_SK_PREFIX: Final = "POINTS#"
#: The coupons and points an order consumed at checkout (Orders table, the order's partition).
ORDER_PERKS_SK: Final = "PERKS"


def coupon_pk(code: str) -> str:
    return f"COUPON#{code}"


def coupon_use_sk(sub: str) -> str:
    return f"{COUPON_USE_SK_PREFIX}{sub}"


def coupon_uses_gsi1pk(sub: str) -> str:
    """A customer's per-coupon use counters, found by customer (erasure, export)."""
    return f"COUPON_USES#{sub}"


def customer_pk(sub: str) -> str:
    return f"CUSTOMER#{sub}"


def points_entry_sk(at: str, entry_key: str) -> str:
    """Ledger entries sort by time; the digest of the entry's key makes a retried write the
    same item (so a conditional put recognises it)."""
    digest = hashlib.sha256(entry_key.encode()).hexdigest()[:16]
    return f"{POINTS_ENTRY_SK_PREFIX}{at}#{digest}"


# --- Customers table: erasure tombstones --------------------------------------------------

TOMBSTONE_SK: Final = "TOMBSTONE"
#: gsi2 of tombstones whose erasure is not finished yet (the sweeper's list). Erasures are
#: rare and short-lived in the index, so one partition holds them all.
ERASURES_GSI2PK: Final = "ERASURES"


def subject_digest(sub: str) -> str:
    """An erased subject's key: the sha256 of its sub, so the tombstone that refuses the
    subject's tokens holds no id of theirs."""
    return hashlib.sha256(f"subject\n{sub}".encode()).hexdigest()


def tombstone_pk(sub: str) -> str:
    return f"ERASED#{subject_digest(sub)}"


# --- Customers table: address books and support tickets ---------------------------------

ADDRESS_BOOK_SK: Final = "ADDRESSBOOK"
ADDRESS_SK_PREFIX: Final = "ADDRESS#"
TICKET_SK: Final = "TICKET"
TICKET_MESSAGE_SK_PREFIX: Final = "MESSAGE#"
TICKET_AWAITING_SK: Final = "AWAITING"
#: gsi2 of tickets awaiting support, by the time they began to wait.
TICKETS_AWAITING_GSI2PK: Final = "TICKETS_AWAITING"


def address_sk(address_id: str) -> str:
    return f"{ADDRESS_SK_PREFIX}{address_id}"


def ticket_pk(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}"


def ticket_message_sk(seq: int) -> str:
    """Messages sort in the order written (numbered from 1)."""
    return f"{TICKET_MESSAGE_SK_PREFIX}{seq:05d}"


def customer_tickets_gsi1pk(sub: str) -> str:
    return f"TICKETS#{sub}"


def tickets_by_status_gsi2pk(status: str) -> str:
    return f"TICKETS#{status}"


def ticket_activity_sk(at: str, ticket_id: str) -> str:
    """Tickets sort by a time (fixed-width ISO 8601); the id breaks ties."""
    return f"{at}#{ticket_id}"


def awaiting_gsi2sk(since: int, ticket_id: str) -> str:
    """Waits sort by their start (zero-padded epoch seconds), so "waiting since before T" is the
    key range below ``f"{T:012d}"``."""
    return f"{since:012d}#{ticket_id}"


# --- Orders table: support's search (gsi3) -------------------------------------------------

#: Buckets of the orders-by-status index: spreads a flash sale's status changes over partitions.
ORDER_STATUS_BUCKETS: Final = 4
ORDER_EMAIL_SK: Final = "EMAIL"


def order_status_bucket(order_id: str) -> int:
    """An order's bucket in the status index; stable across processes (not Python's hash)."""
    digest = hashlib.sha256(order_id.encode()).digest()[:4]
    return int.from_bytes(digest, "big") % ORDER_STATUS_BUCKETS


def order_status_gsi3pk(status: str, bucket: int) -> str:
    return f"STATUS#{status}#{bucket:02d}"


def order_email_gsi3pk(email: str) -> str:
    """The search key of an order's email: a digest of it lower-cased, so the index holds no
    address in clear and any spelling of the address finds the same orders."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"EMAIL#{digest}"


def order_search_gsi3sk(created_at: str, order_id: str) -> str:
    """Orders sort by creation time (fixed-width ISO 8601); the id breaks ties."""
    return f"{created_at}#{order_id}"


# --- Catalog table: the shipping zone table ------------------------------------------------

SHIPPING_ZONES_PK: Final = "SHIPPING"
SHIPPING_ZONES_SK: Final = "ZONES"


# --- Analytics table (issue 14): aggregates, facts, customer values, segments, campaigns ----------

APPLIED_SK: Final = "APPLIED"
#: Shards of the per-day sales totals: every paid order of a day adds to one of them, so a busy
#: day's writes spread over as many items (figures sum them).
SALES_SHARDS: Final = 8
VALUE_SK: Final = "VALUE"
#: Buckets of the customer-values index (gsi1): spreads last-order updates over partitions.
VALUE_BUCKETS: Final = 16
SEGMENT_SK: Final = "SEGMENT"
SEGMENTS_GSI1PK: Final = "SEGMENTS"
CAMPAIGN_SK: Final = "CAMPAIGN"
CAMPAIGNS_GSI1PK: Final = "CAMPAIGNS"
MEMBER_SK_PREFIX: Final = "MEMBER#"


def _bucket(text: str, buckets: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % buckets


def applied_pk(key: str) -> str:
    """The guard of one stream record's plan (or one part of it): written once."""
    return f"APPLIED#{key}"


def sales_pk(shard: int) -> str:
    return f"SALES#{shard:02d}"


def sales_shard(spread_by: str) -> int:
    """The day-totals shard a record's increments go to; stable across processes."""
    return _bucket(spread_by, SALES_SHARDS)


def sku_day_pk(date: str) -> str:
    return f"SKUDAY#{date}"


def sku_month_pk(month: str) -> str:
    return f"SKUMONTH#{month}"


def buyer_day_pk(date: str) -> str:
    return f"BUYERDAY#{date}"


def buyer_month_pk(month: str) -> str:
    return f"BUYERMONTH#{month}"


def facts_pk(date: str) -> str:
    """The order facts of one UTC day, for the Parquet export."""
    return f"FACTS#{date}"


def value_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def value_bucket(customer_id: str) -> int:
    return _bucket(customer_id, VALUE_BUCKETS)


def values_gsi1pk(bucket: int) -> str:
    """Customer values by last paid order, one index partition per bucket (segments)."""
    return f"VALUES#{bucket:02d}"


def epoch_sk(at: int, suffix: str) -> str:
    """Index sort keys by epoch time (zero-padded, so string order is time order)."""
    return f"{max(0, at):012d}#{suffix}"


def segment_pk(segment_id: str) -> str:
    return f"SEGMENT#{segment_id}"


def campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def member_sk(customer_id: str) -> str:
    return f"{MEMBER_SK_PREFIX}{customer_id}"


def member_gsi1pk(customer_id: str) -> str:
    """A customer's campaign messages by the time of the first one (attribution, erasure)."""
    return f"MEMBER#{customer_id}"


def values_bucket_of(gsi1pk: str) -> int | None:
    """The bucket a values-index key names (``VALUES#03`` -> 3); None for any other key."""
    prefix = "VALUES#"
    if not gsi1pk.startswith(prefix) or not gsi1pk[len(prefix) :].isdigit():
        return None
    bucket = int(gsi1pk[len(prefix) :])
    return bucket if 0 <= bucket < VALUE_BUCKETS else None


# --- Flash sales (issue 13): the sale items (Catalog) and the per-customer counts (Inventory) --

FLASH_SALE_SK: Final = "FLASHSALE"
SALE_COUNT_SK: Final = "SALECOUNT"


def flash_sale_pk(sale_id: str) -> str:
    return f"FLASHSALE#{sale_id}"


def flash_sales_gsi1pk(sku: str) -> str:
    """A SKU's sales, every one ever scheduled, by start (``GET /admin/flash-sales?sku=``)."""
    return f"FLASHSALES#{sku}"


def sale_count_pk(sale_id: str, sub: str) -> str:
    """One customer's count of one sale: the sale and the customer both in the partition key, so
    a sale's buyers spread over as many partitions as there are buyers. The customer appears as
    a digest salted with the sale: the item names no one, and two sales' counts of one customer
    cannot be linked by their keys."""
    digest = hashlib.sha256(f"flash-sale\n{sale_id}\n{sub}".encode()).hexdigest()[:32]
    return f"SALECOUNT#{sale_id}#{digest}"
