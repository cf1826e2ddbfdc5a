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
