"""Limits that hold under concurrent checkouts, over the local stack (DynamoDB Local).

Fifteen customers each put the same coupon (limit 5) in their own cart while it is still
available, then all check out at once. The use is consumed by a conditional write inside each
checkout transaction, so exactly five orders carry the coupon and the other ten are refused with
422 ``coupon-invalid`` (exhausted), changing nothing; the coupon's ``uses_total`` is exactly 5.
Likewise concurrent redemptions of one customer's whole balance: exactly one is debited.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

pytestmark = pytest.mark.reliability

LIMIT = 5
CHECKOUTS = 3 * LIMIT


def _ops(stack: Any) -> dict[str, str]:
    return dict(stack.auth("rel-ops", ["ops"]))


def test_limit_n_gives_exactly_n_uses(stack: Any) -> None:
    base = stack.base_url
    sku = f"REL-CPN-{uuid.uuid4().hex[:10]}"
    product = {
        "name": "Coupon limit item",
        "skus": [{"sku": sku, "price": {"amount": 2500, "currency": "CNY"}, "stock": 100}],
    }
    made = requests.post(f"{base}/admin/products", json=product, headers=_ops(stack), timeout=30)
    assert made.status_code == 201, made.text
    code = f"LIM-{uuid.uuid4().hex[:8].upper()}"
    coupon = {
        "code": code,
        "kind": "amount",
        "amount": {"amount": 500, "currency": "CNY"},
        "usage_limit": LIMIT,
    }
    defined = requests.post(f"{base}/admin/coupons", json=coupon, headers=_ops(stack), timeout=30)
    assert defined.status_code == 201, defined.text

    carts: list[tuple[str, dict[str, str]]] = []
    for i in range(CHECKOUTS):
        sub = f"rel-cpn-{uuid.uuid4().hex[:8]}-{i}"
        headers = dict(stack.auth(sub, ["customer"], f"{sub}@example.com"))
        cart_id = requests.post(f"{base}/carts", headers=headers, timeout=30).json()["cart_id"]
        put = requests.put(
            f"{base}/carts/{cart_id}/items/{sku}",
            json={"quantity": 1},
            headers=headers,
            timeout=30,
        )
        assert put.status_code == 200, put.text
        applied = requests.post(
            f"{base}/carts/{cart_id}/coupons", json={"code": code}, headers=headers, timeout=30
        )
        assert applied.status_code == 200, applied.text
        assert applied.json()["totals"]["discount"]["amount"] == 500
        carts.append((cart_id, headers))

    start = threading.Barrier(CHECKOUTS)

    def checkout(cart: tuple[str, dict[str, str]]) -> requests.Response:
        cart_id, headers = cart
        body = {"cart_id": cart_id, "payment": {"method": "card", "token": "tok_ok"}}
        start.wait()
        return requests.post(
            f"{base}/orders",
            json=body,
            headers={**headers, "Idempotency-Key": f"rel-{uuid.uuid4().hex}"},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=CHECKOUTS) as pool:
        replies = list(pool.map(checkout, carts))

    placed = [r for r in replies if r.status_code == 202]
    refused = [r for r in replies if r.status_code != 202]
    statuses = [(r.status_code, r.elapsed.total_seconds(), r.text[:120]) for r in replies]
    assert len(placed) == LIMIT, statuses
    assert all(r.json()["totals"]["discount"]["amount"] == 500 for r in placed)
    for reply in refused:
        assert reply.status_code == 422, reply.text
        assert reply.json()["type"] == "coupon-invalid"
        assert reply.json()["reason"] == "exhausted"
    got = requests.get(f"{base}/admin/coupons/{code}", headers=_ops(stack), timeout=30)
    assert got.status_code == 200, got.text
    assert got.json()["uses_total"] == LIMIT


def test_concurrent_redemptions_never_overdraw(stack: Any) -> None:
    """Five checkouts of one customer each redeem the whole balance at once: the debit is
    conditioned on ``balance >= points``, so exactly one redeems and the balance ends at 0."""
    base = stack.base_url
    sku = f"REL-PTS-{uuid.uuid4().hex[:10]}"
    product = {
        "name": "Points item",
        "skus": [{"sku": sku, "price": {"amount": 5000, "currency": "CNY"}, "stock": 100}],
    }
    made = requests.post(f"{base}/admin/products", json=product, headers=_ops(stack), timeout=30)
    assert made.status_code == 201, made.text
    sub = f"rel-pts-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    table = next(t for t in client.list_tables()["TableNames"] if "CustomersTable" in t)
    key = {"pk": {"S": f"CUSTOMER#{sub}"}, "sk": {"S": "POINTS"}}
    client.put_item(TableName=table, Item={**key, "balance": {"N": "1000"}, "version": {"N": "1"}})
    headers = dict(stack.auth(sub, ["customer"], f"{sub}@example.com"))
    carts = []
    for _ in range(5):
        cart_id = requests.post(f"{base}/carts", headers=headers, timeout=30).json()["cart_id"]
        put = requests.put(
            f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": 1}, headers=headers, timeout=30
        )
        assert put.status_code == 200, put.text
        carts.append(cart_id)
    start = threading.Barrier(len(carts))

    def checkout(cart_id: str) -> requests.Response:
        body: dict[str, Any] = {
            "cart_id": cart_id,
            "payment": {"method": "card", "token": "tok_ok"},
            "redeem_points": 1000,
        }
        start.wait()
        return requests.post(
            f"{base}/orders",
            json=body,
            headers={**headers, "Idempotency-Key": f"rel-{uuid.uuid4().hex}"},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=len(carts)) as pool:
        replies = list(pool.map(checkout, carts))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [202, 409, 409, 409, 409], [(r.status_code, r.text[:160]) for r in replies]
    placed = next(r for r in replies if r.status_code == 202)
    assert placed.json()["totals"]["points_redeemed"]["amount"] == 1000
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["balance"]["N"] == "0"
