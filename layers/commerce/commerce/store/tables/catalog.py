"""The Catalog table: products, SKU records, coupons and their use counters, shipping zones.

Products and SKU records are written by ``store/products.py``; coupons and their per-customer
counters by ``store/coupons.py``. Key layouts are in ``store/keys.py``.
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
from pynamodb.models import Model

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index, MoneyMap

_settings = get_settings()


class CatalogTable(Model):
    """Items of the Catalog table: products, SKU records, coupons and their use counters."""

    class Meta:
        table_name = _settings.catalog_table
        region = _settings.region


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


class CouponModel(CatalogTable):
    """pk=COUPON#{code}, sk=COUPON: a coupon's definition and its total use count."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    code = UnicodeAttribute()
    kind = UnicodeAttribute()
    rate_bp = NumberAttribute(null=True)
    cap = MoneyMap(null=True)  # type: ignore[no-untyped-call]
    amount = MoneyMap(null=True)  # type: ignore[no-untyped-call]
    threshold = MoneyMap(null=True)  # type: ignore[no-untyped-call]
    repeat = BooleanAttribute(default=False)
    min_spend = MoneyMap()  # type: ignore[no-untyped-call]
    valid_from = NumberAttribute(null=True)
    valid_until = NumberAttribute(null=True)
    usage_limit = NumberAttribute(null=True)
    per_customer_limit = NumberAttribute(null=True)
    active = BooleanAttribute(default=True)
    stackable = BooleanAttribute(default=True)
    uses_total = NumberAttribute(default=0)
    version = NumberAttribute(default=1)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    # gsi1 as the coupon list uses it: every coupon under one key, by code.
    gsi1: Gsi1Index[CouponModel] = Gsi1Index()


class CouponUseModel(CatalogTable):
    """pk=COUPON#{code}, sk=USE#{sub}: how often one customer has used one coupon."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    code = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    uses = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # gsi1 as erasure uses it: one customer's use counters under ``COUPON_USES#{sub}``.
    customer_uses: Gsi1Index[CouponUseModel] = Gsi1Index()


class ShippingZonesModel(CatalogTable):
    """pk=SHIPPING, sk=ZONES: the shipping zone table ops configure, whole (one item, so a
    change is checked and written as one: no place can end up in two zones).

    ``zones`` [{zone_id, name, places, fee, free_threshold?}], ``version`` (+1 per change; each
    change is conditioned on the version it was read at), ``updated_at``, ``updated_by`` (the
    staff member's sub). Written by ``store/shipping_zones.py``.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    zones = ListAttribute[Any]()
    version = NumberAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute(null=True)
