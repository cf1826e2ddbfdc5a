"""Support's order search (GET /admin/orders?email&status) through OrdersFunction on moto: from
the Orders table's gsi3 only, guests included, newest first, paged across the status buckets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.client import BaseClient
from commerce.orders import search
from commerce.store import keys
from orders_world import Reply, Shop, deliver, event, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-FIND-1"


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 200), price=1500)
    return shop


def find(shop: Shop, who: str | None = "support", **query: str) -> Reply:
    return invoke(shop.orders, event("orders_search.json", who=who, query=query or None))


def placed(shop: Shop, *, who: str | None = None, email: str = "guest@example.com") -> str:
    cart_id, token = shop.cart_with({SKU: 1}, who=who)
    reply = shop.place(cart_id, who=who, token=token, email=None if who else email)
    assert reply.status == 202, reply.body
    order_id: str = reply.body["order_id"]
    return order_id


def ids(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [o["order_id"] for o in reply.body["items"]]


def test_by_email_any_case_guests_included_newest_first(shop: Shop) -> None:
    first = placed(shop, email="Wang.Fang@Example.com")
    second = placed(shop, email="wang.fang@example.com")
    placed(shop, email="someone.else@example.com")
    mine = placed(shop, who="customer")  # the account's email: customer@example.com
    assert ids(find(shop, email="WANG.FANG@example.com")) == [second, first]
    assert ids(find(shop, email="customer@example.com")) == [mine]
    assert ids(find(shop, email="nobody@example.com")) == []
    body = find(shop, email="wang.fang@example.com").body["items"][0]
    assert body["email"] == "wang.fang@example.com"  # staff see the order's email


def test_by_status_across_buckets_page_by_page(shop: Shop) -> None:
    orders = [placed(shop, email=f"p{n}@example.com") for n in range(9)]
    buckets = {keys.order_status_bucket(o) for o in orders}
    assert len(buckets) > 1  # the pages really merge several partitions
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"status": "PENDING_PAYMENT", "limit": "4"}
        if token:
            query["next_token"] = token
        reply = find(shop, **query)
        seen += ids(reply)
        pages += 1
        token = reply.body.get("next_token")
        if token is None:
            break
    assert pages == 3
    assert seen == list(reversed(orders))  # newest first, each once


def test_a_move_takes_the_order_to_its_new_status(shop: Shop) -> None:
    order_id = placed(shop, who="customer")
    deliver(shop, order_id)
    assert order_id not in ids(find(shop, status="PENDING_PAYMENT"))
    assert ids(find(shop, status="DELIVERED")) == [order_id]
    assert ids(find(shop, email="customer@example.com", status="DELIVERED")) == [order_id]
    assert ids(find(shop, email="customer@example.com", status="PAID")) == []


def test_search_never_scans(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    placed(shop)
    scans: list[str] = []
    original = BaseClient._make_api_call

    def watching(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Scan":
            scans.append(params.get("TableName", ""))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", watching)
    assert ids(find(shop, status="PENDING_PAYMENT"))
    assert ids(find(shop, email="guest@example.com"))
    assert scans == []


def test_roles_and_bad_requests(shop: Shop, scan_all: Any) -> None:
    order_id = placed(shop)
    assert ids(find(shop, who="ops", status="PENDING_PAYMENT")) == [order_id]
    assert ids(find(shop, who="admin", status="PENDING_PAYMENT")) == [order_id]
    before = scan_all()
    problem(find(shop, who="customer", status="PENDING_PAYMENT"), 403, "forbidden")
    problem(find(shop, who=None, status="PENDING_PAYMENT"), 401, "unauthorized")
    missing = find(shop)
    problem(missing, 400, "validation-error")
    assert {e["field"] for e in missing.body["errors"]} == {"email", "status"}
    problem(find(shop, status="SHIPPING"), 400, "validation-error")
    problem(find(shop, email="not an email"), 400, "validation-error")
    problem(find(shop, status="PAID", limit="101"), 400, "validation-error")
    assert scan_all() == before
    assert "next_token" not in find(shop, status="PENDING_PAYMENT", limit="1").body


def test_a_token_serves_only_the_search_it_came_from(shop: Shop) -> None:
    placed(shop)
    placed(shop)
    token = find(shop, status="PENDING_PAYMENT", limit="1").body["next_token"]
    problem(find(shop, status="PAID", next_token=token), 400, "validation-error")
    problem(find(shop, email="guest@example.com", next_token=token), 400, "validation-error")
    email_token = find(shop, email="guest@example.com", limit="1").body["next_token"]
    problem(find(shop, email="other@example.com", next_token=email_token), 400, "validation-error")
    problem(find(shop, status="PAID", next_token="garbage!"), 400, "validation-error")
    rest = find(shop, email="guest@example.com", limit="1", next_token=email_token)
    assert len(ids(rest)) == 1


def test_the_status_token_round_trips() -> None:
    cursors = {0: "2030-01-01T00:00:00.000000Z#a", 1: "~", 2: "!", 3: "~"}
    token = search._status_token(search.OrderStatus.PAID, cursors)
    assert token is not None
    assert search._status_cursors(search.OrderStatus.PAID, token) == cursors
    assert search._status_token(search.OrderStatus.PAID, None) is None
