"""What the end-to-end and reliability tests do to the local stack, as an API.md client would.

Each helper makes one HTTP call (or one short sequence: a cart, its line, the order) against a
running :class:`~infra.local.harness.StackProcess` and asserts the status the flow depends on,
so a test reads as its steps. Polling helpers wait on asynchronous work (payments, the outbox,
queues) and fail with what they last saw. ``tests/`` is on ``sys.path`` for every test (pytest
puts the directory of ``tests/conftest.py`` there), so test modules import this as
``stack_helpers``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import queue_helpers
import requests
from commerce.webhooks.signatures import sign

from infra.local.demo_catalog import ship_and_deliver
from infra.local.environment import DEV_WEBHOOK_SECRET
from infra.local.harness import StackProcess

#: How long a test waits for asynchronous work (a payment, a notification) before it fails.
POLL_SECONDS = 45


def _call(stack: StackProcess, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    """One request to the stack that must answer ``expect``; the decoded body (None if empty)."""
    response = requests.request(method, f"{stack.base_url}{path}", timeout=60, **kwargs)
    assert response.status_code == expect, response.text
    return response.json() if response.content else None


def staff(stack: StackProcess, *groups: str) -> dict[str, str]:
    """The Authorization header of a user in ``groups`` (named after the first of them)."""
    return stack.auth(f"e2e-{groups[0]}", list(groups))


#: A shipping address in Shanghai, as a client sends it with PUT /carts/{id}/shipping-address.
ADDRESS = {
    "name": "Li Wei",
    "line1": "88 Nanjing East Road",
    "city": "Shanghai",
    "postal_code": "200001",
    "country": "CN",
    "phone": "+8613812345678",
}


def ops(stack: StackProcess) -> dict[str, str]:
    """The Authorization header of the ops user who stocks the shop."""
    return staff(stack, "ops")


def new_sku(prefix: str) -> str:
    """A SKU code no other test (or earlier run on the same stack) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_skus(
    stack: StackProcess,
    skus: Sequence[str],
    *,
    stock: int,
    price: int,
    name: str = "E2E item",
    safety_stock: int | None = None,
) -> dict[str, Any]:
    """POST /admin/products as ops: one product with these SKUs, each with ``stock`` units;
    the product."""
    entries: list[dict[str, Any]] = []
    for sku in skus:
        entry: dict[str, Any] = {
            "sku": sku,
            "price": {"amount": price, "currency": "CNY"},
            "stock": stock,
        }
        if safety_stock is not None:
            entry["safety_stock"] = safety_stock
        entries.append(entry)
    product: dict[str, Any] = _call(
        stack,
        "POST",
        "/admin/products",
        201,
        json={"name": name, "skus": entries},
        headers=ops(stack),
    )
    return product


def create_product(
    stack: StackProcess,
    prefix: str,
    *,
    stock: int,
    price: int,
    name: str = "E2E item",
    safety_stock: int | None = None,
) -> str:
    """A new product with one SKU (named from ``prefix``); its SKU code."""
    sku = new_sku(prefix)
    create_skus(stack, [sku], stock=stock, price=price, name=name, safety_stock=safety_stock)
    return sku


def inventory(stack: StackProcess, sku: str) -> dict[str, Any]:
    """GET /admin/inventory/{sku} as ops."""
    body: dict[str, Any] = _call(stack, "GET", f"/admin/inventory/{sku}", 200, headers=ops(stack))
    return body


def adjust_stock(
    stack: StackProcess, sku: str, delta: Any, key: str | None = None
) -> requests.Response:
    """POST /admin/inventory/{sku}/adjustments as ops (with an Idempotency-Key if given)."""
    headers = ops(stack) | ({"Idempotency-Key": key} if key else {})
    return requests.post(
        f"{stack.base_url}/admin/inventory/{sku}/adjustments",
        json={"delta": delta, "reason": "e2e count"},
        headers=headers,
        timeout=30,
    )


def level(stack: StackProcess, sku: str) -> tuple[int, int, int]:
    """The SKU's (on_hand, reserved, available)."""
    body = inventory(stack, sku)
    return body["on_hand"], body["reserved"], body["available"]


