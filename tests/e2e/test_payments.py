"""Payments by sandbox token and the signed webhooks, over HTTP through the local stack.

A client checks out and polls GET /orders/{order_id} (API.md: payment runs asynchronously):
``tok_ok`` reaches PAID with its stock committed, ``tok_declined`` PAYMENT_FAILED with the stock
exactly as before the cart, ``tok_flaky`` PAID after one transient failure and one charge. A
carrier's signed delivery report (the local stack's dev secret) moves a shipped order to
DELIVERED; a replay, a forgery and an unknown carrier change nothing.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from http_problems import PROBLEM
from stack_helpers import (
    approved_charges,
    carrier_report,
    checkout,
    create_product,
    level,
    order_token,
    wait_for_order,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e


def _product(stack: StackProcess, stock: int) -> str:
    return create_product(stack, "E2E-PAY", stock=stock, price=1250, name="E2E payment item")


def _checkout(
    stack: StackProcess, sku: str, quantity: int, token: str
) -> tuple[str, dict[str, str]]:
    placed = checkout(stack, sku, quantity, email="e2e-pay@example.com", card=token)
    assert placed["status"] == "PENDING_PAYMENT"
    return placed["order_id"], order_token(placed)


def test_tok_ok_is_paid_and_its_stock_committed(stack: StackProcess) -> None:
    sku = _product(stack, 10)
    order_id, token = _checkout(stack, sku, 3, "tok_ok")
    order = wait_for_order(stack, order_id, token)
    assert order["status"] == "PAID"
    assert order["payment"]["status"] == "APPROVED"
    assert [entry["status"] for entry in order["history"]] == ["PENDING_PAYMENT", "PAID"]
    assert level(stack, sku) == (7, 0, 7)
    assert approved_charges(stack, order_id) == 1


def test_tok_declined_fails_and_leaves_stock_exactly_as_before_the_cart(
    stack: StackProcess,
) -> None:
    sku = _product(stack, 6)
    before = level(stack, sku)
    order_id, token = _checkout(stack, sku, 6, "tok_declined")
    order = wait_for_order(stack, order_id, token)
    assert order["status"] == "PAYMENT_FAILED"
    assert order["payment"]["status"] == "DECLINED"
    assert level(stack, sku) == before
    assert approved_charges(stack, order_id) == 0


def test_tok_flaky_is_retried_and_charged_once(stack: StackProcess) -> None:
    sku = _product(stack, 5)
    order_id, token = _checkout(stack, sku, 1, "tok_flaky")
    order = wait_for_order(stack, order_id, token)
    assert order["status"] == "PAID"
    assert approved_charges(stack, order_id) == 1
    assert level(stack, sku) == (4, 0, 4)


def test_a_signed_carrier_delivery_marks_a_shipped_order_delivered(stack: StackProcess) -> None:
    sku = _product(stack, 3)
    order_id, token = _checkout(stack, sku, 1, "tok_ok")
    assert wait_for_order(stack, order_id, token)["status"] == "PAID"
    shipped = requests.post(
        f"{stack.base_url}/admin/orders/{order_id}/shipments",
        json={"carrier": "sf-express", "tracking_number": "SF0000000001"},
        headers=stack.auth("e2e-ops", ["ops"]),
        timeout=30,
    )
    assert shipped.status_code == 200, shipped.text

    event = {
        "event_id": f"evt-{uuid.uuid4().hex[:12]}",
        "type": "delivered",
        "order_id": order_id,
        "at": int(time.time()),
    }
    forged = carrier_report(stack, "sf-express", event, secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.headers["Content-Type"] == PROBLEM
    assert carrier_report(stack, "no-such-carrier", event).status_code == 404

    delivered = carrier_report(stack, "sf-express", event)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "processed"
    replay = carrier_report(stack, "sf-express", event)
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")

    order = requests.get(f"{stack.base_url}/orders/{order_id}", headers=token, timeout=30).json()
    assert order["status"] == "DELIVERED"
    assert [e["status"] for e in order["history"]][-1] == "DELIVERED"
