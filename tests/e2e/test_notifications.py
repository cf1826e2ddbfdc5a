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
from stack_helpers import (
    checkout,
    create_product,
    order_token,
    outbox,
    wait_for_order,
    wait_until_settled,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

POLL_SECONDS = 30


def _paid_order(
    stack: StackProcess,
    quantity: int,
    *,
    headers: dict[str, str] | None = None,
    email: str | None = None,
) -> str:
    """A new product's order, placed by ``headers``' caller (or a guest with ``email``), PAID."""
    sku = create_product(stack, "E2E-NTF", stock=10, price=1250, name="E2E notified item")
    placed = checkout(stack, sku, quantity, headers=headers, email=email)
    order_id: str = placed["order_id"]
    assert wait_for_order(stack, order_id, headers or order_token(placed))["status"] == "PAID"
    return order_id


def _mail_to(stack: StackProcess, email: str) -> list[dict[str, Any]]:
    return [i for i in outbox(stack) if i["channel"] == "email" and i["to"] == email]


def test_a_paid_guest_order_shows_its_placed_and_paid_emails_once(stack: StackProcess) -> None:
    email = f"e2e-notify-{uuid.uuid4().hex[:8]}@example.com"
    order_id = _paid_order(stack, 2, email=email)

    wanted = {"en/order.placed.email", "en/order.paid.email"}
    deadline = time.monotonic() + POLL_SECONDS
    mail = _mail_to(stack, email)
    while {m["template"] for m in mail} < wanted and time.monotonic() < deadline:
        time.sleep(0.3)
        mail = _mail_to(stack, email)
    wait_until_settled(stack)  # whatever was still coming (a duplicate, a late charge) came
    mail = _mail_to(stack, email)

    assert sorted(m["template"] for m in mail) == sorted(wanted)
    for item in mail:
        assert order_id[-8:] in item["subject"]
        assert order_id in item["body"]


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

    order_id = _paid_order(stack, 1, headers=headers)
    wanted = {"zh-CN/order.placed.push", "zh-CN/order.paid.push"}

    def pushes() -> list[dict[str, Any]]:
        return [i for i in outbox(stack) if i["channel"] == "push" and order_id[-8:] in i["body"]]

    deadline = time.monotonic() + POLL_SECONDS
    while len(pushes()) < 2 * len(wanted) and time.monotonic() < deadline:
        time.sleep(0.3)
    wait_until_settled(stack)  # whatever was still coming (a duplicate, a late charge) came
    found = pushes()

    # One of each step per device: two endpoints (APNs and FCM), each told twice, nothing more.
    assert sorted(p["template"] for p in found) == sorted([*wanted, *wanted])
    assert len({p["to"] for p in found}) == 2
    assert {p["to"].split(":endpoint/")[1].split("/")[0] for p in found} == {"APNS", "GCM"}
    assert all(p["subject"] for p in found)  # the notification's title
    assert not [
        i for i in outbox(stack) if i["channel"] == "email" and i["to"] == f"{sub}@example.com"
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

    order_id = _paid_order(stack, 1, headers=headers)
    # The paid email proves the event went through the consumer; the push went nowhere.
    deadline = time.monotonic() + POLL_SECONDS
    while "en/order.paid.email" not in {m["template"] for m in _mail_to(stack, email)}:
        assert time.monotonic() < deadline, "the paid email never arrived"
        time.sleep(0.3)
    assert not [i for i in outbox(stack) if i["channel"] == "push" and order_id[-8:] in i["body"]]
