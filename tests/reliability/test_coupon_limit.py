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

import pytest
import requests
from stack_helpers import create_product, new_cart, ops, put_item

pytestmark = pytest.mark.reliability

LIMIT = 5
CHECKOUTS = 3 * LIMIT


def test_limit_n_gives_exactly_n_uses(stack: Any) -> None:
    base = stack.base_url
    sku = create_product(stack, "REL-CPN", stock=100, price=2500, name="Coupon limit item")
    code = f"LIM-{uuid.uuid4().hex[:8].upper()}"
    coupon = {
        "code": code,
        "kind": "amount",
        "amount": {"amount": 500, "currency": "CNY"},
        "usage_limit": LIMIT,
    }
    defined = requests.post(f"{base}/admin/coupons", json=coupon, headers=ops(stack), timeout=30)
    assert defined.status_code == 201, defined.text

    carts: list[tuple[str, dict[str, str]]] = []
    for i in range(CHECKOUTS):
        sub = f"rel-cpn-{uuid.uuid4().hex[:8]}-{i}"
        headers = dict(stack.auth(sub, ["customer"], f"{sub}@example.com"))
        cart_id, _ = new_cart(stack, headers)
        put_item(stack, cart_id, sku, 1, headers)
        applied = requests.post(
            f"{base}/carts/{cart_id}/coupons", json={"code": code}, headers=headers, timeout=30
        )
        assert applied.status_code == 200, applied.text
        # 5.00 off 25.00, then the member price: 5 % of the 20.00 left.
        assert applied.json()["totals"]["discount"]["amount"] == 600
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
    assert all(r.json()["totals"]["discount"]["amount"] == 600 for r in placed)
    for reply in refused:
        assert reply.status_code == 422, reply.text
        assert reply.json()["type"] == "coupon-invalid"
        assert reply.json()["reason"] == "exhausted"
    got = requests.get(f"{base}/admin/coupons/{code}", headers=ops(stack), timeout=30)
    assert got.status_code == 200, got.text
    assert got.json()["uses_total"] == LIMIT


def test_concurrent_redemptions_never_overdraw(stack: Any) -> None:
    """Five checkouts of one customer each redeem the whole balance at once: the debit is
    conditioned on ``balance >= points``, so exactly one redeems and the balance ends at 0."""
    base = stack.base_url
    sku = create_product(stack, "REL-PTS", stock=100, price=5000, name="Points item")
    sub = f"rel-pts-{uuid.uuid4().hex[:8]}"
    client = stack.client("dynamodb")
    table = stack.info["tables"]["CustomersTable"]
    key = {"pk": {"S": f"CUSTOMER#{sub}"}, "sk": {"S": "POINTS"}}
    client.put_item(TableName=table, Item={**key, "balance": {"N": "1000"}, "version": {"N": "1"}})
    headers = dict(stack.auth(sub, ["customer"], f"{sub}@example.com"))
    carts = []
    for _ in range(5):
        cart_id, _ = new_cart(stack, headers)
        put_item(stack, cart_id, sku, 1, headers)
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
