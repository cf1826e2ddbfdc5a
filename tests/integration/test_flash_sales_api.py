"""Flash sales through the catalog handler on moto: scheduling, reading, listing, bad input, and
the sale price in product views, carts and checkout."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog, FlashSales, money, new_sku, operations_during, sale_body
from commerce import clock
from http_problems import assert_problem
from orders_world import Shop

pytestmark = pytest.mark.integration

HOUR = 3600


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


@pytest.fixture
def sales(catalog: Catalog) -> FlashSales:
    return FlashSales(catalog)


@pytest.fixture
def sku(catalog: Catalog) -> str:
    code = new_sku("SALE")
    catalog.create(skus=[code], prices=(1000,), stock=25)
    return code


def test_ops_schedule_a_sale_and_anyone_reads_it_with_the_stock(
    sales: FlashSales, sku: str
) -> None:
    now = clock.now()
    reply = sales.create(sale_body(sku, 600, now, now + HOUR, limit=3))
    assert reply.status == 201, reply.body
    created = reply.body
    assert created["sku"] == sku
    assert created["price"] == money(600)
    assert created["starts_at"] == clock.iso(now)
    assert created["ends_at"] == clock.iso(now + HOUR)
    assert created["per_customer_limit"] == 3
    assert created["status"] == "live"
    public = sales.get(created["flash_sale_id"], who=None)
    assert public.status == 200, public.body
    assert public.body == {**created, "available": 25}


def test_a_time_with_another_zone_is_read_as_the_same_instant(sales: FlashSales, sku: str) -> None:
    body = sale_body(sku, 600, 0, 0)
    body["starts_at"] = "2031-11-11T00:00:00+08:00"
    body["ends_at"] = "2031-11-11T02:00:00+08:00"
    reply = sales.create(body)
    assert reply.status == 201, reply.body
    assert reply.body["starts_at"] == "2031-11-10T16:00:00Z"
    assert reply.body["ends_at"] == "2031-11-10T18:00:00Z"
    assert reply.body["status"] == "scheduled"


def test_status_follows_the_clock(
    sales: FlashSales, sku: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    sale_id = sales.schedule(sku, 600, now + HOUR, now + 2 * HOUR)
    assert sales.get(sale_id).body["status"] == "scheduled"
    monkeypatch.setattr(clock, "now", lambda: now + HOUR)
    assert sales.get(sale_id).body["status"] == "live"
    monkeypatch.setattr(clock, "now", lambda: now + 2 * HOUR)
    assert sales.get(sale_id).body["status"] == "ended"


def test_ops_list_a_skus_sales_latest_first_a_page_at_a_time(sales: FlashSales, sku: str) -> None:
    now = clock.now()
    ids = [sales.schedule(sku, 600, now + n * HOUR, now + n * HOUR + 60) for n in range(3)]
    first = sales.of_sku(sku, limit="2")
    assert first.status == 200, first.body
    assert [s["flash_sale_id"] for s in first.body["items"]] == [ids[2], ids[1]]
    rest = sales.of_sku(sku, limit="2", next_token=first.body["next_token"])
    assert [s["flash_sale_id"] for s in rest.body["items"]] == [ids[0]]
    assert "next_token" not in rest.body
    other = new_sku("SALE")
    assert sales.of_sku(other).body == {"items": []}
    stolen = sales.of_sku(other, next_token=first.body["next_token"])
    assert_problem(stolen, 400, "validation-error")


def test_only_ops_schedule_and_list_sales(sales: FlashSales, sku: str) -> None:
    now = clock.now()
    body = sale_body(sku, 600, now, now + HOUR)
    assert_problem(sales.create(body, who=None), 401, "unauthorized")
    assert_problem(sales.create(body, who="customer"), 403, "forbidden")
    assert_problem(sales.create(body, who="support"), 403, "forbidden")
    assert sales.create(body, who="admin").status == 201
    assert_problem(sales.of_sku(sku, who="customer"), 403, "forbidden")


def test_an_unknown_sale_is_not_found(sales: FlashSales) -> None:
    assert_problem(sales.get("0" * 32), 404, "not-found")
    assert_problem(sales.get("not-an-id"), 404, "not-found")


# --- bad input: a problem naming the field, and nothing written ---------------------------


def _bad(code: str, changes: dict[str, Any]) -> dict[str, Any]:
    now = clock.now()
    return {**sale_body(code, 600, now, now + HOUR), **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "STARTS"}, "ends_at"),
        ({"price": money(1000)}, "price"),
        ({"price": money(1500)}, "price"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"per_customer_limit": -1}, "per_customer_limit"),
        ({"starts_at": "2020-01-01T00:00:00Z"}, "starts_at"),
        ({"starts_at": "2031-01-01T00:00:00"}, "starts_at"),
        ({"price": {"amount": 1.5, "currency": "CNY"}}, "price.amount"),
        ({"sku": "NO-SUCH-SKU-1"}, "sku"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    sales: FlashSales,
    sku: str,
    scan_all: Callable[[], Any],
    changes: dict[str, Any],
    field: str,
) -> None:
    body = _bad(sku, changes)
    if body["ends_at"] == "STARTS":
        body["ends_at"] = body["starts_at"]
    before = scan_all()
    problem = assert_problem(sales.create(body), 400, "validation-error")
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert scan_all() == before


def test_an_overlapping_sale_is_a_409_naming_the_other_and_changes_nothing(
    sales: FlashSales, sku: str, scan_all: Callable[[], Any]
) -> None:
    now = clock.now()
    first = sales.schedule(sku, 600, now + HOUR, now + 3 * HOUR)
    before = scan_all()
    overlapping = sales.create(sale_body(sku, 500, now + 2 * HOUR, now + 4 * HOUR))
    problem = assert_problem(overlapping, 409, "conflict")
    assert problem["flash_sale_id"] == first
    assert {e["field"] for e in problem["errors"]} == {"starts_at", "ends_at"}
    assert scan_all() == before
    # Windows are half-open: the next sale may start the second this one ends.
    assert sales.create(sale_body(sku, 500, now + 3 * HOUR, now + 4 * HOUR)).status == 201
    assert sales.create(sale_body(sku, 500, now, now + HOUR)).status == 201


def test_a_sale_of_an_archived_products_sku_is_a_409(catalog: Catalog, sales: FlashSales) -> None:
    code = new_sku("SALE")
    product = catalog.create(skus=[code])
    catalog.archive(product["product_id"])
    now = clock.now()
    assert_problem(sales.create(sale_body(code, 600, now, now + HOUR)), 409, "conflict")


# --- the sale price everywhere ------------------------------------------------------------


def test_a_live_sale_is_the_price_in_product_views(catalog: Catalog, sales: FlashSales) -> None:
    code, other = new_sku("SALE"), new_sku("SALE")
    product = catalog.create(skus=[code, other], prices=(1000, 2000))
    now = clock.now()
    sale_id = sales.schedule(code, 600, now, now + HOUR, limit=2)
    shown = catalog.get(product["product_id"]).body
    on_sale, regular = shown["skus"]
    assert on_sale["price"] == money(600)
    assert on_sale["flash_sale"] == {
        "flash_sale_id": sale_id,
        "price": money(600),
        "regular_price": money(1000),
        "ends_at": clock.iso(now + HOUR),
        "per_customer_limit": 2,
    }
    assert regular["price"] == money(2000)
    assert "flash_sale" not in regular
    [listed] = [p for p in catalog.all() if p["product_id"] == product["product_id"]]
    assert listed["skus"] == shown["skus"]


def test_a_sale_prices_carts_from_its_start_to_its_end(
    sales: FlashSales, sku: str, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    sales.schedule(sku, 600, now + HOUR, now + 2 * HOUR)
    cart_id, _ = shop.cart_with({sku: 1}, who="customer")

    def price_at(moment: int) -> Any:
        monkeypatch.setattr(clock, "now", lambda: moment)
        reply = shop.set_line(cart_id, sku, 1, who="customer")
        assert reply.status == 200, reply.body
        return reply.body["lines"][0]["unit_price"]

    assert price_at(now) == money(1000)
    assert price_at(now + HOUR) == money(600)
    assert price_at(now + 2 * HOUR) == money(1000)


def test_carts_show_and_checkout_charges_the_sale_price(
    sales: FlashSales, sku: str, shop: Shop
) -> None:
    now = clock.now()
    sales.schedule(sku, 600, now, now + HOUR, limit=5)
    cart_id, _ = shop.cart_with({sku: 2}, who="customer")
    cart = shop.set_line(cart_id, sku, 2, who="customer")
    assert cart.status == 200, cart.body
    assert cart.body["lines"][0]["unit_price"] == money(600)
    assert cart.body["totals"]["subtotal"] == money(1200)
    placed = shop.place(cart_id, who="customer")
    assert placed.status == 202, placed.body
    assert placed.body["totals"]["subtotal"] == money(1200)
    order = shop.get(placed.body["order_id"], who="customer").body
    assert order["lines"][0]["unit_price"] == money(600)


def test_a_regular_price_lowered_below_the_sale_price_is_never_undercut(
    catalog: Catalog, sales: FlashSales, shop: Shop
) -> None:
    code = new_sku("SALE")
    product = catalog.create(skus=[code], prices=(1000,))
    now = clock.now()
    sales.schedule(code, 800, now, now + HOUR)
    reply = catalog.patch_sku(product["product_id"], code, {"price": money(700)})
    assert reply.status == 200, reply.body
    assert catalog.get(product["product_id"]).body["skus"][0]["price"] == money(700)


def test_pricing_a_sku_on_sale_costs_the_one_read_it_always_did(
    sales: FlashSales, sku: str
) -> None:
    from commerce.store import products

    now = clock.now()
    sale_id = sales.schedule(sku, 600, now, now + HOUR)
    found: dict[str, Any] = {}
    operations = operations_during(lambda: found.update(products.offers([sku])))
    assert operations == ["BatchGetItem"]
    offer = found[sku]
    assert offer.price.amount == 600
    assert offer.regular_price.amount == 1000
    assert offer.flash_sale.sale_id == sale_id
    assert offer.flash_sale.per_customer_limit == 2
    assert offer.flash_sale.ends_at == now + HOUR
    later = products.offers([sku], at=now + HOUR)[sku]
    assert later.price.amount == 1000
    assert later.flash_sale is None
