"""Carts over HTTP through the local stack: guests, customers, strangers, and a flash sale."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from http_problems import PROBLEM
from stack_helpers import ADDRESS, create_product, inventory, new_cart

from infra.local.harness import StackProcess, start_stack

pytestmark = pytest.mark.e2e


def _product(stack: StackProcess, stock: int) -> str:
    return create_product(stack, "E2E-CART", stock=stock, price=2500, name="E2E cart item")


def test_guest_flow(stack: Any, http: requests.Session) -> None:
    base = stack.base_url
    sku = _product(stack, stock=10)
    cart_id, token = new_cart(stack)
    put = http.put(f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": 3}, headers=token)
    assert put.status_code == 200, put.text
    (line,) = put.json()["lines"]
    assert line["quantity"] == 3
    assert line["reserved_until"]
    assert put.json()["totals"]["subtotal"] == {"amount": 7500, "currency": "CNY"}
    assert inventory(stack, sku)["reserved"] == 3

    short = http.put(f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": 11}, headers=token)
    assert short.status_code == 409
    assert short.headers["Content-Type"] == PROBLEM
    assert short.json()["type"] == "out-of-stock"
    assert short.json()["available"] == 7
    assert http.get(f"{base}/carts/{cart_id}", headers=token).json()["lines"][0]["quantity"] == 3

    set_address = http.put(f"{base}/carts/{cart_id}/shipping-address", json=ADDRESS, headers=token)
    assert set_address.status_code == 200, set_address.text
    assert set_address.json()["shipping_address"]["city"] == "Shanghai"

    removed = http.delete(f"{base}/carts/{cart_id}/items/{sku}", headers=token)
    assert removed.status_code == 200
    assert removed.json()["lines"] == []
    assert inventory(stack, sku)["reserved"] == 0

    unknown = http.put(
        f"{base}/carts/{cart_id}/items/NO-SUCH-{sku}", json={"quantity": 1}, headers=token
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "not-found"
    bad = http.put(f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": -1}, headers=token)
    assert bad.status_code == 400
    assert bad.json()["type"] == "validation-error"


def test_customer_flow_and_claim(stack: Any, http: requests.Session) -> None:
    base = stack.base_url
    sku = _product(stack, stock=5)
    customer = stack.auth(f"e2e-customer-{uuid.uuid4().hex[:8]}", ["customer"])
    created = http.post(f"{base}/carts", headers=customer)
    assert created.status_code == 201
    assert "cart_token" not in created.json()
    own = created.json()["cart_id"]
    assert (
        http.put(
            f"{base}/carts/{own}/items/{sku}", json={"quantity": 2}, headers=customer
        ).status_code
        == 200
    )
    cleared = http.delete(f"{base}/carts/{own}/items", headers=customer)
    assert cleared.status_code == 200
    assert cleared.json()["lines"] == []

    guest_cart, token = new_cart(stack)
    http.put(f"{base}/carts/{guest_cart}/items/{sku}", json={"quantity": 1}, headers=token)
    claimed = http.post(f"{base}/carts/{guest_cart}/claim", headers={**customer, **token})
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["lines"][0]["quantity"] == 1
    assert http.get(f"{base}/carts/{guest_cart}", headers=customer).status_code == 200
    assert http.get(f"{base}/carts/{guest_cart}", headers=token).status_code == 404
    assert inventory(stack, sku)["reserved"] == 1


def test_strangers_get_404_staff_may_read(stack: Any, http: requests.Session) -> None:
    base = stack.base_url
    cart_id, _token = new_cart(stack)
    stranger = stack.auth(f"e2e-stranger-{uuid.uuid4().hex[:8]}", ["customer"])
    for headers in ({}, stranger, {"X-Cart-Token": "x" * 43}):
        response = http.get(f"{base}/carts/{cart_id}", headers=headers)
        assert response.status_code == 404, response.text
        assert response.headers["Content-Type"] == PROBLEM
    support = stack.auth("e2e-support", ["support"])
    assert http.get(f"{base}/carts/{cart_id}", headers=support).status_code == 200
    bad_token = http.get(f"{base}/carts/{cart_id}", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad_token.status_code == 401
    assert bad_token.json()["type"] == "unauthorized"


def _buy(stack: StackProcess, sku: str) -> str:
    with requests.Session() as http:
        cart_id, token = new_cart(stack)
        for _ in range(20):
            response = http.put(
                f"{stack.base_url}/carts/{cart_id}/items/{sku}", json={"quantity": 1}, headers=token
            )
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")) / 10)
        if response.status_code == 200:
            return "held"
        if response.status_code == 409 and response.json()["type"] == "out-of-stock":
            return "out-of-stock"
        return f"unexpected {response.status_code}: {response.text[:200]}"


@pytest.fixture(scope="module")
def long_holds() -> Iterator[StackProcess]:
    """A stack whose holds outlast the race: with the session stack's 5-second holds, the
    sweeper would rightly hand expired units to later buyers mid-race."""
    running = start_stack(
        args=["--no-demo-data", "--no-warm"],
        env={"RESERVATION_TTL_SECONDS": "600", "SWEEP_INTERVAL_SECONDS": "60"},
        timeout=120,
    )
    try:
        yield running
    finally:
        running.stop()


def test_sixty_guests_racing_for_twenty_units_hold_exactly_twenty(
    long_holds: StackProcess,
) -> None:
    sku = _product(long_holds, stock=20)
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda _: _buy(long_holds, sku), range(60)))
    assert outcomes.count("held") == 20, outcomes
    assert outcomes.count("out-of-stock") == 40, outcomes
    stock = inventory(long_holds, sku)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (20, 20, 0)
