"""One charge per order while the payments consumer keeps crashing after the provider approved.

A dedicated local stack runs with PAYMENTS_CRASH_AFTER_CHARGE_RATE=0.1: one approved charge in
ten is followed by a crash before the PAID write, so its message comes back (after the
consumer's backoff) and is charged again with the same idempotency key. 200 orders go through
the real checkout over HTTP; every one must end PAID, and the sandbox provider's ledger (read
straight from the stack's DynamoDB) must hold exactly one approved charge per order. The test
prints the charges-per-order histogram and the number of injected crashes.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from infra.local.harness import StackProcess, start_stack

pytestmark = pytest.mark.reliability

ORDERS = 200
CRASH_RATE = "0.1"
SKUS = 4
DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
def crashing_stack() -> Iterator[StackProcess]:
    running = start_stack(
        args=["--no-demo-data"],
        env={"PAYMENTS_CRASH_AFTER_CHARGE_RATE": CRASH_RATE},
        timeout=120,
    )
    try:
        yield running
    finally:
        running.stop()


def _dynamodb(stack: StackProcess) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [item for page in pages for item in page["Items"]]


def _products(stack: StackProcess) -> list[str]:
    skus = [f"REL-PAY-{uuid.uuid4().hex[:8]}-{n}" for n in range(SKUS)]
    body = {
        "name": "Reliability item",
        "skus": [
            {"sku": sku, "price": {"amount": 1999, "currency": "CNY"}, "stock": ORDERS}
            for sku in skus
        ],
    }
    response = requests.post(
        f"{stack.base_url}/admin/products",
        json=body,
        headers=stack.auth("rel-ops", ["ops"]),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return skus


def _checkout(stack: StackProcess, sku: str) -> str:
    base = stack.base_url
    with requests.Session() as http:
        cart = http.post(f"{base}/carts", timeout=60)
        assert cart.status_code == 201, cart.text
        cart_id, token = cart.json()["cart_id"], cart.json()["cart_token"]
        headers = {"X-Cart-Token": token}
        put = http.put(
            f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": 1}, headers=headers, timeout=60
        )
        assert put.status_code == 200, put.text
        body = {
            "cart_id": cart_id,
            "email": "reliability@example.com",
            "payment": {"method": "card", "token": "tok_ok"},
        }
        placed = http.post(
            f"{base}/orders",
            json=body,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            timeout=60,
        )
        assert placed.status_code == 202, placed.text
        return str(placed.json()["order_id"])


def _statuses(client: Any, table: str) -> dict[str, str]:
    return {
        item["order_id"]["S"]: item["status"]["S"]
        for item in _scan(client, table)
        if item["sk"]["S"] == "ORDER"
    }


def _approved_charges(client: Any, table: str) -> Counter[str]:
    """Approved charge records per order in the sandbox ledger (pk = order id)."""
    charges: Counter[str] = Counter()
    for item in _scan(client, table):
        if not item["sk"]["S"].startswith("charge#"):
            continue
        if item["record"]["M"]["status"]["S"] == "approved":
            charges[item["pk"]["S"]] += 1
    return charges


def test_every_order_is_paid_and_charged_exactly_once(crashing_stack: StackProcess) -> None:
    stack = crashing_stack
    skus = _products(stack)
    with ThreadPoolExecutor(max_workers=8) as pool:
        order_ids = list(pool.map(lambda n: _checkout(stack, skus[n % SKUS]), range(ORDERS)))
    assert len(set(order_ids)) == ORDERS

    client = _dynamodb(stack)
    orders_table = stack.info["tables"]["OrdersTable"]
    ledger_table = stack.info["tables"]["SandboxPaymentsTable"]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        statuses = _statuses(client, orders_table)
        pending = [o for o in order_ids if statuses.get(o) != "PAID"]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)

    charges = _approved_charges(client, ledger_table)
    histogram = Counter(charges.get(order_id, 0) for order_id in order_ids)
    crashes = stack.log().count("injected crash after charge")
    print(
        f"\n{ORDERS} orders, crash rate {CRASH_RATE}: {crashes} injected crashes; "
        f"charges per order -> number of orders: {dict(sorted(histogram.items()))}"
    )
    assert not pending, f"{len(pending)} orders not PAID: {[statuses.get(o) for o in pending][:5]}"
    assert histogram == {1: ORDERS}
    assert crashes > 0, "no crash was injected: the test proved nothing"