def new_cart(
    stack: StackProcess, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """POST /carts as the caller of ``headers`` (none: a guest); the cart id and the headers that
    reach the cart from now on (a guest's carry its ``X-Cart-Token``)."""
    body = _call(stack, "POST", "/carts", 201, headers=headers or {})
    reach = dict(headers or {})
    if "cart_token" in body:
        reach["X-Cart-Token"] = body["cart_token"]
    return body["cart_id"], reach


def put_item(
    stack: StackProcess, cart_id: str, sku: str, quantity: int, headers: dict[str, str]
) -> dict[str, Any]:
    """PUT /carts/{cart_id}/items/{sku}: hold ``quantity`` units; the cart."""
    path = f"/carts/{cart_id}/items/{sku}"
    cart: dict[str, Any] = _call(
        stack, "PUT", path, 200, json={"quantity": quantity}, headers=headers
    )
    return cart


def place_order(
    stack: StackProcess,
    cart_id: str,
    headers: dict[str, str],
    *,
    email: str | None = None,
    card: str = "tok_ok",
    method: str = "card",
) -> dict[str, Any]:
    """POST /orders for the cart (paid with sandbox token ``card``, or by ``method`` alipay or
    wechat_pay, which take no token) under a fresh Idempotency-Key, asserting 202; the order."""
    payment = {"method": "card", "token": card} if method == "card" else {"method": method}
    body: dict[str, Any] = {"cart_id": cart_id, "payment": payment}
    if email is not None:
        body["email"] = email
    key = {"Idempotency-Key": uuid.uuid4().hex}
    placed: dict[str, Any] = _call(
        stack, "POST", "/orders", 202, json=body, headers={**headers, **key}
    )
    return placed


def checkout(
    stack: StackProcess,
    sku: str,
    quantity: int = 1,
    *,
    headers: dict[str, str] | None = None,
    email: str | None = "guest@example.com",
    card: str = "tok_ok",
    method: str = "card",
) -> dict[str, Any]:
    """A cart with ``quantity`` of ``sku``, checked out by the caller of ``headers`` (none: a
    guest, who gives ``email``); the 202 body (a guest's carries its ``order_token``)."""
    cart_id, reach = new_cart(stack, headers)
    put_item(stack, cart_id, sku, quantity, reach)
    signed_in = "Authorization" in reach
    return place_order(
        stack, cart_id, reach, email=None if signed_in else email, card=card, method=method
    )


def order_token(placed: dict[str, Any]) -> dict[str, str]:
    """The header that lets a guest read the order they placed."""
    return {"X-Order-Token": placed["order_token"]}


def get_order(stack: StackProcess, order_id: str, headers: dict[str, str]) -> dict[str, Any]:
    order: dict[str, Any] = _call(stack, "GET", f"/orders/{order_id}", 200, headers=headers)
    return order


def wait_for_order(
    stack: StackProcess,
    order_id: str,
    headers: dict[str, str],
    *statuses: str,
    timeout: float = POLL_SECONDS,
) -> dict[str, Any]:
    """Poll GET /orders/{order_id} until its status is one of ``statuses`` (none given: until it
    leaves PENDING_PAYMENT, as payment runs asynchronously); fails when it does not in time."""
    deadline = time.monotonic() + timeout
    while True:
        body = get_order(stack, order_id, headers)
        done = body["status"] in statuses if statuses else body["status"] != "PENDING_PAYMENT"
        if done:
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"order {order_id} is still {body['status']} after {timeout}s")
        time.sleep(0.3)


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy, and return that; fails after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def ship(stack: StackProcess, order_id: str, carrier: str = "sf") -> dict[str, Any]:
    """POST /admin/orders/{order_id}/shipments as ops, with a fresh tracking number; the order."""
    shipment = {"carrier": carrier, "tracking_number": f"SF{uuid.uuid4().hex[:10].upper()}"}
    path = f"/admin/orders/{order_id}/shipments"
    shipped: dict[str, Any] = _call(stack, "POST", path, 200, json=shipment, headers=ops(stack))
    return shipped


