"""Settlement and charging over fakes at our own seams: the rules, without an emulator.

The order book is ``InMemoryOrderBook`` (the conditions of the DynamoDB book, in dicts), the
provider the sandbox over its ``InMemoryLedger``, events a ``MemoryEventPublisher``. The same
rules run against DynamoDB Local and moto in tests/integration/test_payments_*.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import NextAction, NextActionType, OrderStatus, PaymentStatus
from commerce.errors import TooManyRequests
from commerce.http.auth import Caller
from commerce.orders import charging, settlement
from commerce.orders.cancel import cancel_order
from commerce.orders.settlement import Result
from commerce.payments.provider import (
    ChargeResult,
    ChargeStatus,
    TransientProviderError,
    charge_key,
)
from commerce.queue_policy import PoisonMessage
from concurrency import all_at_once
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
        fakes.book.stock("B", 5)
        yield fakes


def _levels(fakes: World, sku: str) -> tuple[int, int]:
    shelf = fakes.book.shelf(sku)
    return shelf.on_hand, shelf.reserved


# --- approved ---------------------------------------------------------------------------------


def test_an_approval_pays_the_order_and_deducts_its_stock(fakes: World) -> None:
    order = fakes.place({"A": 2, "B": 1})
    outcome = charging.pay(order.order_id)
    assert outcome.result is Result.PAID
    paid = fakes.order(order.order_id)
    assert paid.status is OrderStatus.PAID
    assert paid.order.payment.status is PaymentStatus.APPROVED
    assert paid.order.payment.charge_id
    assert paid.version == order.version + 1
    assert _levels(fakes, "A") == (8, 0)
    assert _levels(fakes, "B") == (4, 0)
    assert fakes.net_charged(order.order_id) == 3000
    assert fakes.event_types() == ["order.paid"]


def test_the_same_approval_twice_writes_once_and_announces_once(fakes: World) -> None:
    order = fakes.place({"A": 1})
    charge = fakes.provider.charge(
        order.order_id, Money(1000), "tok_ok", charge_key(order.order_id)
    )
    first = settlement.approve(
        order, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW
    )
    again = settlement.approve(
        order, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW
    )
    assert (first.result, again.result) == (Result.PAID, Result.ALREADY_SETTLED)
    assert fakes.book.writes == 1
    assert fakes.event_types() == ["order.paid"]
    assert _levels(fakes, "A") == (9, 0)


def test_a_total_paid_by_points_is_approved_without_a_charge(fakes: World) -> None:
    order = fakes.place({"A": 1}, unit_price=0)
    assert charging.pay(order.order_id).result is Result.PAID
    paid = fakes.order(order.order_id)
    assert paid.order.payment.status is PaymentStatus.APPROVED
    assert paid.order.payment.charge_id is None
    assert fakes.ledger.query(order.order_id, "charge#") == []


# --- declined ---------------------------------------------------------------------------------


def test_a_decline_fails_the_order_releases_its_stock_and_returns_its_perks(fakes: World) -> None:
    order = fakes.place({"A": 3, "B": 5}, token="tok_declined")
    assert _levels(fakes, "B") == (5, 5)
    assert charging.pay(order.order_id).result is Result.PAYMENT_FAILED
    failed = fakes.order(order.order_id)
    assert failed.status is OrderStatus.PAYMENT_FAILED
    assert failed.order.payment.decline_code == "card_declined"
    assert (_levels(fakes, "A"), _levels(fakes, "B")) == ((10, 0), (5, 0))
    assert fakes.book.perks_returned == [order.order_id]
    assert fakes.event_types() == ["order.payment_failed"]


def test_a_late_decline_changes_nothing(fakes: World) -> None:
    order = fakes.place({"A": 1})
    charging.pay(order.order_id)
    outcome = settlement.decline(order, "card_declined", now=NOW)
    assert outcome.result is Result.ALREADY_SETTLED
    assert fakes.order(order.order_id).status is OrderStatus.PAID
    assert fakes.book.perks_returned == []


def test_an_order_keeps_the_first_action_it_was_given(fakes: World) -> None:
    order = fakes.place({"A": 1})

    def awaiting(url: str) -> ChargeResult:
        action = NextAction(NextActionType.REDIRECT, url=url)
        return ChargeResult(
            ChargeStatus.ACTION_REQUIRED, order.order_id, Money(1000), next_action=action
        )

    first = settlement.await_customer(order, awaiting("https://pay.example/?timestamp=1"))
    writes = fakes.book.writes
    again = settlement.await_customer(order, awaiting("https://pay.example/?timestamp=2"))
    assert (first.result, again.result) == (Result.AWAITING_CUSTOMER, Result.AWAITING_CUSTOMER)
    assert fakes.book.writes == writes
    kept = fakes.order(order.order_id).order.payment.next_action
    assert kept is not None
    assert kept.url == "https://pay.example/?timestamp=1"


# --- cancels and late answers -----------------------------------------------------------------


def test_an_approval_that_meets_a_cancelled_order_is_refunded_once(fakes: World) -> None:
    order = fakes.place({"A": 2})
    charge = fakes.provider.charge(
        order.order_id, Money(2000), "tok_ok", charge_key(order.order_id)
    )
    cancel_order(order.order_id, OWNER_CALLER, ())
    assert _levels(fakes, "A") == (10, 0)
    for _ in range(2):
        outcome = settlement.approve(
            order, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW
        )
        assert outcome.result is Result.CANCELLED_REFUNDED
    cancelled = fakes.order(order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.order.payment.status is PaymentStatus.REFUNDED
    assert cancelled.order.payment.refunded == Money(2000)
    assert fakes.net_charged(order.order_id) == 0
    assert fakes.provider.refunded_total(charge.charge_id) == Money(2000)
    assert _levels(fakes, "A") == (10, 0)  # nothing deducted: the cancel released it


def test_a_cancel_that_wins_the_race_against_the_paid_write_gets_the_charge_refunded(
    fakes: World,
) -> None:
    order = fakes.place({"A": 1, "B": 2})
    fakes.book.before_write = lambda stored: cancel_order(stored.order_id, OWNER_CALLER, ())
    assert charging.pay(order.order_id).result is Result.CANCELLED_REFUNDED
    assert fakes.order(order.order_id).status is OrderStatus.CANCELLED
    assert fakes.net_charged(order.order_id) == 0
    assert (_levels(fakes, "A"), _levels(fakes, "B")) == ((10, 0), (5, 0))
    assert fakes.event_types() == ["order.cancelled"]


def test_a_cancelled_order_is_never_charged(fakes: World) -> None:
    order = fakes.place({"A": 4})
    cancel_order(order.order_id, OWNER_CALLER, ())
    assert charging.pay(order.order_id).result is Result.CANCELLED_NOT_CHARGED
    assert fakes.ledger.query(order.order_id, "charge#") == []


def test_an_approval_on_a_failed_order_is_refunded_and_nothing_is_written(fakes: World) -> None:
    order = fakes.place({"A": 1}, token="tok_declined")
    charging.pay(order.order_id)
    writes = fakes.book.writes
    charge = fakes.provider.charge(order.order_id, Money(1000), "tok_ok", "order:x:charge")
    outcome = settlement.approve(
        order, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW
    )
    assert outcome.result is Result.REFUNDED_UNPAYABLE
    assert fakes.provider.refunded_total(charge.charge_id) == Money(1000)
    assert fakes.book.writes == writes
    assert fakes.order(order.order_id).status is OrderStatus.PAYMENT_FAILED


# --- the queue's path -------------------------------------------------------------------------


def test_a_flaky_provider_fails_the_first_attempt_and_charges_once_on_the_retry(
    fakes: World,
) -> None:
    order = fakes.place({"A": 1}, token="tok_flaky")
    with pytest.raises(TransientProviderError):
        charging.pay(order.order_id)
    assert fakes.order(order.order_id).status is OrderStatus.PENDING_PAYMENT
    assert charging.pay(order.order_id).result is Result.PAID
    assert fakes.provider.charge_count(order.order_id) == 1


def test_a_redelivery_announces_the_settled_order_again_under_the_same_id(fakes: World) -> None:
    order = fakes.place({"A": 1})
    charging.pay(order.order_id)
    assert charging.pay(order.order_id).result is Result.ALREADY_SETTLED
    ids = {event.event_id for event in fakes.published.events}
    assert len(fakes.published.events) == 2
    assert len(ids) == 1
    assert fakes.provider.charge_count(order.order_id) == 1


def test_a_sold_count_lost_after_the_paid_write_is_made_by_the_redelivery(
    fakes: World,
) -> None:
    """The PAID write landed, then counting the sale failed (DynamoDB throttled the product's
    key past every retry, or the consumer died): the message comes back and finds the order
    already PAID. The redelivery must still count the sale, once."""
    order = fakes.place({"A": 2})
    counted = fakes.sales.count
    failures = iter([TooManyRequests(1, "the product's key is throttled")])

    def count_failing_once(order_id: str, event: str, units: dict[str, int]) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        counted(order_id, event, units)

    fakes.sales.count = count_failing_once  # type: ignore[method-assign]
    with pytest.raises(TooManyRequests):
        charging.pay(order.order_id)
    assert fakes.order(order.order_id).status is OrderStatus.PAID
    assert fakes.sales.sold.get("A", 0) == 0
    assert charging.pay(order.order_id).result is Result.ALREADY_SETTLED
    assert fakes.sales.sold == {"A": 2}
    charging.pay(order.order_id)  # a third delivery counts nothing more
    assert fakes.sales.sold == {"A": 2}


def test_a_message_for_no_order_is_poison(fakes: World) -> None:
    with pytest.raises(PoisonMessage):
        charging.pay("0" * 32)


def test_an_order_that_keeps_moving_is_answered_429(fakes: World) -> None:
    order = fakes.place({"A": 1})

    class Restless(type(fakes.book)):  # type: ignore[misc]
        def write(self, before, advance, effects, *, at):  # type: ignore[no-untyped-def]
            return None  # someone else always moved it first

    restless = Restless()
    restless.add(order)
    restless.stock("A", 10, reserved=1)
    with pytest.raises(TooManyRequests):
        settlement.approve(
            order, "ch_1", Money(1000), provider=fakes.provider, now=NOW, book=restless
        )


def test_concurrent_deliveries_of_one_message_charge_once_and_pay_once(fakes: World) -> None:
    order = fakes.place({"A": 2})
    outcomes = all_at_once(8, lambda: charging.pay(order.order_id).result)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert outcomes.count(Result.PAID) == 1
    assert fakes.provider.charge_count(order.order_id) == 1
    assert fakes.net_charged(order.order_id) == 2000
    assert _levels(fakes, "A") == (8, 0)


# --- any interleaving of answers, cancels and redeliveries ------------------------------------

STEPS = st.lists(
    st.sampled_from(["pay", "pay_declined", "cancel", "webhook_approval", "stale_approval"]),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, quantity=st.integers(min_value=1, max_value=5))
def test_money_and_stock_add_up_whatever_happens(steps: list[str], quantity: int) -> None:
    """Whatever order the answers, cancels and redeliveries come in: the customer is out of
    pocket exactly the total of a paid order and nothing otherwise, and the stock shelf says
    the same thing as the order's status."""
    with world() as fakes:
        fakes.book.stock("A", 10)
        token = "tok_declined" if steps[0] == "pay_declined" else "tok_ok"
        order = fakes.place({"A": quantity}, token=token)
        for step in steps:
            current = fakes.order(order.order_id)
            if step in ("pay", "pay_declined"):
                charging.pay(order.order_id)
            elif step == "cancel":
                if current.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
                    cancel_order(order.order_id, OWNER_CALLER, ())
            else:
                charge = fakes.provider.find_charge(order.order_id, charge_key(order.order_id))
                if charge is not None and charge.approved:
                    seen = order if step == "stale_approval" else current
                    settlement.approve(
                        seen, charge.charge_id, charge.amount, provider=fakes.provider, now=NOW
                    )
        final = fakes.order(order.order_id)
        total = final.order.totals.total.amount
        on_hand, reserved = _levels(fakes, "A")
        assert fakes.provider.charge_count(order.order_id) <= 1
        if final.status is OrderStatus.PAID:
            assert fakes.net_charged(order.order_id) == total
            assert (on_hand, reserved) == (10 - quantity, 0)
        elif final.status is OrderStatus.PENDING_PAYMENT:
            assert fakes.net_charged(order.order_id) == 0
            assert (on_hand, reserved) == (10, quantity)
        else:
            assert final.status in (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED)
            assert fakes.net_charged(order.order_id) == 0
            assert (on_hand, reserved) == (10, 0)
        # The catalog counts the units as sold exactly while the order stands paid.
        assert fakes.sales.sold.get("A", 0) == (quantity if final.status is OrderStatus.PAID else 0)
        announced = [e.type for e in fakes.published.events]
        assert announced.count("order.paid") <= steps.count("pay") + steps.count("pay_declined")
        assert len({(e.type, e.event_id) for e in fakes.published.events}) == len(
            {e.type for e in fakes.published.events}
        )
