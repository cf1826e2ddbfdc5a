"""The Catalog table: products, SKU records, coupons and their use counters, shipping zones, and
the catalog's derived items: listing entries, search postings, categories, price history, reviews,
buyers and sale markers, and flash sales.

Products, SKU records, listing entries and price history are written by ``store/products.py``;
categories by ``store/categories.py``; search postings by ``store/postings.py``; reviews and
buyer records by ``store/reviews.py``; sale markers and the sold counters by
``store/sales.py``; coupons and their per-customer counters by ``store/coupons.py``; the shipping
zones by ``store/shipping_zones.py``; flash sales and the SKU records' schedules by
``store/flash_sales.py``. Key
layouts are in ``store/keys.py``; the access pattern of each index is in docs/catalog.md.
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
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index, MoneyMap
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class CatalogTable(TableModel):
    """Items of the Catalog table: products, SKU records, coupons and their use counters."""

    class Meta:
        table_name = _settings.catalog_table
        region = _settings.region


class SkuEntry(MapAttribute[str, Any]):
    """A SKU as embedded in its product (the product item is read whole)."""

    sku = UnicodeAttribute()
    price = MoneyMap()  # type: ignore[no-untyped-call]  # pynamodb leaves __init__ untyped
    attributes = MapAttribute[str, Any](default=dict)  # type: ignore[no-untyped-call]


class ImageEntry(MapAttribute[str, Any]):
    """An image of a product: its object key in the images bucket and its alternative text."""

    image_id = UnicodeAttribute()
    key = UnicodeAttribute()
    content_type = UnicodeAttribute()
    alt = UnicodeAttribute(default="")


class ProductModel(CatalogTable):
    """pk=PRODUCT#{id}, sk=PRODUCT: the product as ops describe it, with its counters.

    ``version`` grows with every change ops make; ``sold`` and ``rating_*`` are counters kept by
    their own conditional updates (``store/sales.py``, ``store/reviews.py``) and never
    rewritten whole, so an edit and a sale or a review never overwrite each other.
    ``search_tokens`` are the tokens the search index may hold postings of (``postings.py``).
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    product_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    skus = ListAttribute(of=SkuEntry)
    category_id = UnicodeAttribute(null=True)
    category_path = ListAttribute[str](default=list)
    tags = ListAttribute[str](default=list)
    status = UnicodeAttribute(default="active")
    images = ListAttribute(of=ImageEntry, default=list)
    rating_total = NumberAttribute(default=0)
    rating_count = NumberAttribute(default=0)
    sold = NumberAttribute(default=0)
    version = NumberAttribute(default=1)
    search_tokens = ListAttribute[str](default=list)
    #: The lists the product is in (its partitions), so a sale can state them as a condition.
    lists = ListAttribute[str](default=list)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_by = UnicodeAttribute(null=True)


class FlashSaleEntry(MapAttribute[str, Any]):
    """One sale in a SKU's schedule, as the SKU record carries it: what pricing needs."""

    sale_id = UnicodeAttribute()
    price = MoneyMap()  # type: ignore[no-untyped-call]
    starts_at = NumberAttribute()
    ends_at = NumberAttribute()
    per_customer_limit = NumberAttribute()


class SkuRecordModel(CatalogTable):
    """pk=SKU#{sku}, sk=SKU: makes a SKU code unique across products; carts look SKUs up here.

    ``flash_sales`` is the SKU's schedule (the sales not long ended, ``store/flash_sales.py``),
    kept here so the one read that prices a SKU sees its live sale; ``flash_sales_version`` grows
    with every change of it, and each change is conditioned on the version it was decided from.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sku = UnicodeAttribute()
    product_id = UnicodeAttribute()
    price = MoneyMap()  # type: ignore[no-untyped-call]  # pynamodb leaves __init__ untyped
    attributes = MapAttribute[str, Any](default=dict)  # type: ignore[no-untyped-call]
    #: The product's status, copied in the same write that changes it: carts read only this.
    status = UnicodeAttribute(default="active")
    #: The lists the product is in, copied likewise: a sale moves their ``lsold`` without
    #: reading the product first (``store/sales.py``).
    lists = ListAttribute[str](default=list)
    flash_sales = ListAttribute(of=FlashSaleEntry, null=True)
    flash_sales_version = NumberAttribute(null=True)


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


# --- The storefront's lists (store/products.py writes them, store/listing.py reads them) -------

#: The attributes a listing needs to filter a page before reading products whole; each listing
#: index projects them, and none projects another index's sort key, so a sale (which moves
#: only ``lsold``) writes to the best-selling index alone.
LISTED_ATTRIBUTES = ["product_id", "created_at", "skus", "prices", "cats", "tags"]


class NewestIndex(GlobalSecondaryIndex["ListingEntryModel"]):  # type: ignore[no-untyped-call]
    """A partition's products, by creation time."""

    class Meta:
        index_name = "listing_newest"
        projection = IncludeProjection(LISTED_ATTRIBUTES)

    lpk = UnicodeAttribute(hash_key=True)
    lnew = UnicodeAttribute(range_key=True)


