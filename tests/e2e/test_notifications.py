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


def _outbox(stack: StackProcess) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.base_url}/_local/outbox", timeout=30)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _signed_in_paid_order(stack: StackProcess, headers: dict[str, str]) -> str:
    base = stack.base_url
    sku = _product(stack)
    cart = requests.post(f"{base}/carts", headers=headers, timeout=30).json()
    put = requests.put(
        f"{base}/carts/{cart['cart_id']}/items/{sku}",
        json={"quantity": 1},
        headers=headers,
        timeout=30,
    )
    assert put.status_code == 200, put.text
    placed = requests.post(
        f"{base}/orders",
        json={"cart_id": cart["cart_id"], "payment": {"method": "card", "token": "tok_ok"}},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert placed.status_code == 202, placed.text
    order_id: str = placed.json()["order_id"]
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        order = requests.get(f"{base}/orders/{order_id}", headers=headers, timeout=30).json()
        if order["status"] != "PENDING_PAYMENT":
            break
        time.sleep(0.3)
    assert order["status"] == "PAID"
    return order_id


def test_a_customer_on_push_gets_each_step_on_each_device_once(stack: StackProcess) -> None:
    base = stack.base_url
    sub = f"e2e-push-{uuid.uuid4().hex[:8]}"
    headers = stack.auth(sub, ["customer"], f"{sub}@example.com")
    patched = requests.patch(
        f"{base}/me",
        json={"notification_channels": ["push"], "locale": "zh-CN"},
        headers=headers,
        timeout=30,
    )
    assert patched.status_code == 200, patched.text
    registered = [
        requests.post(
            f"{base}/me/devices",
            json={"platform": platform, "token": f"{platform}-{uuid.uuid4().hex}"},
            headers=headers,
            timeout=30,
        )
        for platform in ("ios", "android")
    ]
    assert [r.status_code for r in registered] == [201, 201], [r.text for r in registered]
    listed = requests.get(f"{base}/me/devices", headers=headers, timeout=30).json()["items"]
    assert sorted(d["platform"] for d in listed) == ["android", "ios"]

    order_id = _signed_in_paid_order(stack, headers)
    wanted = {"zh-CN/order.placed.push", "zh-CN/order.paid.push"}

    def pushes() -> list[dict[str, Any]]:
        return [i for i in _outbox(stack) if i["channel"] == "push" and order_id[-8:] in i["body"]]

    deadline = time.monotonic() + POLL_SECONDS
    while len(pushes()) < 2 * len(wanted) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2)  # let any duplicate that was coming arrive
    found = pushes()

    # One of each step per device: two endpoints (APNs and FCM), each told twice, nothing more.
    assert sorted(p["template"] for p in found) == sorted([*wanted, *wanted])
    assert len({p["to"] for p in found}) == 2
    assert {p["to"].split(":endpoint/")[1].split("/")[0] for p in found} == {"APNS", "GCM"}
    assert all(p["subject"] for p in found)  # the notification's title
    assert not [
        i for i in _outbox(stack) if i["channel"] == "email" and i["to"] == f"{sub}@example.com"
    ], "push only: no email"


def test_a_removed_device_is_told_nothing_more(stack: StackProcess) -> None:
    base = stack.base_url
    sub = f"e2e-push-{uuid.uuid4().hex[:8]}"
    email = f"{sub}@example.com"
    headers = stack.auth(sub, ["customer"], email)
    patched = requests.patch(
        f"{base}/me", json={"notification_channels": ["email", "push"]}, headers=headers, timeout=30
    )
    assert patched.status_code == 200, patched.text
    device = requests.post(
        f"{base}/me/devices",
        json={"platform": "web", "token": f"web-{uuid.uuid4().hex}"},
        headers=headers,
        timeout=30,
    )
    assert device.status_code == 201, device.text
    device_id = device.json()["device_id"]
    removed = requests.delete(f"{base}/me/devices/{device_id}", headers=headers, timeout=30)
    assert removed.status_code == 204, removed.text
    again = requests.delete(f"{base}/me/devices/{device_id}", headers=headers, timeout=30)
    assert again.status_code == 404
    assert again.headers["Content-Type"].startswith("application/problem+json")
    assert requests.get(f"{base}/me/devices", headers=headers, timeout=30).json()["items"] == []

    order_id = _signed_in_paid_order(stack, headers)
    # The paid email proves the event went through the consumer; the push went nowhere.
    deadline = time.monotonic() + POLL_SECONDS
    while "en/order.paid.email" not in {m["template"] for m in _mail_to(stack, email)}:
        assert time.monotonic() < deadline, "the paid email never arrived"
        time.sleep(0.3)
    assert not [i for i in _outbox(stack) if i["channel"] == "push" and order_id[-8:] in i["body"]]
