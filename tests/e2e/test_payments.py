"""Payments by sandbox token and the signed webhooks, over HTTP through the local stack.

A client checks out and polls GET /orders/{order_id} (API.md: payment runs asynchronously):
``tok_ok`` reaches PAID with its stock committed, ``tok_declined`` PAYMENT_FAILED with the stock
exactly as before the cart, ``tok_flaky`` PAID after one transient failure and one charge. A
carrier's signed delivery report (the local stack's dev secret) moves a shipped order to
DELIVERED; a replay, a forgery and an unknown carrier change nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
import requests
from commerce.webhooks.signatures import sign

from infra.local.environment import DEV_WEBHOOK_SECRET
from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
POLL_SECONDS = 30


def _product(stack: StackProcess, stock: int) -> str:
    sku = f"E2E-PAY-{uuid.uuid4().hex[:10]}"
    response = requests.post(
        f"{stack.base_url}/admin/products",
        json={
            "name": "E2E payment item",
            "skus": [{"sku": sku, "price": {"amount": 1250, "currency": "CNY"}, "stock": stock}],
        },
        headers=stack.auth("e2e-ops", ["ops"]),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return sku


def _stock(stack: StackProcess, sku: str) -> tuple[int, int, int]:
    response = requests.get(
        f"{stack.base_url}/admin/inventory/{sku}",
        headers=stack.auth("e2e-ops", ["ops"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["on_hand"], body["reserved"], body["available"]


def _checkout(
    stack: StackProcess, sku: str, quantity: int, token: str
) -> tuple[str, dict[str, str]]:
    base = stack.base_url
    cart = requests.post(f"{base}/carts", timeout=30).json()
    headers = {"X-Cart-Token": cart["cart_token"]}
    put = requests.put(
        f"{base}/carts/{cart['cart_id']}/items/{sku}",
        json={"quantity": quantity},
        headers=headers,
        timeout=30,
    )
    assert put.status_code == 200, put.text
    placed = requests.post(
        f"{base}/orders",
        json={
            "cart_id": cart["cart_id"],
            "email": "e2e-pay@example.com",
            "payment": {"method": "card", "token": token},
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert placed.status_code == 202, placed.text
    body = placed.json()
    assert body["status"] == "PENDING_PAYMENT"
    return body["order_id"], {"X-Order-Token": body["order_token"]}


def _settled(stack: StackProcess, order_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """Poll GET /orders/{order_id} until it leaves PENDING_PAYMENT."""
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        response = requests.get(f"{stack.base_url}/orders/{order_id}", headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "PENDING_PAYMENT" or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def _charges(stack: StackProcess, order_id: str) -> int:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    items = dynamodb.query(
        TableName=stack.info["tables"]["SandboxPaymentsTable"],
        KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
        ExpressionAttributeValues={":p": {"S": order_id}, ":c": {"S": "charge#"}},
        ConsistentRead=True,
    )["Items"]
    return sum(1 for item in items if item["record"]["M"]["status"]["S"] == "approved")


def test_tok_ok_is_paid_and_its_stock_committed(stack: StackProcess) -> None:
    sku = _product(stack, 10)
    order_id, token = _checkout(stack, sku, 3, "tok_ok")
    order = _settled(stack, order_id, token)
    assert order["status"] == "PAID"
    assert order["payment"]["status"] == "APPROVED"
    assert [entry["status"] for entry in order["history"]] == ["PENDING_PAYMENT", "PAID"]
    assert _stock(stack, sku) == (7, 0, 7)
    assert _charges(stack, order_id) == 1


def test_tok_declined_fails_and_leaves_stock_exactly_as_before_the_cart(
    stack: StackProcess,
) -> None:
    sku = _product(stack, 6)
    before = _stock(stack, sku)
    order_id, token = _checkout(stack, sku, 6, "tok_declined")
    order = _settled(stack, order_id, token)
    assert order["status"] == "PAYMENT_FAILED"
    assert order["payment"]["status"] == "DECLINED"
    assert _stock(stack, sku) == before
    assert _charges(stack, order_id) == 0


def test_tok_flaky_is_retried_and_charged_once(stack: StackProcess) -> None:
    sku = _product(stack, 5)
    order_id, token = _checkout(stack, sku, 1, "tok_flaky")
    order = _settled(stack, order_id, token)
    assert order["status"] == "PAID"
    assert _charges(stack, order_id) == 1
    assert _stock(stack, sku) == (4, 0, 4)


def _webhook(
    stack: StackProcess, carrier: str, payload: dict[str, Any], secret: str = DEV_WEBHOOK_SECRET
) -> requests.Response:
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


def test_a_signed_carrier_delivery_marks_a_shipped_order_delivered(stack: StackProcess) -> None:
    sku = _product(stack, 3)
    order_id, token = _checkout(stack, sku, 1, "tok_ok")
    assert _settled(stack, order_id, token)["status"] == "PAID"
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
    forged = _webhook(stack, "sf-express", event, secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.headers["Content-Type"] == PROBLEM
    assert _webhook(stack, "no-such-carrier", event).status_code == 404

    delivered = _webhook(stack, "sf-express", event)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "processed"
    replay = _webhook(stack, "sf-express", event)
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")

    order = requests.get(f"{stack.base_url}/orders/{order_id}", headers=token, timeout=30).json()
    assert order["status"] == "DELIVERED"
    assert [e["status"] for e in order["history"]][-1] == "DELIVERED"