def deliver(stack: StackProcess, order_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """Ship the order once it is PAID and have its carrier report the delivery (as the demo
    does); the DELIVERED order as the caller of ``headers`` (its owner or token holder) reads
    it."""
    wait_for_order(stack, order_id, headers, "PAID")
    ship_and_deliver(stack.base_url, order_id, ops(stack))
    return wait_for_order(stack, order_id, headers, "DELIVERED")


def local_payment(stack: StackProcess, order_id: str, outcome: str) -> dict[str, Any]:
    """POST /_local/payments/{order_id}: the order's provider (played locally) pays, fails or
    refunds, and sends its signed notification to the webhook; what the webhook answered."""
    answer: dict[str, Any] = _call(
        stack, "POST", f"/_local/payments/{order_id}", 202, json={"outcome": outcome}
    )
    return answer


def refund(
    stack: StackProcess, order_id: str, amount: int, key: str, reason: str = "goodwill"
) -> requests.Response:
    """POST /admin/orders/{order_id}/refunds as ops under Idempotency-Key ``key``."""
    return requests.post(
        f"{stack.base_url}/admin/orders/{order_id}/refunds",
        json={"amount": {"amount": amount, "currency": "CNY"}, "reason": reason},
        headers={**ops(stack), "Idempotency-Key": key},
        timeout=30,
    )


def outbox(stack: StackProcess) -> list[dict[str, Any]]:
    """Every email, SMS and push the stack has sent (GET /_local/outbox)."""
    items: list[dict[str, Any]] = _call(stack, "GET", "/_local/outbox", 200)["items"]
    return items


def carrier_report(
    stack: StackProcess, carrier: str, payload: dict[str, Any], secret: str = DEV_WEBHOOK_SECRET
) -> requests.Response:
    """POST /webhooks/carriers/{carrier}, signed as the carrier signs (the stack's dev secret)."""
    raw = json.dumps(payload)
    return requests.post(
        f"{stack.base_url}/webhooks/carriers/{carrier}",
        data=raw.encode(),
        headers={
            "Content-Type": "application/json",
            "X-Signature": sign(secret, int(time.time()), raw),
        },
        timeout=30,
    )


# --- the stack's tables and queues, read straight from its emulators ---------------------------


def scan(stack: StackProcess, table: str) -> list[dict[str, Any]]:
    """Every item of one of the stack's tables (its logical id, e.g. ``OrdersTable``)."""
    scanner = stack.client("dynamodb").get_paginator("scan")
    pages = scanner.paginate(TableName=stack.info["tables"][table], ConsistentRead=True)
    return [item for page in pages for item in page["Items"]]


def order_item(stack: StackProcess, order_id: str) -> dict[str, Any]:
    """The order's item in the Orders table."""
    item: dict[str, Any] = stack.client("dynamodb").get_item(
        TableName=stack.info["tables"]["OrdersTable"],
        Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
        ConsistentRead=True,
    )["Item"]
    return item


def sandbox_records(stack: StackProcess, partition: str, prefix: str) -> list[dict[str, Any]]:
    """The sandbox provider's ledger records under ``partition`` (an order id, a charge id)
    whose key starts with ``prefix`` (``charge#``, ``movement#``), as stored."""
    items = stack.client("dynamodb").query(
        TableName=stack.info["tables"]["SandboxPaymentsTable"],
        KeyConditionExpression="pk = :p AND begins_with(sk, :k)",
        ExpressionAttributeValues={":p": {"S": partition}, ":k": {"S": prefix}},
        ConsistentRead=True,
    )["Items"]
    return [item["record"]["M"] for item in items]


def approved_charges(stack: StackProcess, order_id: str) -> int:
    """How many approved charges the sandbox provider's ledger holds for the order."""
    records = sandbox_records(stack, order_id, "charge#")
    return sum(1 for record in records if record["status"]["S"] == "approved")


def refunded_at_provider(stack: StackProcess, order_id: str) -> int:
    """Fen the sandbox provider has refunded (or voided) of the order's charge."""
    charge_id = order_item(stack, order_id)["payment"]["M"]["charge_id"]["S"]
    return sum(
        int(record["amount"]["N"]) for record in sandbox_records(stack, charge_id, "movement#")
    )


_DEPTHS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_depth(stack: StackProcess, queue: str) -> int:
    """Messages on one of the stack's queues (its logical id): visible, in flight or delayed."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.info["queues"][queue], AttributeNames=list(_DEPTHS)
    )["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in _DEPTHS)


def wait_until_settled(
    stack: StackProcess,
    queues: Sequence[str] = ("PaymentsQueue", "NotificationsQueue"),
    timeout: float = 60.0,
) -> None:
    """Poll until every message of ``queues`` has been handled (none visible, in flight or
    delayed, twice in a row): whatever a flow was going to send, duplicates included, has been
    sent by then. A consumer deletes a message only once it has acted on it."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        assert time.monotonic() < deadline, f"{queues} still busy after {timeout} s"
        quiet = quiet + 1 if all(queue_depth(stack, q) == 0 for q in queues) else 0
        time.sleep(0.2)


def drain(stack: StackProcess, queue: str) -> list[str]:
    """Receive and delete every message waiting on one of the stack's queues; their bodies."""
    url = stack.info["queues"][queue]
    return [message["Body"] for message in queue_helpers.drain(stack.client("sqs"), url)]
