"""What orders report to the catalog, over the order fakes and the in-memory sales ledger: a
product's sold units follow payment, cancellation and returns exactly, whatever the order the
answers and redeliveries come in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from commerce.catalog.sales import (
    CANCELLED,
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from order_fakes import OWNER, World, world

pytestmark = pytest.mark.unit

NOW = 1_893_456_100
OWNER_CALLER = Caller(sub=OWNER)


@pytest.fixture
def fakes() -> Iterator[World]:
    with world() as fakes:
        fakes.book.stock("A", 10)
        fakes.book.stock("B", 10)
        yield fakes


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


STEPS = st.lists(
    st.sampled_from(["pay", "redeliver", "cancel", "late_approval"]), min_size=1, max_size=8
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, quantity=st.integers(min_value=1, max_value=5))
def test_sold_matches_the_orders_fate_whatever_happens(steps: list[str], quantity: int) -> None:
    """However payments, redeliveries and cancels interleave, the units count as sold exactly
    while the order stands paid (or beyond), and not at all once it is cancelled or never paid."""
    with world() as fakes:
        fakes.book.stock("A", 10)
        order = fakes.place({"A": quantity})
        for step in steps:
            current = fakes.order(order.order_id)
            if step in ("pay", "redeliver"):
                charging.pay(order.order_id)
            elif step == "cancel":
                if current.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
                    cancel_order(order.order_id, OWNER_CALLER, ())
            else:
                charge = fakes.provider.find_charge(order.order_id, charge_key(order.order_id))
                if charge is not None and charge.approved:
                    settlement.approve(
                        order, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW
                    )
        final = fakes.order(order.order_id)
        counted = fakes.sales.sold.get("A", 0)
        if final.status is OrderStatus.PAID:
            assert counted == quantity
        else:
            assert counted == 0
        assert {event for _, event in fakes.sales.events} <= {PAID, CANCELLED}
