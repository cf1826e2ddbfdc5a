"""The Inventory table: stock shards, SKU meta, the ledger and adjustment marks.

Written by ``store/inventory.py``, and by ``store/holds.py`` for the units carts and orders
hold on a shard. Key layouts are in ``store/keys.py``.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from commerce.settings import get_settings
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class InventoryTable(TableModel):
    """Items of the Inventory table: stock shards, SKU meta, the ledger and adjustment marks."""

    class Meta:
        table_name = _settings.inventory_table
        region = _settings.region


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


class SaleCountModel(InventoryTable):
    """pk=SALECOUNT#{sale_id}#{digest of the customer}, sk=SALECOUNT: how many units of one flash
    sale one customer holds in live holds or has in orders (``store/flash_sales.py``).

    Moved only inside the hold path's transactions, each change conditioned so the count stays
    within ``[0, limit]``; ``ttl`` (30 days after the sale's end) only tidies the table.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sale_id = UnicodeAttribute(null=True)
    units = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)
