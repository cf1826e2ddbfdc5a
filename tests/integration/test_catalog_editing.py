"""Editing and archiving products and SKUs through the catalog handler, on moto."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog, money, new_sku
from http_problems import assert_problem
from orders_world import Shop

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


def test_a_patch_changes_only_what_was_sent(catalog: Catalog) -> None:
    product = catalog.create("Kettle", description="Cast iron", tags=["Kitchen"])
    reply = catalog.patch(product["product_id"], {"name": "Iron kettle", "tags": ["Tea", "tea"]})
    assert reply.status == 200, reply.body
    assert reply.body["name"] == "Iron kettle"
    assert reply.body["description"] == "Cast iron"
    assert reply.body["tags"] == ["tea"]
    assert reply.body["updated_at"] >= product["updated_at"]
    assert catalog.get(product["product_id"]).body["name"] == "Iron kettle"


def test_a_new_product_shows_its_counters_at_zero(catalog: Catalog) -> None:
    product = catalog.create()
    assert product["status"] == "active"
    assert product["rating"] == {"average": None, "count": 0}
    assert product["sold"] == 0
    assert product["images"] == []
    assert product["category_id"] is None


def test_a_price_change_is_ledgered_and_is_the_carts_price(catalog: Catalog, shop: Shop) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku], prices=(1000,))
    cart_id, token = shop.cart_with({sku: 1})
    reply = catalog.patch_sku(product["product_id"], sku, {"price": money(800)})
    assert reply.status == 200, reply.body
    assert reply.body["skus"][0]["price"] == money(800)
    history = catalog.prices(product["product_id"], sku)
    assert history.status == 200
    [change] = history.body["items"]
    assert change["old"] == money(1000)
    assert change["new"] == money(800)
    assert change["actor"] == "0a000000-0000-4000-8000-000000000003"
    # The cart already holding the line shows, and checkout charges, the current price.
    cart = shop.set_line(cart_id, sku, 1, token=token)
    assert cart.body["lines"][0]["unit_price"] == money(800)
    placed = shop.place(cart_id, token=token)
    assert placed.status == 202, placed.body
    assert placed.body["totals"]["subtotal"] == money(800)


def test_attributes_are_replaced_whole_and_no_change_writes_nothing(
    catalog: Catalog, scan_all: Callable[[], Any]
) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku])
    reply = catalog.patch_sku(product["product_id"], sku, {"attributes": {"colour": "red"}})
    assert reply.body["skus"][0]["attributes"] == {"colour": "red"}
    before = scan_all()
    same = catalog.patch_sku(product["product_id"], sku, {"attributes": {"colour": "red"}})
    assert same.status == 200
    assert scan_all() == before
    assert catalog.prices(product["product_id"], sku).body["items"] == []


def test_archived_products_vanish_from_the_storefront_and_carts(
    catalog: Catalog, shop: Shop
) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku])
    kept = catalog.create()
    cart_id, token = shop.cart_with({sku: 1})
    catalog.archive(product["product_id"])
    assert_problem(catalog.get(product["product_id"]), 404, "not-found")
    assert product["product_id"] not in catalog.ids()
    assert kept["product_id"] in catalog.ids()
    staff = catalog.get_any(product["product_id"])
    assert staff.status == 200
    assert staff.body["status"] == "archived"
    other_cart, other_token = shop.new_cart()
    assert_problem(shop.set_line(other_cart, sku, 1, token=other_token), 409, "conflict")
    # A line already in a cart can still be taken out, but not checked out.
    assert_problem(shop.place(cart_id, token=token), 409, "conflict")
    assert shop.set_line(cart_id, sku, 0, token=token).status == 200
    restored = catalog.patch(product["product_id"], {"status": "active"})
    assert restored.body["status"] == "active"
    assert product["product_id"] in catalog.ids()
    assert shop.set_line(other_cart, sku, 1, token=other_token).status == 200


def test_orders_keep_what_they_bought_after_archiving(catalog: Catalog, shop: Shop) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku], prices=(2500,))
    cart_id, token = shop.cart_with({sku: 2})
    placed = shop.place(cart_id, token=token)
    assert placed.status == 202
    catalog.archive(product["product_id"])
    order = shop.get(placed.body["order_id"], token=token)
    assert order.status == 200
    assert order.body["lines"] == [{"sku": sku, "quantity": 2, "unit_price": money(2500)}]


BAD_PATCHES = [
    ({"name": ""}, "empty name"),
    ({"name": "   "}, "blank name"),
    ({"tags": ["x" * 41]}, "tag over 40 characters"),
    ({"tags": ["   "]}, "blank tag"),
    ({"tags": [f"t{i}" for i in range(11)]}, "too many tags"),
    ({"status": "deleted"}, "unknown status"),
    ({"category_id": "not-an-id"}, "malformed category"),
    ({"category_id": "0" * 32}, "unknown category"),
    ({"price": money(5)}, "a SKU field on the product"),
]


@pytest.mark.parametrize(("body", "why"), BAD_PATCHES, ids=[why for _, why in BAD_PATCHES])
def test_bad_product_patches_are_400_and_change_nothing(
    catalog: Catalog, scan_all: Callable[[], Any], body: Any, why: str
) -> None:
    product = catalog.create()
    before = scan_all()
    assert_problem(catalog.patch(product["product_id"], body), 400, "validation-error")
    assert scan_all() == before, why


BAD_SKU_PATCHES = [
    ({"price": {"amount": 10.5, "currency": "CNY"}}, "a float amount"),
    ({"price": {"amount": "1000", "currency": "CNY"}}, "a string amount"),
    ({"price": {"amount": -1, "currency": "CNY"}}, "a negative amount"),
    ({"price": {"amount": 100, "currency": "USD"}}, "another currency"),
    ({"price": 1000}, "a bare number"),
    ({"price": {"amount": 100}}, "no currency"),
    ({"attributes": {"k": "v" * 257}}, "a long attribute"),
]


@pytest.mark.parametrize(("body", "why"), BAD_SKU_PATCHES, ids=[why for _, why in BAD_SKU_PATCHES])
def test_a_price_that_is_not_money_is_400_and_changes_nothing(
    catalog: Catalog, scan_all: Callable[[], Any], body: Any, why: str
) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku])
    before = scan_all()
    assert_problem(catalog.patch_sku(product["product_id"], sku, body), 400, "validation-error")
    assert scan_all() == before, why


def test_unknown_products_and_skus_are_404(catalog: Catalog) -> None:
    product = catalog.create()
    assert_problem(catalog.patch("0" * 32, {"name": "x"}), 404, "not-found")
    assert_problem(catalog.patch("../x", {"name": "x"}), 404, "not-found")
    assert_problem(
        catalog.patch_sku(product["product_id"], "NOPE-1", {"price": money(1)}), 404, "not-found"
    )
    assert_problem(catalog.prices(product["product_id"], "NOPE-1"), 404, "not-found")


@pytest.mark.parametrize(
    ("who", "status", "kind"),
    [(None, 401, "unauthorized"), ("customer", 403, "forbidden"), ("support", 403, "forbidden")],
)
def test_only_ops_edit(
    catalog: Catalog, scan_all: Callable[[], Any], who: str | None, status: int, kind: str
) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku])
    before = scan_all()
    assert_problem(catalog.patch(product["product_id"], {"name": "x"}, who=who), status, kind)
    assert_problem(
        catalog.patch_sku(product["product_id"], sku, {"price": money(1)}, who=who), status, kind
    )
    assert scan_all() == before


def test_support_reads_archived_products_but_customers_do_not(catalog: Catalog) -> None:
    product = catalog.create()
    catalog.archive(product["product_id"])
    assert catalog.get_any(product["product_id"], who="support").status == 200
    assert_problem(catalog.get_any(product["product_id"], who="customer"), 403, "forbidden")
