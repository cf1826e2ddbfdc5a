"""The payment timeout and reconciliation over fakes at our own seams (orders/timeouts.py).

An unpaid order is cancelled once its time is up, its stock released, exactly once, whatever
payment notification races it: the order ends either PAID, or CANCELLED with the late charge
refunded. A charge whose notification was lost is found by asking the provider.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus, PaymentStatus, RefundStatus
from commerce.orders import settlement, timeouts
from commerce.payments import factory
from commerce.payments.provider import charge_key
from commerce.settings import get_settings
from concurrency import all_at_once
from order_builders import CREATED_EPOCH
from order_fakes import World, world

pytestmark = pytest.mark.unit

TIMEOUT = get_settings().payment_timeout_seconds
EXPIRED = CREATED_EPOCH + TIMEOUT
EARLY = CREATED_EPOCH + timeouts.ASK_AFTER_SECONDS + 1


@pytest.fixture
def fakes() -> Iterator[World]:
    with world() as fakes:
        fakes.book.stock("A", 10)
        yield fakes


def _levels(fakes: World) -> tuple[int, int]:
    shelf = fakes.book.shelf("A")
    return shelf.on_hand, shelf.reserved


def test_the_default_payment_timeout_is_half_an_hour() -> None:
    assert TIMEOUT == 1800


def test_an_unpaid_order_is_cancelled_when_its_time_is_up_and_its_stock_released(
    fakes: World,
) -> None:
    order = fakes.place({"A": 3})
    assert timeouts.sweep_unpaid(EXPIRED - 1).expired == 0
    assert fakes.order(order.order_id).status is OrderStatus.PENDING_PAYMENT
    report = timeouts.sweep_unpaid(EXPIRED)
    assert report.expired == 1
    cancelled = fakes.order(order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert _levels(fakes) == (10, 0)
    assert fakes.event_types() == ["order.cancelled"]
    # A second run finds nothing to do: the order left the unpaid list.
    assert timeouts.sweep_unpaid(EXPIRED + 60).as_dict() == timeouts.UnpaidReport().as_dict()
    assert fakes.book.perks_returned == [order.order_id]


def test_a_payment_notified_before_the_timeout_keeps_the_order(fakes: World) -> None:
    order = fakes.place({"A": 1})
    charge = fakes.provider.charge(
        order.order_id, Money(1000), "tok_ok", charge_key(order.order_id)
    )
    settlement.approve(order, charge.charge_id, charge.amount, provider=fakes.provider, now=EARLY)
    assert timeouts.sweep_unpaid(EXPIRED).expired == 0
    assert fakes.order(order.order_id).status is OrderStatus.PAID
    assert fakes.net_charged(order.order_id) == 1000


def test_a_payment_notified_after_the_timeout_is_refunded_and_the_order_shows_it(
    fakes: World,
) -> None:
    order = fakes.place({"A": 2})
    timeouts.sweep_unpaid(EXPIRED)
    charge = fakes.provider.charge(
        order.order_id, Money(2000), "tok_ok", charge_key(order.order_id)
    )
    late = settlement.approve(
        fakes.order(order.order_id),
        charge.charge_id,
        charge.amount,
        provider=fakes.provider,
        now=EXPIRED + 5,
    )
    assert late.result is settlement.Result.CANCELLED_REFUNDED
    after = fakes.order(order.order_id)
    assert after.status is OrderStatus.CANCELLED
    assert after.order.payment.status is PaymentStatus.REFUNDED
    assert [(r.amount, r.status) for r in after.order.refunds] == [
        (Money(2000), RefundStatus.SUCCEEDED)
    ]
    assert fakes.net_charged(order.order_id) == 0
    assert _levels(fakes) == (10, 0)


def test_a_lost_notification_is_reconciled_from_the_provider(fakes: World) -> None:
    order = fakes.place({"A": 1})
    fakes.provider.charge(order.order_id, Money(1000), "tok_ok", charge_key(order.order_id))
    report = timeouts.sweep_unpaid(EARLY)
    assert report.reconciled == 1
    assert fakes.order(order.order_id).status is OrderStatus.PAID
    assert _levels(fakes) == (9, 0)


def test_a_declined_charge_found_by_the_reconciler_fails_the_order(fakes: World) -> None:
    order = fakes.place({"A": 1}, token="tok_declined")
    fakes.provider.charge(order.order_id, Money(1000), "tok_declined", charge_key(order.order_id))
    assert timeouts.sweep_unpaid(EARLY).declined == 1
    assert fakes.order(order.order_id).status is OrderStatus.PAYMENT_FAILED
    assert _levels(fakes) == (10, 0)


def test_orders_too_young_are_not_asked_about(fakes: World) -> None:
    fakes.place({"A": 1})
    report = timeouts.sweep_unpaid(CREATED_EPOCH + 10)
    assert report.as_dict() == timeouts.UnpaidReport().as_dict()


@pytest.mark.parametrize("runs", range(10))
def test_a_timeout_racing_the_payment_notification_settles_once(fakes: World, runs: int) -> None:
    """Exactly one of: PAID (the cancel found it paid), or CANCELLED with the charge refunded."""
    del runs
    order = fakes.place({"A": 2})
    charge = fakes.provider.charge(
        order.order_id, Money(2000), "tok_ok", charge_key(order.order_id)
    )

    def notify() -> object:
        return settlement.approve(
            order, charge.charge_id, charge.amount, provider=fakes.provider, now=EXPIRED
        )

    def expire() -> object:
        return timeouts.expire(order, EXPIRED)

    calls = [notify, expire]
    results = all_at_once(2, lambda: calls.pop()())
    assert not [r for r in results if isinstance(r, Exception)]
    after = fakes.order(order.order_id)
    if after.status is OrderStatus.PAID:
        assert fakes.net_charged(order.order_id) == 2000
        assert _levels(fakes) == (8, 0)
    else:
        assert after.status is OrderStatus.CANCELLED
        assert after.order.payment.status is PaymentStatus.REFUNDED
        assert fakes.net_charged(order.order_id) == 0
        assert _levels(fakes) == (10, 0)


def test_an_unpaid_order_is_asked_about_a_handful_of_times_not_at_every_run(
    fakes: World,
) -> None:
    order = fakes.place({"A": 1})
    asked: list[int] = []
    sandbox = fakes.provider

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(sandbox, name)

        def find_charge(self, order_id: str, key: str) -> object:
            asked.append(now)
            return sandbox.find_charge(order_id, key)

    factory.use_provider(Counting())  # type: ignore[arg-type]
    now = CREATED_EPOCH
    while now <= EXPIRED:
        timeouts.sweep_unpaid(now)
        now += 5
    ages = [at - CREATED_EPOCH for at in asked]
    assert 3 <= len(ages) <= 8, ages
    assert ages[0] == timeouts.ASK_AFTER_SECONDS
    assert fakes.order(order.order_id).status is OrderStatus.CANCELLED
