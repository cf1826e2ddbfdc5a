"""Order reads, lists, cancellation, shipments, delivery and returns on moto.

Payment approval is the payments function's job; here an order is paid the way it does it (the
sandbox provider charges with ``charge_key``; one transaction commits the stock and writes
PAID), so each later move starts from a real PAID order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from commerce import clock
from commerce.domain.orders import OrderStatus
from commerce.events import MemoryEventPublisher
from commerce.orders import fulfilment
from commerce.payments.sandbox import SandboxProvider
from commerce.store import orders as store
from orders_world import Shop, deliver, pay, problem

pytestmark = pytest.mark.integration

SKU = "TEA-ORD-1"
SKU2 = "TEA-ORD-2"


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 10), (SKU2, 5), price=5000)
    return shop


def _guest_order(shop: Shop, lines: dict[str, int] | None = None) -> dict[str, str]:
    cart_id, token = shop.cart_with(lines or {SKU: 2})
    reply = shop.place(cart_id, token=token)
    assert reply.status == 202, reply.body
    return {
        "order_id": reply.body["order_id"],
        "order_token": reply.body["order_token"],
        "token": token or "",
    }


def _customer_order(shop: Shop, lines: dict[str, int] | None = None) -> str:
    cart_id, _ = shop.cart_with(lines or {SKU: 2}, who="customer")
    reply = shop.place(cart_id, who="customer", email=None)
    assert reply.status == 202, reply.body
    order_id: str = reply.body["order_id"]
    return order_id


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "credential", "status"),
    [
        (None, "order_token", 200),
        (None, "token", 200),
        (None, None, 404),
        (None, "wrong", 404),
        ("customer", None, 404),
        ("support", None, 200),
        ("ops", None, 200),
        ("admin", None, 200),
    ],
)
def test_who_may_read_a_guest_order(
    shop: Shop, who: str | None, credential: str | None, status: int
) -> None:
    placed = _guest_order(shop)
    tokens: dict[str, str | None] = {}
    if credential == "wrong":
        tokens["order_token"] = "w" * 43
    elif credential is not None:
        tokens[credential] = placed[credential]
    reply = shop.get(placed["order_id"], who=who, **tokens)
    assert reply.status == status, reply.body
    if status == 404:
        problem(reply, 404, "not-found")


def test_order_shape(shop: Shop) -> None:
    placed = _guest_order(shop, {SKU: 2, SKU2: 1})
    guest = shop.get(placed["order_id"], order_token=placed["order_token"]).body
    assert set(guest) == {
        "order_id",
        "status",
        "lines",
        "totals",
        "payment",
        "shipping_address",
        "history",
        "tracking",
    }
    assert guest["tracking"] == []
    assert guest["status"] == "PENDING_PAYMENT"
    assert guest["payment"] == {"status": "PENDING", "method": "card"}
    assert guest["lines"] == [
        {"sku": SKU, "quantity": 2, "unit_price": {"amount": 5000, "currency": "CNY"}},
        {"sku": SKU2, "quantity": 1, "unit_price": {"amount": 5000, "currency": "CNY"}},
    ]
    assert [h["status"] for h in guest["history"]] == ["PENDING_PAYMENT"]
    assert guest["history"][0]["at"].endswith("Z")
    staff = shop.get(placed["order_id"], who="support").body
    assert staff["email"] == "guest@example.com"
    assert "created_at" in staff


def test_customer_order_is_theirs_only(shop: Shop) -> None:
    order_id = _customer_order(shop)
    own = shop.get(order_id, who="customer")
    assert own.status == 200
    assert own.body["email"] == "customer@example.com"
    problem(shop.get(order_id, who="other"), 404, "not-found")
    problem(shop.get(order_id), 404, "not-found")
    problem(shop.get("not-an-order-id", who="customer"), 404, "not-found")


def test_list_is_newest_first_and_paginated(shop: Shop) -> None:
    created = [_customer_order(shop, {SKU: 1}) for _ in range(5)]
    _guest_order(shop)  # not the customer's
    first = shop.list("customer", {"limit": "2"})
    assert first.status == 200, first.body
    ids = [o["order_id"] for o in first.body["items"]]
    token = first.body["next_token"]
    while token:
        page = shop.list("customer", {"limit": "2", "next_token": token})
        assert page.status == 200, page.body
        ids += [o["order_id"] for o in page.body["items"]]
        token = page.body.get("next_token")
    assert ids == list(reversed(created))
    assert shop.list("other").body == {"items": []}


def test_list_refusals(shop: Shop) -> None:
    problem(shop.list(None), 401, "unauthorized")
    problem(shop.list("customer", {"limit": "0"}), 400, "validation-error")
    problem(shop.list("customer", {"limit": "101"}), 400, "validation-error")
    problem(shop.list("customer", {"next_token": "garbage"}), 400, "validation-error")
    for _ in range(2):
        _customer_order(shop, {SKU: 1})
    token = shop.list("customer", {"limit": "1"}).body["next_token"]
    problem(shop.list("other", {"next_token": token}), 400, "validation-error")


# --- cancelling --------------------------------------------------------------------------------


def test_cancel_pending_releases_the_reservation(shop: Shop, events: MemoryEventPublisher) -> None:
    placed = _guest_order(shop, {SKU: 3})
    assert shop.stock(SKU)["reserved"] == 3
    reply = shop.cancel(placed["order_id"], order_token=placed["order_token"])
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "CANCELLED"
    assert [h["status"] for h in reply.body["history"]] == ["PENDING_PAYMENT", "CANCELLED"]
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert [e.type for e in events.events] == ["order.pending_payment", "order.cancelled"]
    again = shop.cancel(placed["order_id"], order_token=placed["order_token"])
    problem(again, 409, "conflict")
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 0, "available": 10}


def test_cancel_paid_refunds_and_restocks(shop: Shop, sandbox: SandboxProvider) -> None:
    order_id = _customer_order(shop, {SKU: 2})
    pay(order_id)
    assert shop.stock(SKU) == {"on_hand": 8, "reserved": 0, "available": 8}
    reply = shop.cancel(order_id, who="customer")
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "CANCELLED"
    assert reply.body["payment"]["status"] == "REFUNDED"
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 0, "available": 10}
    stored = store.load_order(order_id)
    assert stored is not None
    charge = stored.order.payment.charge_id
    assert charge is not None
    assert sandbox.refunded_total(charge) == stored.order.totals.total
    assert sandbox.charge_count(order_id) == 1


def test_who_may_cancel(shop: Shop) -> None:
    order_id = _customer_order(shop)
    problem(shop.cancel(order_id), 404, "not-found")
    problem(shop.cancel(order_id, who="other"), 404, "not-found")
    problem(shop.cancel(order_id, who="support"), 403, "forbidden")
    assert shop.cancel(order_id, who="ops").status == 200
    assert shop.cancel(_customer_order(shop, {SKU: 1}), who="admin").status == 200


def test_cannot_cancel_once_shipped(shop: Shop, sandbox: SandboxProvider) -> None:
    order_id = _customer_order(shop)
    pay(order_id)
    shipped = shop.ship(order_id)
    assert shipped.status == 200, shipped.body
    assert shipped.body["status"] == "SHIPPED"
    assert shipped.body["shipment"] == {"carrier": "sf-express", "tracking_number": "SF1234567890"}
    before = shop.stock(SKU)
    problem(shop.cancel(order_id, who="customer"), 409, "conflict")
    assert shop.stock(SKU) == before


# --- shipping and delivery ---------------------------------------------------------------------


def test_ship_refusals(shop: Shop) -> None:
    order_id = _customer_order(shop)
    problem(shop.ship(order_id), 409, "conflict")  # not paid yet
    problem(shop.ship(order_id, who="customer"), 403, "forbidden")
    problem(shop.ship(order_id, who="support"), 403, "forbidden")
    problem(shop.ship(order_id, who=None), 401, "unauthorized")
    problem(shop.ship("f" * 32), 404, "not-found")
    problem(shop.ship(order_id, body={"carrier": ""}), 400, "validation-error")


def test_delivery_is_idempotent_per_carrier_event(shop: Shop, sandbox: SandboxProvider) -> None:
    order_id = _customer_order(shop)
    at = deliver(shop, order_id, "evt-1")
    again = fulfilment.mark_delivered(order_id, at, "evt-1")
    assert again.status is OrderStatus.DELIVERED
    from commerce.domain.orders import IllegalTransition

    with pytest.raises(IllegalTransition):
        fulfilment.mark_delivered(order_id, at, "evt-2")
    body = shop.get(order_id, who="customer").body
    assert [h["status"] for h in body["history"]] == [
        "PENDING_PAYMENT",
        "PAID",
        "SHIPPED",
        "DELIVERED",
    ]


# --- returns -----------------------------------------------------------------------------------


def test_return_and_receive(shop: Shop, sandbox: SandboxProvider) -> None:
    order_id = _customer_order(shop, {SKU: 2, SKU2: 1})
    deliver(shop, order_id, "evt-1")
    assert shop.stock(SKU) == {"on_hand": 8, "reserved": 0, "available": 8}
    created = shop.request_return(
        order_id, {"lines": [{"sku": SKU, "quantity": 1}], "reason": "too big"}, who="customer"
    )
    assert created.status == 201, created.body
    ret = created.body
    assert ret["status"] == "REQUESTED"
    assert ret["lines"] == [{"sku": SKU, "quantity": 1}]
    # 5 % member price on 150.00 leaves 142.50 (shipping free from 99): the unit's share is 47.50
    assert ret["refund"] == {"amount": 4750, "currency": "CNY"}
    assert shop.get(order_id, who="customer").body["status"] == "RETURN_REQUESTED"
    problem(
        shop.request_return(order_id, {"lines": [{"sku": SKU2, "quantity": 1}]}, who="customer"),
        409,
        "conflict",
    )
    problem(shop.receive(order_id, ret["return_id"], who="customer"), 403, "forbidden")
    problem(shop.receive(order_id, "0" * 32), 404, "not-found")
    received = shop.receive(order_id, ret["return_id"])
    assert received.status == 200, received.body
    assert received.body["status"] == "REFUNDED"
    assert received.body["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert shop.stock(SKU) == {"on_hand": 9, "reserved": 0, "available": 9}
    stored = store.load_order(order_id)
    assert stored is not None
    assert stored.order.payment.charge_id is not None
    assert sandbox.refunded_total(stored.order.payment.charge_id).amount == 4750
    again = shop.receive(order_id, ret["return_id"])  # a retry answers as the first did
    assert (again.status, again.body) == (200, received.body)
    assert shop.stock(SKU)["on_hand"] == 9
    assert sandbox.refunded_total(stored.order.payment.charge_id).amount == 4750
    # The rest may still come back inside the window.
    rest = shop.request_return(order_id, {"lines": [{"sku": SKU, "quantity": 2}]}, who="customer")
    problem(rest, 400, "validation-error")
    assert rest.body["errors"][0]["field"] == "lines[0].quantity"


def test_return_refusals(
    shop: Shop, sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = _guest_order(shop)
    body = {"lines": [{"sku": SKU, "quantity": 1}]}
    problem(
        shop.request_return(placed["order_id"], body, order_token=placed["order_token"]),
        409,
        "conflict",
    )  # not delivered
    deliver(shop, placed["order_id"], "evt-1")
    problem(shop.request_return(placed["order_id"], body), 404, "not-found")
    problem(shop.request_return(placed["order_id"], body, who="support"), 403, "forbidden")
    problem(
        shop.request_return(
            placed["order_id"], {"lines": [{"sku": "NOPE", "quantity": 1}]}, token=placed["token"]
        ),
        400,
        "validation-error",
    )
    problem(
        shop.request_return(placed["order_id"], {"lines": []}, token=placed["token"]),
        400,
        "validation-error",
    )
    later = clock.now() + 8 * 24 * 3600
    monkeypatch.setattr(clock, "now", lambda: later)
    problem(
        shop.request_return(placed["order_id"], body, order_token=placed["order_token"]),
        409,
        "conflict",
    )


def test_a_quality_return_has_fifteen_days_any_other_seven(
    shop: Shop, sandbox: SandboxProvider, scan_all: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = _guest_order(shop)
    deliver(shop, placed["order_id"], "evt-q")
    lines = [{"sku": SKU, "quantity": 1}]
    day = 24 * 3600
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + 10 * day)
    before = scan_all()
    late = shop.request_return(
        placed["order_id"], {"lines": lines, "reason": "changed my mind"}, token=placed["token"]
    )
    problem(late, 409, "conflict")
    assert "7 days" in late.body["detail"]
    assert scan_all() == before
    quality = shop.request_return(
        placed["order_id"],
        {"lines": lines, "reason": "Quality: the glaze is cracked"},
        token=placed["token"],
    )
    assert quality.status == 201, quality.body
    assert quality.body["reason"] == "Quality: the glaze is cracked"
    assert shop.receive(placed["order_id"], quality.body["return_id"]).status == 200
    monkeypatch.setattr(clock, "now", lambda: start + 15 * day + 60)
    closed = shop.request_return(
        placed["order_id"], {"lines": lines, "reason": "quality"}, token=placed["token"]
    )
    problem(closed, 409, "conflict")
    assert "quality problem of 15 days" in closed.body["detail"]
