"""What orders report to the catalog, over the order fakes and the in-memory sales ledger: a
product's sold units follow payment, cancellation and returns exactly, whatever the order the
answers and redeliveries come in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from commerce.catalog.sales import (
    PAID,
    count_return,
    record_delivery,
    return_event,
)
from commerce.domain.money import Money
from commerce.domain.orders import OrderHistoryEntry, OrderStatus
from commerce.domain.returns import Return, ReturnLine
from commerce.http.auth import Caller
from commerce.orders import charging, settlement
from commerce.orders.cancel import cancel_order
from commerce.payments.provider import charge_key
from commerce.store.orders import StoredOrder
from order_fakes import OWNER, World, world

pytestmark = pytest.mark.unit

NOW = 1_893_456_100
OWNER_CALLER = Caller(sub=OWNER)


@pytest.fixture
def fakes() -> Iterator[World]:
    with world(stock={"A": 10, "B": 10}) as stocked:
        yield stocked


def test_a_payment_counts_its_units_once(fakes: World) -> None:
    order = fakes.place({"A": 2, "B": 1})
    assert fakes.sales.sold == {}  # placed is not paid
    charging.pay(order.order_id)
    charging.pay(order.order_id)  # the message redelivered
    assert fakes.sales.sold == {"A": 2, "B": 1}
    assert fakes.sales.events == {(order.order_id, PAID)}


def test_a_decline_counts_nothing(fakes: World) -> None:
    order = fakes.place({"A": 2}, token="tok_declined")
    charging.pay(order.order_id)
    assert fakes.order(order.order_id).status is OrderStatus.PAYMENT_FAILED
    assert fakes.sales.sold == {}


def test_cancelling_a_paid_order_takes_its_units_back(fakes: World) -> None:
    order = fakes.place({"A": 3})
    charging.pay(order.order_id)
    cancel_order(order.order_id, OWNER_CALLER, ())
    assert fakes.sales.sold == {"A": 0}


def test_cancelling_before_payment_never_counted(fakes: World) -> None:
    order = fakes.place({"A": 3})
    cancel_order(order.order_id, OWNER_CALLER, ())
    charge = fakes.provider.charge(
        order.order_id, Money(3000), "tok_ok", charge_key(order.order_id)
    )
    settlement.approve(order, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW)
    assert fakes.sales.sold == {}


def test_a_received_return_takes_back_its_lines_once(fakes: World) -> None:
    order = fakes.place({"A": 3, "B": 2})
    charging.pay(order.order_id)
    paid = fakes.order(order.order_id)
    received = Return("r1", (ReturnLine("A", 2),), "quality", Money(2000), NOW)
    count_return(paid, received)
    count_return(paid, received)  # a retried receipt
    assert fakes.sales.sold == {"A": 1, "B": 2}
    assert (order.order_id, return_event("r1")) in fakes.sales.events


def _delivered(stored: StoredOrder) -> StoredOrder:
    order = stored.order
    history = (*order.history, OrderHistoryEntry(OrderStatus.DELIVERED, NOW))
    return replace(stored, order=replace(order, status=OrderStatus.DELIVERED, history=history))


def test_only_a_customers_delivered_order_makes_a_buyer(fakes: World) -> None:
    order = fakes.place({"A": 1})
    charging.pay(order.order_id)
    record_delivery(fakes.order(order.order_id))
    assert fakes.sales.buyers == set()  # paid, not delivered
    record_delivery(_delivered(fakes.order(order.order_id)))
    assert fakes.sales.buyers == {(OWNER, "A")}
    guest = fakes.place({"B": 1}, owner=None)
    charging.pay(guest.order_id)
    record_delivery(_delivered(fakes.order(guest.order_id)))
    assert fakes.sales.buyers == {(OWNER, "A")}  # a guest has no account to review with
