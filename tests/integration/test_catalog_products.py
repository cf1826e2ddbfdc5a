"""Creating, reading and listing products through the catalog handler, against moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Call = Callable[[dict[str, Any]], Any]


def _items_by_pk(scan: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {
        item["pk"]["S"] + "|" + item["sk"]["S"]: item for items in scan.values() for item in items
    }


def test_create_from_sample_event_writes_product_skus_stock_and_ledger(
    call_catalog: Call, make_event: Callable[..., dict[str, Any]], scan_all: Any
) -> None:
    reply = call_catalog(make_event("catalog_create_product.json"))

    assert reply.status == 201, reply.body
    assert reply.content_type == "application/json"
    product = reply.body
    assert set(product) >= {"product_id", "name", "description", "skus"}
    assert product["name"] == "Longjing green tea"
    assert product["skus"] == [
        {
            "sku": "TEA-LJ-50G",
            "price": {"amount": 6800, "currency": "CNY"},
            "available": 120,
            "attributes": {"weight": "50g"},
        },
        {
            "sku": "TEA-LJ-250G",
            "price": {"amount": 29800, "currency": "CNY"},
            "available": 40,
            "attributes": {"weight": "250g"},
        },
    ]
    items = _items_by_pk(scan_all())
    pid = product["product_id"]
    assert f"PRODUCT#{pid}|PRODUCT" in items
    assert items["SKU#TEA-LJ-50G|SKU"]["product_id"]["S"] == pid
    shard = items["STOCK#TEA-LJ-50G#00|STOCK"]
    assert (shard["on_hand"]["N"], shard["reserved"]["N"], shard["available"]["N"]) == (
        "120",
        "0",
        "120",
    )
    assert items["SKU#TEA-LJ-50G|META"]["safety_stock"]["N"] == "10"
    assert items["SKU#TEA-LJ-250G|META"]["safety_stock"]["N"] == "0"
    ledger = [v for k, v in items.items() if k.startswith("LEDGER#TEA-LJ-50G|")]
    assert len(ledger) == 1
    assert ledger[0]["reason"]["S"] == "initial stock"
    assert ledger[0]["delta"]["N"] == "120"
    assert ledger[0]["actor"]["S"] == "5f2b7c1e-8a4d-4b6e-9c3f-1d2e3f4a5b6c"


def test_get_returns_what_was_created(
    create_product: Callable[..., Any], call_catalog: Call, make_event: Callable[..., Any]
) -> None:
    created = create_product(("GET-1", 7), name="Oolong").body
    reply = call_catalog(
        make_event("catalog_get_product.json", path_params={"product_id": created["product_id"]})
    )
    assert reply.status == 200
    assert reply.body == created


@pytest.mark.parametrize(
    "product_id", ["0123456789abcdef0123456789abcdef", "not-an-id", "x" * 2000]
)
def test_get_unknown_is_404_problem(
    call_catalog: Call, make_event: Callable[..., Any], product_id: str
) -> None:
    reply = call_catalog(
        make_event("catalog_get_product.json", path_params={"product_id": product_id})
    )
    assert reply.status == 404
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "not-found"


def test_sku_taken_by_another_product_is_409_and_nothing_written(
    create_product: Callable[..., Any],
    call_catalog: Call,
    make_event: Callable[..., Any],
    scan_all: Any,
) -> None:
    create_product(("DUP-1", 5))
    before = scan_all()
    body = {
        "name": "Second",
        "skus": [
            {"sku": "NEW-1", "price": {"amount": 1, "currency": "CNY"}, "stock": 1},
            {"sku": "DUP-1", "price": {"amount": 1, "currency": "CNY"}, "stock": 1},
        ],
    }
    reply = call_catalog(make_event("catalog_create_product.json", body=body))
    assert reply.status == 409
    assert reply.body["type"] == "conflict"
    assert "DUP-1" in reply.body["detail"]
    assert "NEW-1" not in reply.body["detail"]
    assert scan_all() == before


def _list(call_catalog: Call, make_event: Callable[..., Any], **query: str) -> Any:
    return call_catalog(make_event("catalog_list_products.json", query=query or None))


def test_list_pages_newest_first_without_duplicates_or_misses(
    create_product: Callable[..., Any], call_catalog: Call, make_event: Callable[..., Any]
) -> None:
    created = [create_product((f"PAGE-{i}", i)).body["product_id"] for i in range(7)]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", **({"next_token": token} if token else {})}
        reply = _list(call_catalog, make_event, **query)
        assert reply.status == 200
        assert len(reply.body["items"]) <= 3
        seen += [p["product_id"] for p in reply.body["items"]]
        pages += 1
        token = reply.body.get("next_token")
        if token is None:
            assert "next_token" not in reply.body
            break
    assert pages == 3
    assert seen == list(reversed(created))


def test_list_ending_on_a_page_boundary_has_no_token_on_the_last_page(
    create_product: Callable[..., Any], call_catalog: Call, make_event: Callable[..., Any]
) -> None:
    for i in range(4):
        create_product((f"EDGE-{i}", 1))
    first = _list(call_catalog, make_event, limit="2")
    second = _list(call_catalog, make_event, limit="2", next_token=first.body["next_token"])
    assert len(second.body["items"]) == 2
    assert "next_token" not in second.body


def test_list_default_page_and_available_stock(
    create_product: Callable[..., Any], call_catalog: Call, make_event: Callable[..., Any]
) -> None:
    create_product(("LIST-1", 9))
    reply = call_catalog(make_event("catalog_list_products.json"))
    assert reply.status == 200
    assert reply.body["items"][0]["skus"][0]["available"] == 9
    assert "next_token" not in reply.body


def _foreign_token() -> str:
    key = {
        "pk": {"S": "ORDER#1"},
        "sk": {"S": "ORDER"},
        "gsi1pk": {"S": "CUSTOMER#1"},
        "gsi1sk": {"S": "2026"},
    }
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        {"next_token": "garbage!"},
        {"next_token": "eyJwayI6"},
        {"next_token": _foreign_token()},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
    ],
)
def test_bad_list_queries_are_400(
    create_product: Callable[..., Any],
    call_catalog: Call,
    make_event: Callable[..., Any],
    query: dict[str, str],
) -> None:
    create_product(("Q-1", 1))
    reply = _list(call_catalog, make_event, **query)
    assert reply.status == 400
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "validation-error"
    assert reply.body["errors"][0]["field"] in {"next_token", "limit"}
