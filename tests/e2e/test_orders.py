"""Orders over HTTP through the local stack: who may read and cancel, cancel before and after
payment, shipping, the list's pages, and a declined payment that releases the stock."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from stack_helpers import checkout, create_product, level, wait_for_order, wait_until_settled

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HAS_PAYMENTS = (ROOT / "functions" / "payments" / "app.py").exists()
needs_payments = pytest.mark.skipif(
    not HAS_PAYMENTS, reason="functions/payments does not exist yet: orders cannot be paid"
)


def _product(stack: StackProcess, stock: int) -> str:
    return create_product(stack, "E2E-ORD", stock=stock, price=3000, name="E2E order item")


def test_authorization_matrix(stack: Any) -> None:
    sku = _product(stack, stock=5)
    placed = checkout(stack, sku)
    url = f"{stack.base_url}/orders/{placed['order_id']}"
    cases = {
        "order token": ({"X-Order-Token": placed["order_token"]}, 200),
        "nobody": ({}, 404),
        "wrong token": ({"X-Order-Token": "w" * 43}, 404),
        "a customer": (stack.auth(f"e2e-c-{uuid.uuid4().hex[:6]}", ["customer"]), 404),
        "support": (stack.auth("e2e-support", ["support"]), 200),
        "ops": (stack.auth("e2e-ops", ["ops"]), 200),
    }
    for name, (headers, status) in cases.items():
        reply = requests.get(url, headers=headers, timeout=30)
        assert reply.status_code == status, (name, reply.text)
    support_cancel = requests.post(
        f"{url}/cancel", headers=stack.auth("e2e-support", ["support"]), timeout=30
    )
    assert support_cancel.status_code == 403
    assert support_cancel.json()["type"] == "forbidden"


def test_guest_cancels_before_payment_and_stock_comes_back(stack: Any) -> None:
    sku = _product(stack, stock=5)
    placed = checkout(stack, sku, 2)
    headers = {"X-Order-Token": placed["order_token"]}
    reply = requests.post(
        f"{stack.base_url}/orders/{placed['order_id']}/cancel", headers=headers, timeout=30
    )
    if reply.status_code == 409:  # the payment won the race: cancel the paid order instead
        reply = requests.post(
            f"{stack.base_url}/orders/{placed['order_id']}/cancel", headers=headers, timeout=30
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "CANCELLED"
    if HAS_PAYMENTS:
        wait_until_settled(stack)  # whatever was still coming (a duplicate, a late charge) came
    assert level(stack, sku) == (5, 0, 5)


@needs_payments
def test_declined_payment_releases_the_stock(stack: Any) -> None:
    sku = _product(stack, stock=5)
    me = stack.auth(f"e2e-decl-{uuid.uuid4().hex[:6]}", ["customer"], "d@example.com")
    placed = checkout(stack, sku, 3, headers=me, card="tok_declined")
    failed = wait_for_order(stack, placed["order_id"], me, "PAYMENT_FAILED")
    assert failed["payment"]["status"] == "DECLINED"
    assert level(stack, sku) == (5, 0, 5)


@needs_payments
def test_paid_order_cancel_ship_and_list(stack: Any) -> None:
    base = stack.base_url
    sku = _product(stack, stock=10)
    sub = f"e2e-paid-{uuid.uuid4().hex[:6]}"
    me = stack.auth(sub, ["customer"], f"{sub}@example.com")
    ops = stack.auth("e2e-ops", ["ops"])
    first = checkout(stack, sku, 2, headers=me)
    second = checkout(stack, sku, 1, headers=me)
    third = checkout(stack, sku, 1, headers=me)
    for placed in (first, second, third):
        wait_for_order(stack, placed["order_id"], me, "PAID")
    assert level(stack, sku) == (6, 0, 6)

    cancelled = requests.post(f"{base}/orders/{first['order_id']}/cancel", headers=me, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["payment"]["status"] == "REFUNDED"
    assert level(stack, sku) == (8, 0, 8)

    shipment = {"carrier": "sf-express", "tracking_number": "SF0001"}
    by_customer = requests.post(
        f"{base}/admin/orders/{second['order_id']}/shipments", json=shipment, headers=me, timeout=30
    )
    assert by_customer.status_code == 403
    shipped = requests.post(
        f"{base}/admin/orders/{second['order_id']}/shipments",
        json=shipment,
        headers=ops,
        timeout=30,
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "SHIPPED"
    too_late = requests.post(f"{base}/orders/{second['order_id']}/cancel", headers=me, timeout=30)
    assert too_late.status_code == 409
    assert too_late.json()["type"] == "conflict"

    seen: list[str] = []
    token = None
    while True:
        params = {"limit": "2", **({"next_token": token} if token else {})}
        page = requests.get(f"{base}/orders", params=params, headers=me, timeout=30)
        assert page.status_code == 200, page.text
        seen += [o["order_id"] for o in page.json()["items"]]
        token = page.json().get("next_token")
        if not token:
            break
    assert seen == [third["order_id"], second["order_id"], first["order_id"]]
