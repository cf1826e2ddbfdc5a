"""Points on moto: redeemed at checkout, restored on cancel or payment failure, earned on
delivery; member tiers from delivered spend (docs/customers.md, "Points", "Member tiers").

Every change is one ledger entry written with the balance in one transaction; a debit is
conditioned on the balance covering it, so the balance never goes below zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from commerce import clock
from commerce.domain.points import LedgerEntry, PointsReason
from commerce.orders import fulfilment
from commerce.orders.settlement import decline
from commerce.store import orders as order_store
from commerce.store import points as points_store
from commerce.store.transactions import LabelledTransaction
from orders_world import SUBS, Shop, deliver, event, guest_headers, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-PTS-1"
DEAR = "TEA-PTS-DEAR"
CUSTOMER = SUBS["customer"]


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 50), price=1000)  # 10.00 CNY
    create_product((DEAR, 10), name="Dear tea", price=60_000)  # 600.00 CNY
    return shop


def grant(points: int, sub: str = CUSTOMER) -> None:
    entry = LedgerEntry(points, PointsReason.ADJUSTED, None, clock.now(), ref="grant")
    assert points_store.record_once(sub, entry)


def reasons(sub: str = CUSTOMER) -> list[tuple[str, int]]:
    return [(e.reason.value, e.delta) for e in points_store.ledger(sub)]


def order_for(shop: Shop, lines: dict[str, int], redeem: int = 0) -> Any:
    cart_id, _ = shop.cart_with(lines, who="customer")
    return shop.place(cart_id, who="customer", extra={"redeem_points": redeem})


def test_redeem_at_checkout_debits_the_balance_with_an_entry(shop: Shop) -> None:
    grant(1000)
    # 30.00 at the member price (95 %) is 28.50, + 10.00 shipping: 38.50, 10.00 of it in points
    placed = order_for(shop, {SKU: 3}, redeem=1000)
    assert placed.status == 202, placed.body
    totals = placed.body["totals"]
    assert totals["points_redeemed"]["amount"] == 1000
    assert totals["total"]["amount"] == 2850
    assert points_store.balance_of(CUSTOMER) == 0
    assert sorted(reasons()) == [("adjusted", 1000), ("redeemed", -1000)]


def test_asking_more_than_the_order_allows_redeems_what_it_allows(shop: Shop) -> None:
    grant(5000)
    placed = order_for(shop, {SKU: 3}, redeem=5000)
    assert placed.status == 202, placed.body
    assert placed.body["totals"]["points_redeemed"]["amount"] == 1925  # 50 % of 38.50
    assert points_store.balance_of(CUSTOMER) == 3075


def test_more_than_the_balance_is_409_and_changes_nothing(shop: Shop) -> None:
    grant(100)
    refused = order_for(shop, {SKU: 1}, redeem=500)
    problem(refused, 409, "conflict")
    assert refused.body["balance"] == 100
    assert refused.body["requested"] == 500
    assert points_store.balance_of(CUSTOMER) == 100
    assert shop.order_items() == []


def test_guests_cannot_redeem(shop: Shop) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    reply = shop.place(cart_id, token=token, extra={"redeem_points": 100})
    problem(reply, 400, "validation-error")
    assert reply.body["errors"][0]["field"] == "redeem_points"
    negative = shop.place(cart_id, token=token, extra={"redeem_points": -1})
    problem(negative, 400, "validation-error")


def test_a_debit_never_takes_the_balance_below_zero(shop: Shop) -> None:
    grant(500)
    tx = LabelledTransaction()
    points_store.record(tx, CUSTOMER, LedgerEntry(-600, PointsReason.REDEEMED, "o-1", 1))
    failures = tx.commit()
    assert [f.label for f in failures] == [points_store.BALANCE_LABEL]
    assert points_store.balance_of(CUSTOMER) == 500
    assert reasons() == [("adjusted", 500)]


def test_cancel_restores_the_points_once(shop: Shop) -> None:
    grant(1000)
    order_id = order_for(shop, {SKU: 3}, redeem=1000).body["order_id"]
    assert points_store.balance_of(CUSTOMER) == 0
    assert shop.cancel(order_id, who="customer").status == 200
    assert points_store.balance_of(CUSTOMER) == 1000
    problem(shop.cancel(order_id, who="customer"), 409, "conflict")
    assert points_store.balance_of(CUSTOMER) == 1000
    assert sorted(reasons()) == [("adjusted", 1000), ("redeemed", -1000), ("restored", 1000)]


def test_payment_failure_restores_the_points_once(shop: Shop) -> None:
    grant(800)
    order_id = order_for(shop, {SKU: 3}, redeem=800).body["order_id"]
    stored = order_store.load_order(order_id)
    assert stored is not None
    decline(stored, "card_declined", now=clock.now())
    again = order_store.load_order(order_id)
    assert again is not None
    decline(again, "card_declined", now=clock.now())
    assert points_store.balance_of(CUSTOMER) == 800
    assert [r for r, _ in reasons()].count("restored") == 1


def test_delivery_earns_points_once(shop: Shop) -> None:
    placed = order_for(shop, {SKU: 3})  # total 38.50 (member price) -> 38 points
    order_id = placed.body["order_id"]
    at = deliver(shop, order_id)
    assert points_store.balance_of(CUSTOMER) == 38
    fulfilment.mark_delivered(order_id, at, f"evt-{order_id}")  # the carrier retries
    assert points_store.balance_of(CUSTOMER) == 38
    assert reasons() == [("earned", 38)]


def test_guests_earn_nothing(shop: Shop) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    order_id = shop.place(cart_id, token=token).body["order_id"]
    deliver(shop, order_id)
    rows = shop.dynamodb.scan(TableName=shop.table("CustomersTable"))["Items"]
    assert not [r for r in rows if r["sk"]["S"].startswith("POINTS")]


def test_a_member_pays_95_percent_and_a_silver_member_90(shop: Shop) -> None:
    big = order_for(shop, {DEAR: 2})  # 1,200.00 at 95 %: 1,140.00 delivered makes silver
    assert big.status == 202, big.body
    assert big.body["totals"]["discount"]["amount"] == 6000
    deliver(shop, big.body["order_id"])
    cart_id, _ = shop.cart_with({SKU: 2}, who="customer")  # 20.00
    got = invoke(shop.cart, event("cart_get.json", who="customer", params={"cart_id": cart_id}))
    assert got.body["totals"]["discount"]["amount"] == 200
    placed = shop.place(cart_id, who="customer")
    assert placed.status == 202, placed.body
    assert placed.body["totals"]["discount"]["amount"] == 200
    # A guest's cart has no tier.
    guest, token = shop.cart_with({SKU: 2})
    seen = invoke(
        shop.cart, event("cart_get.json", params={"cart_id": guest}, headers=guest_headers(token))
    )
    assert seen.body["totals"]["discount"]["amount"] == 0


def test_a_refund_takes_back_what_it_unearns_once(shop: Shop) -> None:
    order_id = order_for(shop, {SKU: 3}).body["order_id"]  # 38.50 paid -> 38 points
    deliver(shop, order_id)
    asked = shop.request_return(
        order_id, {"lines": [{"sku": SKU, "quantity": 1}], "reason": "damaged"}, who="customer"
    )
    assert asked.status == 201, asked.body
    received = shop.receive(order_id, asked.body["return_id"])
    assert received.status == 200, received.body
    refunded = received.body["payment"]
    assert refunded is not None
    assert points_store.balance_of(CUSTOMER) == 29  # 9.50 refunded takes back 9 points
    assert sorted(reasons()) == [("earned", 38), ("reversed", -9)]
    again = shop.receive(order_id, asked.body["return_id"])  # the operator retries
    assert (again.status, again.body) == (200, received.body)
    assert points_store.balance_of(CUSTOMER) == 29
    assert sorted(reasons()) == [("earned", 38), ("reversed", -9)]
