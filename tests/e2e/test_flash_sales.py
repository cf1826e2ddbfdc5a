"""Flash sales over HTTP through the local stack (API.md, "Flash sales (v1.1)"): ops schedule a
sale live now; the product, a customer's cart line and the charge at checkout use the sale
price; the public GET shows it live with the SKU's stock; a sale scheduled for later changes no
price; bad input is a problem that changes nothing."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest
import requests
from commerce.clock import iso
from http_problems import assert_problem
from stack_helpers import (
    create_skus,
    new_cart,
    new_sku,
    ops,
    place_order,
    put_item,
    sandbox_records,
    wait_for_order,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

HOUR = 3600


def _schedule(
    stack: StackProcess, sku: str, price: int, start: int, end: int, limit: int = 3
) -> requests.Response:
    body = {
        "sku": sku,
        "price": {"amount": price, "currency": "CNY"},
        "starts_at": iso(start),
        "ends_at": iso(end),
        "per_customer_limit": limit,
    }
    return requests.post(
        f"{stack.base_url}/admin/flash-sales", json=body, headers=ops(stack), timeout=30
    )


def _customer(stack: StackProcess) -> dict[str, str]:
    return stack.auth(f"e2e-buyer-{uuid.uuid4().hex[:8]}", ["customer"])


def _put_line(
    stack: StackProcess, cart_id: str, sku: str, quantity: int, headers: dict[str, str]
) -> requests.Response:
    """``PUT`` a cart line and hand back the answer, refusals included (``put_item`` wants 200)."""
    return requests.put(
        f"{stack.base_url}/carts/{cart_id}/items/{sku}",
        json={"quantity": quantity},
        headers=headers,
        timeout=30,
    )


def _sku_view(stack: StackProcess, product: dict[str, Any], sku: str) -> dict[str, Any]:
    shown = requests.get(f"{stack.base_url}/products/{product['product_id']}", timeout=30)
    assert shown.status_code == 200, shown.text
    view: dict[str, Any] = next(s for s in shown.json()["skus"] if s["sku"] == sku)
    return view


def test_a_live_sale_prices_the_product_the_cart_and_the_charge(stack: StackProcess) -> None:
    sku = new_sku("E2E-SALE")
    product = create_skus(stack, [sku], stock=30, price=1000, name="E2E flash sale item")
    now = int(time.time())
    made = _schedule(stack, sku, 600, now, now + HOUR, limit=3)
    assert made.status_code == 201, made.text
    sale = made.json()
    assert sale["status"] == "live"
    assert sale["price"] == {"amount": 600, "currency": "CNY"}

    public = requests.get(f"{stack.base_url}/flash-sales/{sale['flash_sale_id']}", timeout=30)
    assert public.status_code == 200, public.text
    assert public.json()["status"] == "live"
    assert public.json()["available"] == 30

    view = _sku_view(stack, product, sku)
    assert view["price"]["amount"] == 600
    assert view["flash_sale"]["flash_sale_id"] == sale["flash_sale_id"]
    assert view["flash_sale"]["regular_price"]["amount"] == 1000

    buyer = _customer(stack)
    cart_id, reach = new_cart(stack, buyer)
    cart = put_item(stack, cart_id, sku, 2, reach)
    assert cart["lines"][0]["unit_price"] == {"amount": 600, "currency": "CNY"}
    assert cart["totals"]["subtotal"]["amount"] == 1200
    placed = place_order(stack, cart_id, reach)
    order = wait_for_order(stack, placed["order_id"], buyer, "PAID")
    assert order["lines"][0]["unit_price"]["amount"] == 600
    assert order["totals"]["subtotal"]["amount"] == 1200
    [charge] = sandbox_records(stack, placed["order_id"], "charge#")
    assert int(charge["amount"]["N"]) == order["totals"]["total"]["amount"]

    after = requests.get(f"{stack.base_url}/flash-sales/{sale['flash_sale_id']}", timeout=30)
    assert after.json()["available"] == 28


def test_a_sale_scheduled_for_later_changes_no_price(stack: StackProcess) -> None:
    sku = new_sku("E2E-SALE")
    product = create_skus(stack, [sku], stock=5, price=1000)
    now = int(time.time())
    made = _schedule(stack, sku, 600, now + HOUR, now + 2 * HOUR)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "scheduled"
    view = _sku_view(stack, product, sku)
    assert view["price"]["amount"] == 1000
    assert "flash_sale" not in view
    cart_id, reach = new_cart(stack, _customer(stack))
    assert put_item(stack, cart_id, sku, 1, reach)["lines"][0]["unit_price"]["amount"] == 1000
    listed = requests.get(
        f"{stack.base_url}/admin/flash-sales", params={"sku": sku}, headers=ops(stack), timeout=30
    )
    assert listed.status_code == 200, listed.text
    assert [s["flash_sale_id"] for s in listed.json()["items"]] == [made.json()["flash_sale_id"]]


def test_bad_sales_are_problems_and_change_nothing(stack: StackProcess) -> None:
    sku = new_sku("E2E-SALE")
    create_skus(stack, [sku], stock=5, price=1000)
    now = int(time.time())
    assert _schedule(stack, sku, 600, now + HOUR, now + 2 * HOUR).status_code == 201
    cases = [
        (_schedule(stack, sku, 600, now + 3 * HOUR, now + 3 * HOUR), 400, "ends_at"),
        (_schedule(stack, sku, 1000, now + 3 * HOUR, now + 4 * HOUR), 400, "price"),
        (
            _schedule(stack, sku, 600, now + 3 * HOUR, now + 4 * HOUR, limit=0),
            400,
            "per_customer_limit",
        ),
        (_schedule(stack, new_sku("E2E-NONE"), 600, now + 3 * HOUR, now + 4 * HOUR), 400, "sku"),
        (_schedule(stack, sku, 500, now + 90 * 60, now + 3 * HOUR), 409, "starts_at"),
    ]
    for reply, status, field in cases:
        problem = assert_problem(reply, status, "validation-error" if status == 400 else "conflict")
        assert field in {e["field"] for e in problem["errors"]}, problem
    listed = requests.get(
        f"{stack.base_url}/admin/flash-sales", params={"sku": sku}, headers=ops(stack), timeout=30
    )
    assert len(listed.json()["items"]) == 1


@pytest.mark.skipif(
    os.environ.get("E2E_DEMO_DATA", "1") == "0", reason="the stack has no demo data"
)
def test_the_demo_sale_is_live_and_holds_its_limit_over_http(stack: StackProcess) -> None:
    """``make run``'s demo schedules a sale of the mooncake box (limit 2): a shopper sees the
    sale price, a guest cannot hold it, a customer holds at most 2 across carts."""
    sku = "DEMO-MOONCAKE-FLASH"
    listed = requests.get(f"{stack.base_url}/products", params={"limit": 100}, timeout=30)
    assert listed.status_code == 200, listed.text
    product = next(p for p in listed.json()["items"] if any(s["sku"] == sku for s in p["skus"]))
    view = _sku_view(stack, product, sku)
    assert view["price"] == {"amount": 12800, "currency": "CNY"}
    assert view["flash_sale"]["regular_price"]["amount"] == 19800
    public = requests.get(
        f"{stack.base_url}/flash-sales/{view['flash_sale']['flash_sale_id']}", timeout=30
    )
    assert public.status_code == 200, public.text
    assert public.json()["status"] == "live"
    assert public.json()["per_customer_limit"] == 2

    guest_cart, guest = new_cart(stack)
    assert_problem(_put_line(stack, guest_cart, sku, 1, guest), 401, "unauthorized")

    buyer = _customer(stack)
    first, reach = new_cart(stack, buyer)
    second, _ = new_cart(stack, buyer)
    over = _put_line(stack, first, sku, 3, reach)
    assert assert_problem(over, 409, "purchase-limit")["limit"] == 2
    assert put_item(stack, first, sku, 2, reach)["lines"][0]["unit_price"]["amount"] == 12800
    assert_problem(_put_line(stack, second, sku, 1, reach), 409, "purchase-limit")
    removed = requests.delete(
        f"{stack.base_url}/carts/{first}/items/{sku}", headers=reach, timeout=30
    )
    assert removed.status_code == 200, removed.text
    assert put_item(stack, second, sku, 1, reach)["lines"][0]["quantity"] == 1
    requests.delete(f"{stack.base_url}/carts/{second}/items/{sku}", headers=reach, timeout=30)
