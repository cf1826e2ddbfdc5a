"""Hot-SKU sharding and safety stock over HTTP through the local stack (DynamoDB Local)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from http_problems import PROBLEM
from stack_helpers import adjust_stock, create_product, staff

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def sku(stack: StackProcess) -> str:
    return create_product(
        stack, "E2E-HOT", stock=30, price=900, name="E2E hot item", safety_stock=5
    )


def _set_shards(
    stack: Any, http: requests.Session, sku: str, count: Any, *groups: str
) -> requests.Response:
    return http.put(
        f"{stack.base_url}/admin/inventory/{sku}/shards",
        json={"count": count},
        headers=staff(stack, *(groups or ("ops",))),
        timeout=30,
    )


def _read(stack: Any, http: requests.Session, sku: str, group: str = "support") -> Any:
    response = http.get(
        f"{stack.base_url}/admin/inventory/{sku}", headers=staff(stack, group), timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_ops_splits_a_new_sku_and_totals_stay(stack: Any, http: requests.Session, sku: str) -> None:
    before = _read(stack, http, sku)
    response = _set_shards(stack, http, sku, 4)
    assert response.status_code == 200, response.text
    assert response.json() == {**before, "shards": 4}
    assert _read(stack, http, sku) == {**before, "shards": 4}
    products = http.get(f"{stack.base_url}/products", params={"limit": 100}, timeout=30).json()
    available = [s["available"] for p in products["items"] for s in p["skus"] if s["sku"] == sku]
    assert available == [30]


def test_adjustments_work_across_shards(stack: Any, http: requests.Session, sku: str) -> None:
    assert _set_shards(stack, http, sku, 4).status_code == 200
    assert adjust_stock(stack, sku, 7).json()["on_hand"] == 37
    down = adjust_stock(stack, sku, -20)
    assert down.status_code == 200
    assert (down.json()["on_hand"], down.json()["available"]) == (17, 17)
    too_much = adjust_stock(stack, sku, -18)
    assert too_much.status_code == 409
    assert too_much.headers["Content-Type"].startswith(PROBLEM)
    assert too_much.json()["available"] == 17
    assert _set_shards(stack, http, sku, 1).status_code == 200  # merge back: nothing reserved
    assert _read(stack, http, sku)["on_hand"] == 17


def test_support_reads_but_cannot_set_shards(stack: Any, http: requests.Session, sku: str) -> None:
    response = _set_shards(stack, http, sku, 4, "support")
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["type"] == "forbidden"
    assert _read(stack, http, sku)["shards"] == 1


def test_customer_cannot_set_shards(stack: Any, http: requests.Session, sku: str) -> None:
    assert _set_shards(stack, http, sku, 4, "customer").status_code == 403
    anonymous = http.put(
        f"{stack.base_url}/admin/inventory/{sku}/shards", json={"count": 2}, timeout=30
    )
    assert anonymous.status_code == 401


def test_bad_count_is_400(stack: Any, http: requests.Session, sku: str) -> None:
    response = _set_shards(stack, http, sku, 33)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "count"


def test_safety_stock_flags_low_stock_once_crossed(
    stack: Any, http: requests.Session, sku: str
) -> None:
    assert _set_shards(stack, http, sku, 3).status_code == 200
    patched = http.patch(
        f"{stack.base_url}/admin/inventory/{sku}",
        json={"safety_stock": 10},
        headers=staff(stack, "ops"),
        timeout=30,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["safety_stock"], patched.json()["low_stock"]) == (10, False)
    low = adjust_stock(stack, sku, -21)
    assert (low.json()["available"], low.json()["low_stock"]) == (9, True)
    back = adjust_stock(stack, sku, 1)
    assert (back.json()["available"], back.json()["low_stock"]) == (10, False)
    support = http.patch(
        f"{stack.base_url}/admin/inventory/{sku}",
        json={"safety_stock": 1},
        headers=staff(stack, "support"),
        timeout=30,
    )
    assert support.status_code == 403