class PriceIndex(GlobalSecondaryIndex["ListingEntryModel"]):  # type: ignore[no-untyped-call]
    """A partition's products, by lowest SKU price."""

    class Meta:
        index_name = "listing_price"
        projection = IncludeProjection(LISTED_ATTRIBUTES)

    lpk = UnicodeAttribute(hash_key=True)
    lprice = UnicodeAttribute(range_key=True)


class SoldIndex(GlobalSecondaryIndex["ListingEntryModel"]):  # type: ignore[no-untyped-call]
    """A partition's products, by units sold."""

    class Meta:
        index_name = "listing_sold"
        projection = IncludeProjection(LISTED_ATTRIBUTES)

    lpk = UnicodeAttribute(hash_key=True)
    lsold = NumberAttribute(range_key=True)


class ListingEntryModel(CatalogTable):
    """pk=PRODUCT#{id}, sk=LIST#{partition}: one product in one list (all, a category, a tag).

    Derived from the product: rewritten in the same transaction as every change of the
    attributes it copies, and its ``lsold`` moved in the same transaction as the product's
    ``sold``. An archived product has none.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    lpk = UnicodeAttribute()
    lnew = UnicodeAttribute()
    lprice = UnicodeAttribute()
    lsold = NumberAttribute(default=0)
    product_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    skus = ListAttribute[str](default=list)
    prices = ListAttribute[int](default=list)
    cats = ListAttribute[str](default=list)
    tags = ListAttribute[str](default=list)
    newest: NewestIndex = NewestIndex()
    by_price: PriceIndex = PriceIndex()
    by_sold: SoldIndex = SoldIndex()


class PriceChangeModel(CatalogTable):
    """pk=SKU#{sku}, sk=PRICE#{at}#{id}: one price change of a SKU, who made it, old and new."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sku = UnicodeAttribute()
    product_id = UnicodeAttribute()
    old = MoneyMap()  # type: ignore[no-untyped-call]
    new = MoneyMap()  # type: ignore[no-untyped-call]
    actor = UnicodeAttribute()
    at = UnicodeAttribute()


class PostingModel(CatalogTable):
    """pk=TOKEN#{token}, sk={created_at}#{product_id}: the product holds the token (search)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    product_id = UnicodeAttribute()


class CategoryModel(CatalogTable):
    """pk=CATEGORY#{id}, sk=CATEGORY; every category under gsi1 ``CATEGORIES`` (the tree)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    category_id = UnicodeAttribute()
    name = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi1: Gsi1Index[CategoryModel] = Gsi1Index()


class CategoryNameModel(CatalogTable):
    """pk=CATEGORY_NAME#{parent}#{digest}, sk=CATEGORY_NAME: a sibling name is taken."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    category_id = UnicodeAttribute()


class SaleMarkerModel(CatalogTable):
    """pk=PRODUCT#{id}, sk=SALE#{order_id}#{event}: the event moved ``sold`` by ``units``."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    event = UnicodeAttribute()
    units = NumberAttribute()
    at = UnicodeAttribute()


class BuyerModel(CatalogTable):
    """pk=BUYER#{sub}, sk=PRODUCT#{id}: the customer received the product, so may review it;
    ``review_id`` once they have (once per product). The customer's partition holds all of
    their records, for their export and erasure."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    product_id = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    review_id = UnicodeAttribute(null=True)


class ReviewModel(CatalogTable):
    """pk=REVIEW#{id}, sk=REVIEW. While published it is in gsi1 ``REVIEWS#{product_id}`` by
    creation time (the product's public list); hiding it takes it out."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    review_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    rating = NumberAttribute()
    text = UnicodeAttribute(default="")
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    published: Gsi1Index[ReviewModel] = Gsi1Index()


class FlashSaleModel(CatalogTable):
    """pk=FLASHSALE#{id}, sk=FLASHSALE: a flash sale as ops scheduled it (``store/flash_sales.py``).

    Written in one transaction with the SKU record's schedule; in gsi1 ``FLASHSALES#{sku}`` by
    start, so a SKU's sales (ended ones too) are one Query.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sale_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    product_id = UnicodeAttribute()
    price = MoneyMap()  # type: ignore[no-untyped-call]
    starts_at = NumberAttribute()
    ends_at = NumberAttribute()
    per_customer_limit = NumberAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_sku: Gsi1Index[FlashSaleModel] = Gsi1Index()
