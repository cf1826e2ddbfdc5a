"""Coupons in carts on moto: POST/DELETE /carts/{cart_id}/coupons and the totals they give.

Every refusal is a 422 ``coupon-invalid`` with the coupon's ``code`` and the ``reason``
(docs/customers.md, "Applying a coupon"); the cart keeps codes only, and its totals read the
definitions fresh, so a coupon deactivated after it was applied stops giving anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from commerce import clock
from commerce.store import coupons as coupon_store
from orders_world import Reply, Shop, event, guest_headers, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-CPN-1"
DAY = 24 * 3600


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 50), price=1000)  # 10.00 CNY a unit
    return shop


@pytest.fixture
def define(coupons_module: ModuleType, dynamodb: Any) -> Callable[..., dict[str, Any]]:
    def create(code: str, kind: str = "amount", **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code, "kind": kind, **fields}
        if kind == "amount" and "amount" not in fields:
            body["amount"] = money(500)
        reply = invoke(coupons_module, event("coupons_create.json", who="ops", body=body))
        assert reply.status == 201, reply.body
        return dict(reply.body)

    return create


def apply(shop: Shop, cart_id: str, code: str, who: str | None, token: str | None) -> Reply:
    return invoke(
        shop.cart,
        event(
            "coupons_apply_to_cart.json",
            who=who,
            body={"code": code},
            params={"cart_id": cart_id},
            headers=guest_headers(token),
        ),
    )


def remove(shop: Shop, cart_id: str, code: str, who: str | None, token: str | None) -> Reply:
    return invoke(
        shop.cart,
        event(
            "coupons_remove_from_cart.json",
            who=who,
            params={"cart_id": cart_id, "code": code},
            headers=guest_headers(token),
        ),
    )


def refused(reply: Reply, code: str, reason: str) -> None:
    problem(reply, 422, "coupon-invalid")
    assert reply.body["code"] == code
    assert reply.body["reason"] == reason, reply.body


def test_apply_shows_the_discount_and_remove_takes_it_away(shop: Shop, define: Any) -> None:
    define("FIVE-OFF")
    cart_id, token = shop.cart_with({SKU: 3})  # 30.00
    applied = apply(shop, cart_id, "five-off", None, token)
    assert applied.status == 200, applied.body
    assert applied.body["coupons"] == ["FIVE-OFF"]
    totals = applied.body["totals"]
    assert totals["subtotal"]["amount"] == 3000
    assert totals["discount"]["amount"] == 500
    assert totals["shipping"]["amount"] == 1000
    assert totals["total"]["amount"] == 3500
    again = apply(shop, cart_id, "FIVE-OFF", None, token)
    assert again.status == 200
    assert again.body["coupons"] == ["FIVE-OFF"]
    removed = remove(shop, cart_id, "five-off", None, token)
    assert removed.status == 200, removed.body
    assert removed.body["coupons"] == []
    assert removed.body["totals"]["discount"]["amount"] == 0
    problem(remove(shop, cart_id, "FIVE-OFF", None, token), 404, "not-found")


def test_money_off_and_free_shipping_stack(shop: Shop, define: Any) -> None:
    define("TEN-PCT", "percentage", rate_bp=1000)
    define("SHIP-FREE", "free_shipping")
    define("FIVE-OFF")
    cart_id, token = shop.cart_with({SKU: 2})  # 20.00
    assert apply(shop, cart_id, "TEN-PCT", None, token).status == 200
    both = apply(shop, cart_id, "SHIP-FREE", None, token)
    assert both.status == 200, both.body
    assert both.body["totals"]["discount"]["amount"] == 200
    assert both.body["totals"]["shipping"]["amount"] == 0
    assert both.body["totals"]["total"]["amount"] == 1800
    refused(apply(shop, cart_id, "FIVE-OFF", None, token), "FIVE-OFF", "not_stackable")


def test_a_lone_coupon_stands_alone(shop: Shop, define: Any) -> None:
    define("ALONE-1", stackable=False)
    define("SHIP-FREE", "free_shipping")
    cart_id, token = shop.cart_with({SKU: 1})
    assert apply(shop, cart_id, "SHIP-FREE", None, token).status == 200
    refused(apply(shop, cart_id, "ALONE-1", None, token), "ALONE-1", "not_stackable")


def test_each_refusal_reason(shop: Shop, define: Any) -> None:
    now = clock.now()
    define("OFF-1", active=False)
    define("LATER-1", valid_from=now + DAY)
    define("GONE-1", valid_from=now - 2 * DAY, valid_until=now - DAY)
    define("ONCE-EACH", per_customer_limit=1)
    define("BIG-SPEND", min_spend=money(10_000))
    cart_id, token = shop.cart_with({SKU: 1})  # 10.00
    refused(apply(shop, cart_id, "no-such", None, token), "NO-SUCH", "unknown")
    refused(apply(shop, cart_id, "OFF-1", None, token), "OFF-1", "inactive")
    refused(apply(shop, cart_id, "LATER-1", None, token), "LATER-1", "not_started")
    refused(apply(shop, cart_id, "GONE-1", None, token), "GONE-1", "expired")
    refused(apply(shop, cart_id, "ONCE-EACH", None, token), "ONCE-EACH", "sign_in_required")
    below = apply(shop, cart_id, "BIG-SPEND", None, token)
    refused(below, "BIG-SPEND", "below_minimum")
    assert "90.00 CNY more" in below.body["detail"]
    got = invoke(
        shop.cart,
        event("cart_get.json", params={"cart_id": cart_id}, headers=guest_headers(token)),
    )
    assert got.body["coupons"] == []  # no refusal changed the cart


def test_exhausted_and_customer_limit(shop: Shop, define: Any) -> None:
    define("USED-UP", usage_limit=1)
    define("ONCE-EACH", per_customer_limit=1)
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    assert apply(shop, cart_id, "USED-UP", "customer", None).status == 200
    assert shop.place(cart_id, who="customer").status == 202
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    assert apply(shop, cart_id, "ONCE-EACH", "customer", None).status == 200
    assert shop.place(cart_id, who="customer").status == 202
    fresh, _ = shop.cart_with({SKU: 1}, who="customer")
    refused(apply(shop, fresh, "USED-UP", "customer", None), "USED-UP", "exhausted")
    refused(apply(shop, fresh, "ONCE-EACH", "customer", None), "ONCE-EACH", "customer_limit")
    other, _ = shop.cart_with({SKU: 1}, who="other")
    assert apply(shop, other, "ONCE-EACH", "other", None).status == 200


def test_totals_read_the_definition_fresh(shop: Shop, define: Any) -> None:
    define("FIVE-OFF")
    cart_id, token = shop.cart_with({SKU: 1})
    assert apply(shop, cart_id, "FIVE-OFF", None, token).body["totals"]["discount"]["amount"] == 500
    stored = coupon_store.load("FIVE-OFF")
    assert stored is not None
    assert coupon_store.replace(stored, replace(stored.coupon, active=False), at="2025-01-01")
    got = invoke(
        shop.cart,
        event("cart_get.json", params={"cart_id": cart_id}, headers=guest_headers(token)),
    )
    assert got.body["coupons"] == ["FIVE-OFF"]
    assert got.body["totals"]["discount"]["amount"] == 0


def test_strangers_and_bad_bodies(shop: Shop, define: Any) -> None:
    define("FIVE-OFF")
    cart_id, token = shop.cart_with({SKU: 1})
    problem(apply(shop, cart_id, "FIVE-OFF", None, None), 404, "not-found")
    problem(apply(shop, cart_id, "FIVE-OFF", "other", None), 404, "not-found")
    reply = invoke(
        shop.cart,
        event(
            "coupons_apply_to_cart.json",
            body={"code": "FIVE-OFF", "extra": 1},
            params={"cart_id": cart_id},
            headers=guest_headers(token),
        ),
    )
    problem(reply, 400, "validation-error")
