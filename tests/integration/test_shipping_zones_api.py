"""Shipping zones on moto: ops replace the table (CouponsFunction), carts and checkout price
shipping by the address's zone, and a cart without an address shows the default zone."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from order_builders import URUMQI
from orders_world import Reply, Shop, event, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-ZONE-1"


def cny(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


DEFAULT = {
    "zone_id": "default",
    "name": "Mainland China",
    "fee": cny(800),
    "free_threshold": cny(9900),
}
REMOTE = {
    "zone_id": "remote",
    "name": "Remote regions",
    "places": ["CN/Xinjiang", "CN/新疆"],
    "fee": cny(2500),
    "free_threshold": cny(29900),
}


class Zones:
    def __init__(self, coupons: ModuleType) -> None:
        self.coupons = coupons

    def get(self, who: str | None = "ops") -> Reply:
        return invoke(self.coupons, event("coupons_shipping_zones_get.json", who=who))

    def put(self, body: Any, who: str | None = "ops") -> Reply:
        return invoke(self.coupons, event("coupons_shipping_zones_put.json", who=who, body=body))


@pytest.fixture
def zones(dynamodb: Any, coupons_module: ModuleType) -> Zones:
    return Zones(coupons_module)


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 50), price=3000)  # 30.00 CNY
    return shop


def cart_shipping(shop: Shop, cart_id: str, token: str | None, address: Any = None) -> int:
    headers = {"X-Cart-Token": token} if token else None
    if address is not None:
        built = event(
            "cart_set_shipping_address.json",
            body=address,
            params={"cart_id": cart_id},
            headers=headers,
        )
        reply = invoke(shop.cart, built)
    else:
        reply = invoke(
            shop.cart, event("cart_get.json", params={"cart_id": cart_id}, headers=headers)
        )
    assert reply.status == 200, reply.body
    amount: int = reply.body["totals"]["shipping"]["amount"]
    return amount


def test_before_any_change_the_table_is_the_old_rule(zones: Zones) -> None:
    reply = zones.get(who="support")
    assert reply.status == 200, reply.body
    assert reply.body == {
        "zones": [
            {
                "zone_id": "default",
                "name": "Everywhere else",
                "places": [],
                "fee": cny(1000),
                "free_threshold": cny(9900),
            }
        ],
        "version": 0,
    }


def test_carts_and_checkout_price_shipping_by_zone(zones: Zones, shop: Shop) -> None:
    assert zones.put({"zones": [DEFAULT, REMOTE]}).status == 200
    cart_id, token = shop.cart_with({SKU: 1})  # 30.00 of merchandise
    assert cart_shipping(shop, cart_id, token) == 800  # no address: the default zone
    assert cart_shipping(shop, cart_id, token, URUMQI) == 2500
    placed = shop.place(cart_id, token=token)
    assert placed.status == 202, placed.body
    assert placed.body["totals"]["shipping"]["amount"] == 2500
    assert placed.body["totals"]["total"]["amount"] == 3000 + 2500
    # Free from the zone's own threshold: 120.00 ships free by default, not to Xinjiang.
    big, big_token = shop.cart_with({SKU: 4})
    assert cart_shipping(shop, big, big_token) == 0
    assert cart_shipping(shop, big, big_token, URUMQI) == 2500


def test_a_change_applies_to_carts_from_then_on_and_orders_keep_theirs(
    zones: Zones, shop: Shop
) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    placed = shop.place(cart_id, token=token)
    assert placed.body["totals"]["shipping"]["amount"] == 1000
    current = zones.get().body["version"]
    changed = zones.put({"zones": [{**DEFAULT, "fee": cny(1200)}], "version": current})
    assert changed.status == 200, changed.body
    assert changed.body["version"] == current + 1
    fresh, fresh_token = shop.cart_with({SKU: 1})
    assert cart_shipping(shop, fresh, fresh_token) == 1200
    order = shop.get(placed.body["order_id"], order_token=placed.body["order_token"]).body
    assert order["totals"]["shipping"]["amount"] == 1000


def test_a_stale_version_is_409_and_bad_tables_are_400_changing_nothing(
    zones: Zones, scan_all: Any
) -> None:
    assert zones.put({"zones": [DEFAULT, REMOTE]}).status == 200
    before = scan_all()
    stale = zones.put({"zones": [DEFAULT], "version": 0})
    problem(stale, 409, "conflict")
    assert stale.body["version"] == 1
    overlapping = {**REMOTE, "zone_id": "far", "places": ["cn/xinjiang"]}
    bad = zones.put({"zones": [DEFAULT, REMOTE, overlapping]})
    problem(bad, 400, "validation-error")
    assert [e["field"] for e in bad.body["errors"]] == ["zones[2].places[0]"]
    problem(zones.put({"zones": [REMOTE]}), 400, "validation-error")  # no default zone
    problem(zones.put({"zones": []}), 400, "validation-error")
    problem(zones.put({"zones": [{**DEFAULT, "fee": cny(-5)}]}), 400, "validation-error")
    problem(zones.put({"zones": [DEFAULT], "extra": 1}), 400, "validation-error")
    problem(zones.put({"zones": [DEFAULT]}, who="support"), 403, "forbidden")
    problem(zones.put({"zones": [DEFAULT]}, who="customer"), 403, "forbidden")
    problem(zones.get(who="customer"), 403, "forbidden")
    assert scan_all() == before
