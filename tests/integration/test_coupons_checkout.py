"""Coupon uses consumed at checkout and given back on cancel or payment failure (moto).

The use is consumed by a conditional write inside the one checkout transaction: a coupon used
up between apply and checkout is a 422 ``coupon-invalid`` and the checkout changes nothing. A
cancelled order, or one whose payment fails, gives its uses back exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from commerce import clock
from commerce.orders.settlement import decline
from commerce.store import coupons as coupon_store
from commerce.store.orders import load_order
from orders_world import SUBS, Shop, event, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-CPC-1"


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 50), price=1000)
    return shop


@pytest.fixture
def define(coupons_module: ModuleType, dynamodb: Any) -> Callable[..., None]:
    def create(code: str, **fields: Any) -> None:
        body = {"code": code, "kind": "amount", "amount": {"amount": 500, "currency": "CNY"}}
        reply = invoke(
            coupons_module, event("coupons_create.json", who="ops", body={**body, **fields})
        )
        assert reply.status == 201, reply.body

    return create


def apply(shop: Shop, cart_id: str, code: str, who: str) -> None:
    reply = invoke(
        shop.cart,
        event(
            "coupons_apply_to_cart.json", who=who, body={"code": code}, params={"cart_id": cart_id}
        ),
    )
    assert reply.status == 200, reply.body


def uses(code: str, who: str | None = None) -> int:
    if who is None:
        stored = coupon_store.load(code)
        assert stored is not None
        return stored.uses_total
    return coupon_store.uses_by(code, SUBS[who])


def test_checkout_consumes_one_use_and_prices_the_order(shop: Shop, define: Any) -> None:
    define("FIVE-OFF", usage_limit=10, per_customer_limit=2)
    cart_id, _ = shop.cart_with({SKU: 3}, who="customer")
    apply(shop, cart_id, "FIVE-OFF", "customer")
    placed = shop.place(cart_id, who="customer")
    assert placed.status == 202, placed.body
    # 5.00 off 30.00, then the member price (5 % of what the coupon left: 1.25)
    assert placed.body["totals"]["discount"]["amount"] == 625
    assert placed.body["totals"]["total"]["amount"] == 3000 - 625 + 1000
    assert uses("FIVE-OFF") == 1
    assert uses("FIVE-OFF", "customer") == 1
    perks = coupon_store.load_perks(placed.body["order_id"])
    assert perks is not None
    assert perks.coupons == ("FIVE-OFF",)
    assert perks.per_customer == ("FIVE-OFF",)
    order = shop.get(placed.body["order_id"], who="customer")
    assert order.body["totals"]["discount"]["amount"] == 625


def test_used_up_between_apply_and_checkout_is_422_and_changes_nothing(
    shop: Shop, define: Any
) -> None:
    define("LAST-ONE", usage_limit=1)
    first, _ = shop.cart_with({SKU: 1}, who="customer")
    second, _ = shop.cart_with({SKU: 2}, who="other")
    apply(shop, first, "LAST-ONE", "customer")
    apply(shop, second, "LAST-ONE", "other")
    assert shop.place(first, who="customer").status == 202
    before = shop.stock(SKU)
    late = shop.place(second, who="other")
    problem(late, 422, "coupon-invalid")
    assert late.body["reason"] == "exhausted"
    assert uses("LAST-ONE") == 1
    assert shop.stock(SKU) == before
    assert len(shop.order_items()) == 1
    # Without the coupon the same cart checks out.
    invoke(
        shop.cart,
        event(
            "coupons_remove_from_cart.json",
            who="other",
            params={"cart_id": second, "code": "LAST-ONE"},
        ),
    )
    assert shop.place(second, who="other").status == 202


def test_deactivated_or_expired_at_checkout_is_422(shop: Shop, define: Any) -> None:
    define("SOON-OFF")
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    apply(shop, cart_id, "SOON-OFF", "customer")
    stored = coupon_store.load("SOON-OFF")
    assert stored is not None
    now = clock.now()
    expired = replace(stored.coupon, valid_from=now - 100, valid_until=now - 1)
    assert coupon_store.replace(stored, expired, at="2025-01-01")
    late = shop.place(cart_id, who="customer")
    problem(late, 422, "coupon-invalid")
    assert late.body["reason"] == "expired"
    assert uses("SOON-OFF") == 0


def test_cancel_gives_the_use_back_once(shop: Shop, define: Any) -> None:
    define("ONCE-EACH", usage_limit=5, per_customer_limit=1)
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    apply(shop, cart_id, "ONCE-EACH", "customer")
    order_id = shop.place(cart_id, who="customer").body["order_id"]
    assert (uses("ONCE-EACH"), uses("ONCE-EACH", "customer")) == (1, 1)
    assert shop.cancel(order_id, who="customer").status == 200
    assert (uses("ONCE-EACH"), uses("ONCE-EACH", "customer")) == (0, 0)
    perks = coupon_store.load_perks(order_id)
    assert perks is not None
    assert perks.given_back_at is not None
    problem(shop.cancel(order_id, who="customer"), 409, "conflict")
    assert (uses("ONCE-EACH"), uses("ONCE-EACH", "customer")) == (0, 0)
    # The customer may use it again.
    again, _ = shop.cart_with({SKU: 1}, who="customer")
    apply(shop, again, "ONCE-EACH", "customer")
    assert shop.place(again, who="customer").status == 202
    assert uses("ONCE-EACH") == 1


def test_payment_failure_gives_the_use_back_once(shop: Shop, define: Any) -> None:
    define("FIVE-OFF", usage_limit=5)
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    apply(shop, cart_id, "FIVE-OFF", "customer")
    order_id = shop.place(cart_id, who="customer").body["order_id"]
    assert uses("FIVE-OFF") == 1
    stored = load_order(order_id)
    assert stored is not None
    assert decline(stored, "card_declined", now=clock.now()).result.value == "payment_failed"
    assert uses("FIVE-OFF") == 0
    failed = load_order(order_id)
    assert failed is not None
    decline(failed, "card_declined", now=clock.now())  # a redelivered decline
    assert uses("FIVE-OFF") == 0


def test_an_order_without_coupons_has_no_perks(shop: Shop) -> None:
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    order_id = shop.place(cart_id, who="customer").body["order_id"]
    assert coupon_store.load_perks(order_id) is None
    assert shop.cancel(order_id, who="customer").status == 200
