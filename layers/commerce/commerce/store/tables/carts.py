"""The Carts table: cart headers and their lines.

Headers are written by ``store/carts.py`` (and a cart's coupon codes by ``store/coupons.py``);
lines and their stock holds by ``store/holds.py``. Key layouts are in ``store/keys.py``.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index, MoneyMap
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class CartsTable(TableModel):
    """Items of the Carts table: cart headers and their lines."""

    class Meta:
        table_name = _settings.carts_table
        region = _settings.region


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
    # What the line counts against its owner's flash-sale limit (store/flash_sales.py): the
    # sale, the customer's subject and the units, given back with the hold.
    sale_id = UnicodeAttribute(null=True)
    sale_customer = UnicodeAttribute(null=True)
    sale_units = NumberAttribute(null=True)
    # gsi1 as the sweeper uses it: live holds by expiry, one key per bucket (sparse).
    gsi1: Gsi1Index[CartLineModel] = Gsi1Index()
