"""Notifications end to end: a guest's paid order shows its emails in GET /_local/outbox.

The order's events go from the orders and payments functions to the notifications queue; the
stack pumps it into NotificationsFunction, which sends through moto's SES; the outbox lists what
SES received. Each email arrives once, addressed to the checkout's email.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

POLL_SECONDS = 30


def _product(stack: StackProcess) -> str:
    sku = f"E2E-NTF-{uuid.uuid4().hex[:10]}"
    response = requests.post(
        f"{stack.base_url}/admin/products",
        json={
            "name": "E2E notified item",
            "skus": [{"sku": sku, "price": {"amount": 1250, "currency": "CNY"}, "stock": 10}],
        },
        headers=stack.auth("e2e-ops", ["ops"]),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return sku


def _paid_guest_order(stack: StackProcess, email: str) -> str:
    base = stack.base_url
    sku = _product(stack)
    cart = requests.post(f"{base}/carts", timeout=30).json()
    headers = {"X-Cart-Token": cart["cart_token"]}
    put = requests.put(
        f"{base}/carts/{cart['cart_id']}/items/{sku}",
        json={"quantity": 2},
        headers=headers,
        timeout=30,
    )
    assert put.status_code == 200, put.text
    placed = requests.post(
        f"{base}/orders",
        json={
            "cart_id": cart["cart_id"],
            "email": email,
            "payment": {"method": "card", "token": "tok_ok"},
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert placed.status_code == 202, placed.text
    order_id: str = placed.json()["order_id"]
    token = {"X-Order-Token": placed.json()["order_token"]}
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        order = requests.get(f"{base}/orders/{order_id}", headers=token, timeout=30).json()
        if order["status"] != "PENDING_PAYMENT":
            break
        time.sleep(0.3)
    assert order["status"] == "PAID"
    return order_id


def _mail_to(stack: StackProcess, email: str) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.base_url}/_local/outbox", timeout=30)
    assert response.status_code == 200, response.text
    return [i for i in response.json()["items"] if i["channel"] == "email" and i["to"] == email]


def test_a_paid_guest_order_shows_its_placed_and_paid_emails_once(stack: StackProcess) -> None:
    email = f"e2e-notify-{uuid.uuid4().hex[:8]}@example.com"
    order_id = _paid_guest_order(stack, email)

    wanted = {"en/order.placed.email", "en/order.paid.email"}
    deadline = time.monotonic() + POLL_SECONDS
    mail = _mail_to(stack, email)
    while {m["template"] for m in mail} < wanted and time.monotonic() < deadline:
        time.sleep(0.3)
        mail = _mail_to(stack, email)
    time.sleep(2)  # let any duplicate that was coming arrive
    mail = _mail_to(stack, email)

    assert sorted(m["template"] for m in mail) == sorted(wanted)
    for item in mail:
        assert order_id[-8:] in item["subject"]
        assert order_id in item["body"]
