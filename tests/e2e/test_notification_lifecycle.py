"""Every order step reaches the customer once, on each channel they chose, in their language.

Over the local stack and HTTP only: a customer whose profile says zh-CN, with a phone and a
registered device, chooses email, SMS and push. One order goes the whole way (placed, paid,
shipped, delivered by a signed carrier report, return requested, refunded), a second is
cancelled and a third is declined. For each step the outbox must show exactly one email (its
zh-CN template), one push (its zh-CN template) and one SMS (in Chinese, with the carriers'
signature), and nothing else for these orders.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import requests
from stack_helpers import (
    carrier_report,
    checkout,
    create_product,
    ops,
    outbox,
    wait_for_order,
    wait_until_settled,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

POLL_SECONDS = 45
CARRIER = "sf-express"


class Customer:
    """A signed-in customer on every channel, talking to the stack over HTTP."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        self.sub = f"e2e-life-{uuid.uuid4().hex[:8]}"
        self.email = f"{self.sub}@example.com"
        self.phone = "+86139" + "".join(random.choices("0123456789", k=8))
        self.headers = stack.auth(self.sub, ["customer"], self.email)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.stack.base_url}{path}", headers=self.headers, timeout=30, **kwargs
        )

    def on_every_channel(self) -> None:
        profile = self.call(
            "PATCH",
            "/me",
            json={
                "notification_channels": ["email", "sms", "push"],
                "locale": "zh-CN",
                "phone": self.phone,
            },
        )
        assert profile.status_code == 200, profile.text
        device = self.call(
            "POST", "/me/devices", json={"platform": "android", "token": uuid.uuid4().hex}
        )
        assert device.status_code == 201, device.text

    def order(self, sku: str, payment_token: str) -> str:
        placed = checkout(self.stack, sku, headers=self.headers, card=payment_token)
        return str(placed["order_id"])

    def wait_for(self, order_id: str, status: str) -> dict[str, Any]:
        return wait_for_order(self.stack, order_id, self.headers, status)


def _delivered_by_carrier(stack: StackProcess, order_id: str) -> None:
    event = {
        "event_id": f"evt-{uuid.uuid4().hex[:12]}",
        "type": "delivered",
        "order_id": order_id,
        "at": int(time.time()),
    }
    reported = carrier_report(stack, CARRIER, event)
    assert reported.status_code == 200, reported.text


def _messages(stack: StackProcess, customer: Customer, refs: list[str]) -> list[dict[str, Any]]:
    """What the outbox holds for these orders: email and push by the order's short reference
    in their text, SMS by the customer's number (each SMS names its order too)."""
    return [
        item
        for item in outbox(stack)
        if item["to"] in (customer.email, customer.phone) or item["channel"] == "push"
        if any(ref in item["body"] or ref in (item.get("subject") or "") for ref in refs)
    ]


def _settle(
    stack: StackProcess, customer: Customer, refs: list[str], expected: int
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + POLL_SECONDS
    while len(found := _messages(stack, customer, refs)) < expected:
        assert time.monotonic() < deadline, f"{len(found)} of {expected} messages arrived"
        time.sleep(0.5)
    wait_until_settled(stack)  # whatever was still coming (a duplicate, a late charge) came
    return _messages(stack, customer, refs)


def test_each_order_step_reaches_each_chosen_channel_once_in_the_customers_language(
    stack: StackProcess,
) -> None:
    customer = Customer(stack)
    customer.on_every_channel()
    sku = create_product(stack, "E2E-LIFE", stock=10, price=4200, name="E2E lifecycle item")

    kept = customer.order(sku, "tok_ok")
    customer.wait_for(kept, "PAID")
    shipped = requests.post(
        f"{stack.base_url}/admin/orders/{kept}/shipments",
        json={"carrier": CARRIER, "tracking_number": "SF1234567890"},
        headers=ops(stack),
        timeout=30,
    )
    assert shipped.status_code == 200, shipped.text
    _delivered_by_carrier(stack, kept)
    customer.wait_for(kept, "DELIVERED")
    requested = customer.call(
        "POST", f"/orders/{kept}/returns", json={"lines": [{"sku": sku, "quantity": 1}]}
    )
    assert requested.status_code == 201, requested.text
    received = requests.post(
        f"{stack.base_url}/admin/orders/{kept}/returns/{requested.json()['return_id']}/receive",
        headers=ops(stack),
        timeout=30,
    )
    assert received.status_code == 200, received.text

    cancelled = customer.order(sku, "tok_ok")
    assert customer.call("POST", f"/orders/{cancelled}/cancel").status_code == 200
    declined = customer.order(sku, "tok_declined")
    customer.wait_for(declined, "PAYMENT_FAILED")

    steps = {
        kept: [
            "order.placed",
            "order.paid",
            "order.shipped",
            "order.delivered",
            "order.return_requested",
            "order.refunded",
        ],
        # Cancelled before or after the charge: placed, maybe paid, then cancelled.
        cancelled: ["order.placed", "order.cancelled"],
        declined: ["order.placed", "order.payment_failed"],
    }
    refs = [order_id[-8:] for order_id in steps]
    cancelled_was_paid = "PAID" in {
        h["status"] for h in customer.call("GET", f"/orders/{cancelled}").json()["history"]
    }
    if cancelled_was_paid:
        steps[cancelled].insert(1, "order.paid")
    total_steps = sum(len(s) for s in steps.values())
    found = _settle(stack, customer, refs, 3 * total_steps)

    by_channel = Counter(item["channel"] for item in found)
    assert by_channel == {"email": total_steps, "sms": total_steps, "push": total_steps}
    for order_id, events in steps.items():
        ref = order_id[-8:]
        mine = [item for item in found if ref in item["body"] or ref in (item.get("subject") or "")]
        for channel in ("email", "push"):
            templates = sorted(i["template"] for i in mine if i["channel"] == channel)
            assert templates == sorted(f"zh-CN/{event}.{channel}" for event in events), order_id
        sms = [i for i in mine if i["channel"] == "sms"]
        assert len(sms) == len(events), order_id
        assert all(i["to"] == customer.phone and i["body"].startswith("【") for i in sms)
    shipped_mail = next(i for i in found if i["template"] == "zh-CN/order.shipped.email")
    assert "SF1234567890" in shipped_mail["body"]
