"""Categories, and the storefront list with its filters, sorts and paging, on moto."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog, money, new_sku, operations_during
from commerce.catalog import listing
from http_problems import assert_problem
from orders_world import Shop

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


# --- categories -----------------------------------------------------------------------------


def test_two_level_tree(catalog: Catalog) -> None:
    clothing = catalog.category("Clothing")
    dresses = catalog.category("Dresses", clothing)
    coats = catalog.category("coats", clothing)
    tea = catalog.category("Tea")
    tree = catalog.tree()
    assert tree.status == 200
    assert tree.body == {
        "items": [
            {
                "category_id": clothing,
                "name": "Clothing",
                "children": [
                    {"category_id": coats, "name": "coats"},
                    {"category_id": dresses, "name": "Dresses"},
                ],
            },
            {"category_id": tea, "name": "Tea", "children": []},
        ]
    }


def test_a_third_level_is_409_and_changes_nothing(
    catalog: Catalog, scan_all: Callable[[], Any]
) -> None:
    top = catalog.category("Clothing")
    child = catalog.category("Dresses", top)
    before = scan_all()
    reply = catalog.call("catalog_create_category.json", body={"name": "Maxi", "parent_id": child})
    assert_problem(reply, 409, "conflict")
    assert scan_all() == before


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"name": "X", "parent_id": "0" * 32}, 400, "validation-error"),
        ({"name": "X", "parent_id": "nope"}, 400, "validation-error"),
        ({"name": ""}, 400, "validation-error"),
        ({"name": "  "}, 400, "validation-error"),
        ({"name": "x" * 101}, 400, "validation-error"),
        ({"name": " clothing "}, 409, "conflict"),
    ],
)
def test_bad_categories_change_nothing(
    catalog: Catalog, scan_all: Callable[[], Any], body: Any, status: int, kind: str
) -> None:
    catalog.category("Clothing")
    before = scan_all()
    assert_problem(catalog.call("catalog_create_category.json", body=body), status, kind)
    assert scan_all() == before


def test_only_ops_create_categories(catalog: Catalog) -> None:
    reply = catalog.call("catalog_create_category.json", who="customer", body={"name": "X"})
    assert_problem(reply, 403, "forbidden")


def test_a_top_level_category_lists_its_childrens_products(catalog: Catalog) -> None:
    top = catalog.category("Clothing")
    dresses = catalog.category("Dresses", top)
    coats = catalog.category("Coats", top)
    in_top = catalog.create("Scarf", category_id=top)["product_id"]
    dress = catalog.create("Dress", category_id=dresses)["product_id"]
    coat = catalog.create("Coat", category_id=coats)["product_id"]
    catalog.create("Teapot")
    assert set(catalog.ids(category_id=top)) == {in_top, dress, coat}
    assert catalog.ids(category_id=dresses) == [dress]
    moved = catalog.patch(coat, {"category_id": dresses})
    assert moved.body["category_id"] == dresses
    assert set(catalog.ids(category_id=dresses)) == {dress, coat}
    assert catalog.ids(category_id=coats) == []
    assert catalog.patch(coat, {"category_id": None}).body["category_id"] is None
    assert set(catalog.ids(category_id=top)) == {in_top, dress}


# --- filters and sorts ----------------------------------------------------------------------


@pytest.fixture
def shelf(catalog: Catalog) -> dict[str, str]:
    """Five products: names to ids, made oldest first."""
    top = catalog.category("Clothing")
    made = {
        "cheap": catalog.create("Cheap socks", prices=(500,), tags=["summer"], category_id=top),
        "mid": catalog.create("Linen shirt", prices=(3000, 9000), tags=["Summer", "linen"]),
        "dear": catalog.create("Wool coat", prices=(20000,), tags=["winter"], category_id=top),
        "empty": catalog.create("Sold-out hat", prices=(1500,), stock=0, tags=["summer"]),
        "range": catalog.create("Boots", prices=(1000, 50000)),
    }
    return {name: product["product_id"] for name, product in made.items()}


def test_newest_first_by_default(catalog: Catalog, shelf: dict[str, str]) -> None:
    assert catalog.ids() == [shelf[n] for n in ("range", "empty", "dear", "mid", "cheap")]


def test_price_sorts_use_the_lowest_sku_price(catalog: Catalog, shelf: dict[str, str]) -> None:
    ascending = [shelf[n] for n in ("cheap", "range", "empty", "mid", "dear")]
    assert catalog.ids(sort="price_asc") == ascending
    assert catalog.ids(sort="price_desc") == ascending[::-1]


def test_tag_filter_is_case_insensitive(catalog: Catalog, shelf: dict[str, str]) -> None:
    assert set(catalog.ids(tag="SUMMER")) == {shelf["cheap"], shelf["mid"], shelf["empty"]}
    assert catalog.ids(tag="nothing") == []


def test_price_range_matches_any_sku(catalog: Catalog, shelf: dict[str, str]) -> None:
    assert set(catalog.ids(min_price="8000", max_price="10000")) == {shelf["mid"]}
    assert set(catalog.ids(min_price="40000")) == {shelf["range"]}
    assert set(catalog.ids(max_price="1000")) == {shelf["cheap"], shelf["range"]}
    # A range between two SKU prices matches neither end.
    assert catalog.ids(min_price="4000", max_price="8000") == []
    assert catalog.ids(min_price="1000", max_price="1000", sort="price_asc") == [shelf["range"]]


def test_in_stock_leaves_out_products_nobody_can_buy(
    catalog: Catalog, shelf: dict[str, str]
) -> None:
    assert shelf["empty"] not in catalog.ids(in_stock="true")
    assert len(catalog.ids(in_stock="true")) == 4
    assert shelf["empty"] in catalog.ids(in_stock="false")


def test_filters_combine(catalog: Catalog, shelf: dict[str, str]) -> None:
    top = catalog.tree().body["items"][0]["category_id"]
    assert catalog.ids(category_id=top, tag="summer") == [shelf["cheap"]]
    assert catalog.ids(tag="summer", in_stock="true", sort="price_desc") == [
        shelf["mid"],
        shelf["cheap"],
    ]
    assert catalog.ids(category_id=top, max_price="600") == [shelf["cheap"]]


def test_best_selling_follows_paid_units(
    catalog: Catalog, shop: Shop, shelf: dict[str, str]
) -> None:
    from commerce.catalog.sales import DynamoSalesLedger

    products = {pid: catalog.get(pid).body for pid in shelf.values()}
    sku = {name: products[pid]["skus"][0]["sku"] for name, pid in shelf.items()}
    ledger = DynamoSalesLedger()
    ledger.count("order-1", "paid", {sku["dear"]: 3})
    ledger.count("order-2", "paid", {sku["cheap"]: 1})
    ledger.count("order-2", "paid", {sku["cheap"]: 1})  # redelivered: counted once
    ordered = catalog.ids(sort="best_selling")
    assert ordered[:2] == [shelf["dear"], shelf["cheap"]]
    assert catalog.get(shelf["dear"]).body["sold"] == 3
    assert catalog.get(shelf["cheap"]).body["sold"] == 1
    assert catalog.ids(sort="best_selling", tag="summer")[0] == shelf["cheap"]


# --- paging ---------------------------------------------------------------------------------


def test_pages_cover_the_list_once(catalog: Catalog, shelf: dict[str, str]) -> None:
    for sort in ("newest", "price_asc", "price_desc", "best_selling"):
        pages = list(catalog.walk(limit="2", sort=sort))
        assert [len(p) for p in pages] == [2, 2, 1]
        ids = [item["product_id"] for page in pages for item in page]
        assert sorted(ids) == sorted(shelf.values())


def test_selective_filters_stop_at_the_budget_and_carry_on(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "EXAMINE_BUDGET", 3)
    wanted = [catalog.create("Match", prices=(100,))["product_id"]]
    for _ in range(7):
        catalog.create("Other", prices=(9000,))
    wanted.append(catalog.create("Match", prices=(100,))["product_id"])
    pages = list(catalog.walk(max_price="100"))
    assert len(pages) > 2  # short pages, each after at most 3 entries read
    assert [i["product_id"] for p in pages for i in p] == wanted[::-1]


@pytest.mark.parametrize(
    "query",
    [
        {"min_price": "500", "max_price": "100"},
        {"q": "x" * 101},
        {"tag": "x" * 41},
        {"tag": "   "},
        {"category_id": "0" * 32},
        {"category_id": "not-a-category"},
        {"sort": "cheapest"},
        {"min_price": "-1"},
        {"max_price": "1.5"},
        {"in_stock": "maybe"},
        {"limit": "101"},
        {"next_token": "not*a*token"},
    ],
)
def test_bad_queries_are_400(catalog: Catalog, query: dict[str, str]) -> None:
    assert_problem(catalog.list(**query), 400, "validation-error")


def test_a_token_only_continues_its_own_query(catalog: Catalog, shelf: dict[str, str]) -> None:
    token = catalog.list(limit="1").body["next_token"]
    assert catalog.list(limit="1", next_token=token).status == 200
    for other in ({"sort": "price_asc"}, {"tag": "summer"}, {"q": "socks"}):
        assert_problem(catalog.list(limit="1", next_token=token, **other), 400, "validation-error")


def test_listing_never_scans(catalog: Catalog, shelf: dict[str, str]) -> None:
    top = catalog.tree().body["items"][0]["category_id"]
    queries: list[dict[str, str]] = [
        {},
        {"sort": "price_asc", "max_price": "5000"},
        {"sort": "best_selling", "in_stock": "true"},
        {"category_id": top, "tag": "summer"},
        {"q": "linen shirt", "sort": "price_desc"},
        {"q": "boots", "min_price": "100"},
    ]
    for query in queries:
        seen = operations_during(lambda query=query: catalog.all(**query))  # type: ignore[misc]
        assert "Query" in seen, (query, seen)
        assert "Scan" not in seen, (query, seen)
        assert set(seen) <= {"Query", "BatchGetItem", "GetItem"}, (query, seen)


def test_the_list_stays_right_while_products_change(catalog: Catalog, shop: Shop) -> None:
    """Walk every sort page by page while products are created, repriced, sold, archived
    and restored between pages: none is listed while archived, and every product left alone is
    listed exactly once. (A product whose sort key moves past the cursor may be met again or
    not at all: that is what a cursor over a changing order means.)"""
    from commerce.catalog.sales import DynamoSalesLedger

    rng = random.Random(12)
    ledger = DynamoSalesLedger()
    skus: dict[str, str] = {}
    for i in range(12):
        sku = new_sku()
        product = catalog.create(f"P{i}", skus=[sku], prices=(rng.randint(100, 9000),))
        skus[product["product_id"]] = sku
    for sort in ("newest", "price_asc", "price_desc", "best_selling"):
        stable = set(skus)
        archived: set[str] = set()
        seen: list[str] = []
        token: str | None = None
        step = 0
        while True:
            query = {"limit": "3", "sort": sort, **({"next_token": token} if token else {})}
            page = catalog.list(**query)
            assert page.status == 200, page.body
            seen += [item["product_id"] for item in page.body["items"]]
            assert not archived & {item["product_id"] for item in page.body["items"]}
            token = page.body.get("next_token")
            if not token:
                break
            step += 1
            victim = rng.choice(sorted(skus))
            stable.discard(victim)
            action = step % 4
            if action == 0:
                catalog.patch_sku(victim, skus[victim], {"price": money(rng.randint(1, 9999))})
            elif action == 1:
                ledger.count(f"order-{sort}-{step}", "paid", {skus[victim]: rng.randint(1, 5)})
            elif action == 2:
                catalog.archive(victim)
                archived.add(victim)
            else:
                catalog.patch(victim, {"status": "active"})
                archived.discard(victim)
            new = catalog.create(f"New {sort} {step}", prices=(rng.randint(100, 9000),))
            skus[new["product_id"]] = new["skus"][0]["sku"]
        for pid in stable:
            assert seen.count(pid) == 1, (sort, pid)
        for pid in list(skus):  # restore for the next sort's walk
            catalog.patch(pid, {"status": "active"})
