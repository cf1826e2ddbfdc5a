"""The catalog over HTTP through the local stack, as an API.md client uses it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from http_problems import PROBLEM
from stack_helpers import new_sku, ops

pytestmark = pytest.mark.e2e


def _all_products(http: requests.Session, base_url: str) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if token:
            params["next_token"] = token
        response = http.get(f"{base_url}/products", params=params, timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        products += page["items"]
        token = page.get("next_token")
        if not token:
            return products


def _new_product(sku: str, stock: int = 5) -> dict[str, Any]:
    return {
        "name": "E2E kettle",
        "description": "Cast iron",
        "skus": [
            {
                "sku": sku,
                "price": {"amount": 12900, "currency": "CNY"},
                "stock": stock,
                "attributes": {"colour": "black"},
            }
        ],
    }


def test_demo_products_are_listed_publicly(stack: Any, http: requests.Session) -> None:
    skus = {s["sku"] for p in _all_products(http, stack.base_url) for s in p["skus"]}
    assert {"DEMO-LONGJING-50G", "DEMO-TEACUP-SET4", "DEMO-MOONCAKE-FLASH"} <= skus


def test_create_get_list(stack: Any, http: requests.Session) -> None:
    sku = new_sku("E2E-KETTLE")
    created = http.post(
        f"{stack.base_url}/admin/products", json=_new_product(sku), headers=ops(stack), timeout=30
    )
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["skus"] == [
        {
            "sku": sku,
            "price": {"amount": 12900, "currency": "CNY"},
            "available": 5,
            "attributes": {"colour": "black"},
        }
    ]
    got = http.get(f"{stack.base_url}/products/{product['product_id']}", timeout=30)
    assert got.status_code == 200
    assert got.json()["name"] == "E2E kettle"
    first_page = http.get(f"{stack.base_url}/products", params={"limit": 1}, timeout=30).json()
    assert first_page["items"][0]["product_id"] == product["product_id"]


def test_sku_is_unique_across_products(stack: Any, http: requests.Session) -> None:
    sku = new_sku("E2E-UNIQUE")
    url = f"{stack.base_url}/admin/products"
    assert http.post(url, json=_new_product(sku), headers=ops(stack), timeout=30).ok
    again = http.post(url, json=_new_product(sku), headers=ops(stack), timeout=30)
    assert again.status_code == 409
    assert again.headers["Content-Type"].startswith(PROBLEM)
    assert again.json()["type"] == "conflict"


@pytest.mark.parametrize(
    ("groups", "status", "slug"),
    [
        (None, 401, "unauthorized"),
        (["customer"], 403, "forbidden"),
        (["support"], 403, "forbidden"),
    ],
)
def test_create_needs_ops(
    stack: Any, http: requests.Session, groups: list[str] | None, status: int, slug: str
) -> None:
    headers = {} if groups is None else {"Authorization": f"Bearer {stack.token('e2e-u', groups)}"}
    response = http.post(
        f"{stack.base_url}/admin/products",
        json=_new_product(new_sku("E2E-DENIED")),
        headers=headers,
        timeout=30,
    )
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["type"] == slug


def test_bad_token_is_401(stack: Any, http: requests.Session) -> None:
    response = http.post(
        f"{stack.base_url}/admin/products",
        json=_new_product(new_sku("E2E-BADTOKEN")),
        headers={"Authorization": "Bearer not.a.jwt"},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["type"] == "unauthorized"


def test_unknown_product_is_404(stack: Any, http: requests.Session) -> None:
    response = http.get(f"{stack.base_url}/products/{uuid.uuid4().hex}", timeout=30)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["type"] == "not-found"


def test_invalid_product_is_400_and_not_created(stack: Any, http: requests.Session) -> None:
    sku = new_sku("E2E-BAD")
    body = _new_product(sku)
    body["skus"][0]["price"]["amount"] = 129.0
    response = http.post(
        f"{stack.base_url}/admin/products", json=body, headers=ops(stack), timeout=30
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"] == "validation-error"
    assert problem["errors"][0]["field"] == "skus[0].price.amount"
    skus = {s["sku"] for p in _all_products(http, stack.base_url) for s in p["skus"]}
    assert sku not in skus


def test_tampered_page_token_is_400(stack: Any, http: requests.Session) -> None:
    response = http.get(
        f"{stack.base_url}/products", params={"next_token": "bm90LWEtdG9rZW4"}, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "next_token"
