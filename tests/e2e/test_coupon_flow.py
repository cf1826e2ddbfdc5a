"""Coupons over HTTP through the local stack: ops define one, a guest applies it and sees the
discount in the cart's totals, an unknown code is refused with its reason, and the order carries
the discount."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from http_problems import PROBLEM
from stack_helpers import create_product, new_cart, place_order, put_item

pytestmark = pytest.mark.e2e


def test_apply_a_coupon_and_see_the_discount(stack: Any, http: requests.Session) -> None:
    base = stack.base_url
    ops = stack.auth("e2e-ops", ["ops"])
    sku = create_product(stack, "E2E-CPN", stock=10, price=12000, name="E2E coupon item")
    code = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    coupon = {"code": code.lower(), "kind": "percentage", "rate_bp": 1500, "usage_limit": 10}
    defined = http.post(f"{base}/admin/coupons", json=coupon, headers=ops)
    assert defined.status_code == 201, defined.text
    assert defined.json()["code"] == code
    support = stack.auth("e2e-support", ["support"])
    assert http.get(f"{base}/admin/coupons/{code}", headers=support).status_code == 200

    cart_id, token = new_cart(stack)
    put_item(stack, cart_id, sku, 2, token)

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

    order = place_order(stack, cart_id, token, email="e2e-coupon@example.com")
    assert order["totals"]["discount"]["amount"] == 3600
    used = http.get(f"{base}/admin/coupons/{code}", headers=ops)
    assert used.json()["uses_total"] == 1

    removed = http.delete(f"{base}/carts/{cart_id}/coupons/{code}", headers=token)
    assert removed.status_code == 409, removed.text  # the cart is an order now
