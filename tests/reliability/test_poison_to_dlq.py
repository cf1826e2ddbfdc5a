"""A poison message lands in the payments DLQ while the rest of its batch completes.

Over the shared local stack: real orders are placed through checkout, then one batch of ten is
sent straight to the payments queue: two poison messages (not JSON; an order that does not
exist) and a message for each order. The consumer reports only the poison ones as failed, so
they are received again until their maxReceiveCount (5) sends them to PaymentsDLQ, while the
order messages are acknowledged the first time: the queue drains, the DLQ holds exactly the
two poison bodies, and every order is PAID with one charge.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
import requests

from infra.local.harness import StackProcess

pytestmark = pytest.mark.reliability

ORDERS = 8
POISON = ["this is not json", json.dumps({"order_id": "no-such-order-0000"})]
DEADLINE_SECONDS = 60


def _client(stack: StackProcess, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.dynamodb_endpoint if service == "dynamodb" else stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _order(stack: StackProcess, sku: str) -> str:
    base = stack.base_url
    cart = requests.post(f"{base}/carts", timeout=60).json()
    headers = {"X-Cart-Token": cart["cart_token"]}
    put = requests.put(
        f"{base}/carts/{cart['cart_id']}/items/{sku}",
        json={"quantity": 1},
        headers=headers,
        timeout=60,
    )
    assert put.status_code == 200, put.text
    placed = requests.post(
        f"{base}/orders",
        json={
            "cart_id": cart["cart_id"],
            "email": "poison@example.com",
            "payment": {"method": "card", "token": "tok_ok"},
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=60,
    )
    assert placed.status_code == 202, placed.text
    return str(placed.json()["order_id"])


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_poison_goes_to_the_dlq_and_the_rest_of_its_batch_completes(
    stack: StackProcess,
) -> None:
    sku = f"REL-POISON-{uuid.uuid4().hex[:8]}"
    created = requests.post(
        f"{stack.base_url}/admin/products",
        json={
            "name": "Poison batch item",
            "skus": [{"sku": sku, "price": {"amount": 500, "currency": "CNY"}, "stock": 50}],
        },
        headers=stack.auth("rel-ops", ["ops"]),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    order_ids = [_order(stack, sku) for _ in range(ORDERS)]

    sqs = _client(stack, "sqs")
    queue = stack.info["queues"]["PaymentsQueue"]
    dlq = stack.info["queues"]["PaymentsDLQ"]
    _drain(sqs, dlq)  # only what this test sends counts
    bodies = [*POISON, *(json.dumps({"order_id": o}) for o in order_ids)]
    sent = sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)],
    )
    assert len(sent["Successful"]) == len(bodies)

    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if _depth(sqs, dlq) >= len(POISON) and _depth(sqs, queue) == 0:
            break
        time.sleep(0.5)
    assert _depth(sqs, queue) == 0, "the payments queue did not drain"
    assert sorted(_drain(sqs, dlq)) == sorted(POISON)

    dynamodb = _client(stack, "dynamodb")
    orders_table = stack.info["tables"]["OrdersTable"]
    for order_id in order_ids:
        item = dynamodb.get_item(
            TableName=orders_table,
            Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
            ConsistentRead=True,
        )["Item"]
        assert item["status"]["S"] == "PAID"
    ledger = stack.info["tables"]["SandboxPaymentsTable"]
    charges: Counter[str] = Counter()
    for order_id in order_ids:
        found = dynamodb.query(
            TableName=ledger,
            KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
            ExpressionAttributeValues={":p": {"S": order_id}, ":c": {"S": "charge#"}},
            ConsistentRead=True,
        )["Items"]
        charges[order_id] = sum(1 for i in found if i["record"]["M"]["status"]["S"] == "approved")
    assert set(charges.values()) == {1}
