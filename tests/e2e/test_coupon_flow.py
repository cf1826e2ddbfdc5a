"""Coupons over HTTP through the local stack: ops define one, a guest applies it and sees the
discount in the cart's totals, an unknown code is refused with its reason, and the order carries
the discount."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def test_apply_a_coupon_and_see_the_discount(stack: Any, http: requests.Session) -> None:
    base = stack.base_url
    ops = stack.auth("e2e-ops", ["ops"])
    sku = f"E2E-CPN-{uuid.uuid4().hex[:12]}"
    product = {
        "name": "E2E coupon item",
        "skus": [{"sku": sku, "price": {"amount": 12000, "currency": "CNY"}, "stock": 10}],
    }
    assert http.post(f"{base}/admin/products", json=product, headers=ops).status_code == 201
    code = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    coupon = {"code": code.lower(), "kind": "percentage", "rate_bp": 1500, "usage_limit": 10}
    defined = http.post(f"{base}/admin/coupons", json=coupon, headers=ops)
    assert defined.status_code == 201, defined.text
    assert defined.json()["code"] == code
    support = stack.auth("e2e-support", ["support"])
    assert http.get(f"{base}/admin/coupons/{code}", headers=support).status_code == 200

    created = http.post(f"{base}/carts")
    assert created.status_code == 201, created.text
    cart_id = created.json()["cart_id"]
    token = {"X-Cart-Token": created.json()["cart_token"]}
    put = http.put(f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": 2}, headers=token)
    assert put.status_code == 200, put.text

    unknown = http.post(f"{base}/carts/{cart_id}/coupons", json={"code": "NOPE-0"}, headers=token)
    assert unknown.status_code == 422, unknown.text
    assert unknown.headers["Content-Type"] == PROBLEM
    assert unknown.json()["type"] == "coupon-invalid"
    assert unknown.json()["reason"] == "unknown"

    applied = http.post(f"{base}/carts/{cart_id}/coupons", json={"code": code}, headers=token)
    assert applied.status_code == 200, applied.text
    totals = applied.json()["totals"]
    assert applied.json()["coupons"] == [code]
    assert totals["subtotal"]["amount"] == 24000
    assert totals["discount"]["amount"] == 3600  # 15 % of 240.00
    assert totals["shipping"]["amount"] == 0  # 204.00 reaches free shipping
    assert totals["total"]["amount"] == 20400

    order = http.post(
        f"{base}/orders",
        json={
            "cart_id": cart_id,
            "email": "e2e-coupon@example.com",
            "payment": {"method": "card", "token": "tok_ok"},
        },
        headers={**token, "Idempotency-Key": f"e2e-{uuid.uuid4().hex}"},
    )
    assert order.status_code == 202, order.text
    assert order.json()["totals"]["discount"]["amount"] == 3600
    used = http.get(f"{base}/admin/coupons/{code}", headers=ops)
    assert used.json()["uses_total"] == 1

    removed = http.delete(f"{base}/carts/{cart_id}/coupons/{code}", headers=token)
    assert removed.status_code == 409, removed.text  # the cart is an order now
