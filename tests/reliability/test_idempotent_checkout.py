"""One order per Idempotency-Key under concurrent retries, over the local stack (DynamoDB Local).

Twenty clients send the same checkout with the same key at once. Exactly one order may exist
afterwards; every response is either the one 202 body or a 409 saying the first is still in
progress (with Retry-After), never a second order and never a 5xx.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from races import burst, request
from stack_helpers import create_product, inventory, new_cart, put_item

pytestmark = pytest.mark.reliability

CONCURRENCY = 20


def _orders_of_cart(stack: Any, cart_id: str) -> list[str]:
    """Order ids placed from ``cart_id``, straight from the Orders table in DynamoDB Local."""
    scan = stack.client("dynamodb").get_paginator("scan")
    pages = scan.paginate(
        TableName=stack.info["tables"]["OrdersTable"],
        ConsistentRead=True,
        FilterExpression="cart_id = :c AND sk = :s",
        ExpressionAttributeValues={":c": {"S": cart_id}, ":s": {"S": "ORDER"}},
    )
    return [item["order_id"]["S"] for page in pages for item in page["Items"]]


@pytest.mark.parametrize("guest", [False, True], ids=["customer", "guest"])
def test_concurrent_retries_make_one_order(stack: Any, guest: bool) -> None:
    base = stack.base_url
    sku = create_product(stack, "REL-CHK", stock=10, price=1200, name="Reliability checkout item")
    sub = f"rel-customer-{uuid.uuid4().hex[:8]}"
    signed_in = {} if guest else stack.auth(sub, ["customer"], f"{sub}@example.com")
    cart_id, headers = new_cart(stack, signed_in)
    put_item(stack, cart_id, sku, 2, headers)

    key = f"rel-{uuid.uuid4().hex}"
    body = {"cart_id": cart_id, "payment": {"method": "card", "token": "tok_ok"}}
    if guest:
        body["email"] = "rel-guest@example.com"
    keyed = {**headers, "Idempotency-Key": key}
    replies = burst(request("POST", f"{base}/orders", json=body, headers=keyed), CONCURRENCY)

    # One body for every 202; a 409 only while the first is still running, with Retry-After.
    accepted = replies.answered_alike(202, refusals={409: "conflict"})
    assert len({r.text for r in accepted}) == 1, "retries must see the first response verbatim"
    busy = [r for r in replies.answers if r.status_code == 409]
    for reply in busy:
        assert reply.headers.get("Retry-After") == "1"
    order_id = accepted[0].json()["order_id"]
    print(f"\n{len(accepted)} x 202 (one body), {len(busy)} x 409 in progress")

    # Exactly one order: in the table, in the customer's list, and the stock held once.
    assert _orders_of_cart(stack, cart_id) == [order_id]
    if not guest:
        listed = requests.get(f"{base}/orders", headers=headers, timeout=30)
        assert listed.status_code == 200, listed.text
        assert [o["order_id"] for o in listed.json()["items"]] == [order_id]
    level = inventory(stack, sku)
    assert level["reserved"] + (10 - level["on_hand"]) == 2  # held (or committed) once

    # A late retry still gets the same body.
    late = requests.post(f"{base}/orders", json=body, headers=keyed, timeout=60)
    assert late.status_code == 202
    assert late.text == accepted[0].text
