"""Stock reads and adjustments over HTTP through the local stack."""

from __future__ import annotations

import uuid
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
        stack, "E2E-STOCK", stock=10, price=500, name="E2E stock item", safety_stock=2
    )


def test_support_reads_inventory(stack: Any, http: requests.Session, sku: str) -> None:
    response = http.get(
        f"{stack.base_url}/admin/inventory/{sku}", headers=staff(stack, "support"), timeout=30
    )
    assert response.status_code == 200
    assert response.json() == {
        "sku": sku,
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
        "safety_stock": 2,
        "shards": 1,
        "low_stock": False,
    }


def test_adjust_and_read_back(stack: Any, http: requests.Session, sku: str) -> None:
    response = adjust_stock(stack, sku, -4)
    assert response.status_code == 200
    assert response.json()["on_hand"] == 6
    product_skus = [
        s
        for p in http.get(f"{stack.base_url}/products", params={"limit": 100}, timeout=30).json()[
            "items"
        ]
        for s in p["skus"]
        if s["sku"] == sku
    ]
    assert product_skus[0]["available"] == 6


def test_idempotent_adjustment_applies_once(stack: Any, http: requests.Session, sku: str) -> None:
    key = uuid.uuid4().hex
    first = adjust_stock(stack, sku, -3, key)
    second = adjust_stock(stack, sku, -3, key)
    assert first.status_code == second.status_code == 200
    assert second.json()["on_hand"] == 7


def test_below_reserved_is_409(stack: Any, http: requests.Session, sku: str) -> None:
    response = adjust_stock(stack, sku, -11)
    assert response.status_code == 409
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["type"] == "conflict"
    assert response.json()["available"] == 10


@pytest.mark.parametrize(
    ("groups", "read", "adjust"),
    [(None, 401, 401), (("customer",), 403, 403), (("support",), 200, 403), (("admin",), 200, 200)],
)
def test_role_matrix(
    stack: Any,
    http: requests.Session,
    sku: str,
    groups: tuple[str, ...] | None,
    read: int,
    adjust: int,
) -> None:
    headers = {} if groups is None else staff(stack, *groups)
    got = http.get(f"{stack.base_url}/admin/inventory/{sku}", headers=headers, timeout=30)
    changed = http.post(
        f"{stack.base_url}/admin/inventory/{sku}/adjustments",
        json={"delta": 1, "reason": "matrix"},
        headers=headers,
        timeout=30,
    )
    assert (got.status_code, changed.status_code) == (read, adjust)
    for response in (got, changed):
        if response.status_code >= 400:
            assert response.headers["Content-Type"].startswith(PROBLEM)


def test_unknown_sku_is_404(stack: Any, http: requests.Session) -> None:
    response = http.get(
        f"{stack.base_url}/admin/inventory/NO-SUCH-{uuid.uuid4().hex[:8]}",
        headers=staff(stack, "ops"),
        timeout=30,
    )
    assert response.status_code == 404
    assert response.json()["type"] == "not-found"


def test_zero_delta_is_400(stack: Any, http: requests.Session, sku: str) -> None:
    response = adjust_stock(stack, sku, 0)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["field"] == "delta"
