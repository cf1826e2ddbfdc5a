"""The pure rules of refunds (commerce/domain/refunds.py): never more than was paid."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import (
    Order,
    OrderEvent,
    OrderStatus,
    PaymentStatus,
    RefundStatus,
    advance,
)
from commerce.domain.refunds import (
    fail_refund,
    open_refund,
    record_made,
    refund_id_for,
    refundable,
    settle_refund,
)
from commerce.errors import Conflict
from hypothesis import given
from hypothesis import strategies as st
from order_builders import pending_order

pytestmark = pytest.mark.unit

NOW = 1_900_000_000


def paid(total_units: int = 3, unit_price: int = 1000) -> Order:
    order = pending_order({"A": total_units}, unit_price=unit_price).order
    moved = advance(order, OrderEvent.PAYMENT_APPROVED, NOW).order
    return replace(moved, payment=moved.payment.approved("ch_1"))


def test_a_refund_is_reserved_then_counted_when_it_succeeds() -> None:
    order = paid()
    opened = open_refund(order, "rf_a", Money(1200), "damaged", NOW)
    assert refundable(opened) == Money(1800)
    assert opened.payment.refunded == Money(0)
    assert opened.refunds[0].status is RefundStatus.PENDING
    settled = settle_refund(opened, "rf_a", "re_9", points_due=3)
    assert settled.payment.refunded == Money(1200)
    assert settled.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert settled.refunds[0].status is RefundStatus.SUCCEEDED
    assert settled.refunds[0].provider_refund_id == "re_9"
    assert settled.refunds[0].points_due == 3
    assert settle_refund(settled, "rf_a", "re_9") is settled  # settled once


def test_a_failed_refund_frees_its_amount() -> None:
    opened = open_refund(paid(), "rf_a", Money(3000), "all", NOW)
    assert refundable(opened) == Money(0)
    failed = fail_refund(opened, "rf_a")
    assert failed.refunds[0].status is RefundStatus.FAILED
    assert refundable(failed) == Money(3000)
    assert failed.payment.refunded == Money(0)


@pytest.mark.parametrize(
    ("amount", "why"),
    [(3001, "exceed"), (0, "positive"), (-5, "positive")],
)
def test_refunds_beyond_what_was_paid_or_not_positive_are_409(amount: int, why: str) -> None:
    with pytest.raises(Conflict, match=why):
        open_refund(paid(), "rf_a", Money(amount), "x", NOW)


def test_an_order_never_paid_or_cancelled_has_nothing_to_refund() -> None:
    pending = pending_order({"A": 1}).order
    with pytest.raises(Conflict, match="no payment"):
        open_refund(pending, "rf_a", Money(100), "x", NOW)
    cancelled = advance(paid(), OrderEvent.CANCEL, NOW).order
    assert cancelled.status is OrderStatus.CANCELLED
    with pytest.raises(Conflict, match="no payment"):
        open_refund(cancelled, "rf_a", Money(100), "x", NOW)


def test_a_refund_made_elsewhere_is_recorded_once_and_never_past_the_charge() -> None:
    order = paid()
    once = record_made(order, "rf_dash", Money(1000), NOW, provider_refund_id="re_1")
    again = record_made(once, "rf_other", Money(1000), NOW, provider_refund_id="re_1")
    assert again is once  # the same provider refund, reported twice
    assert once.payment.refunded == Money(1000)
    more = record_made(once, "rf_dash2", Money(5000), NOW, provider_refund_id="re_2")
    assert more.payment.refunded == Money(3000)
    assert more.payment.status is PaymentStatus.REFUNDED


def test_the_providers_echo_of_a_pending_refund_settles_it() -> None:
    opened = open_refund(paid(), "rf_a", Money(500), "x", NOW)
    echoed = record_made(opened, "rf_a", Money(500), NOW, provider_refund_id="re_5")
    assert echoed.refunds[0].status is RefundStatus.SUCCEEDED
    assert echoed.payment.refunded == Money(500)
    assert len(echoed.refunds) == 1


def test_refund_ids_are_stable_and_fit_every_provider() -> None:
    first = refund_id_for("order:o1:refund:staff:abc")
    assert first == refund_id_for("order:o1:refund:staff:abc")
    assert first != refund_id_for("order:o1:refund:staff:abd")
    assert len(first) <= 32
    assert first.startswith("rf_")


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["open", "settle", "fail", "made"]),
            st.integers(min_value=1, max_value=4000),
            st.integers(min_value=0, max_value=5),
        ),
        max_size=25,
    )
)
def test_refunds_never_add_up_to_more_than_was_paid(steps: list[tuple[str, int, int]]) -> None:
    order = paid()
    reported = False  # a refund reported by the provider is counted whatever was reserved
    for kind, amount, slot in steps:
        refund_id = f"rf_{slot}"
        if kind == "open":
            with contextlib.suppress(Conflict):
                order = open_refund(order, refund_id, Money(amount), "x", NOW)
        elif kind == "settle":
            if any(r.refund_id == refund_id for r in order.refunds):
                order = settle_refund(order, refund_id, f"re_{slot}")
        elif kind == "fail":
            order = fail_refund(order, refund_id)
        else:
            reported = True
            order = record_made(
                order, f"rf_m{slot}", Money(amount), NOW, provider_refund_id=f"m{slot}"
            )
        succeeded = sum(
            r.amount.amount for r in order.refunds if r.status is RefundStatus.SUCCEEDED
        )
        pending = sum(r.amount.amount for r in order.refunds if r.status is RefundStatus.PENDING)
        assert order.payment.refunded.amount == succeeded <= 3000
        assert refundable(order).amount == max(0, 3000 - succeeded - pending)
        if not reported:
            assert succeeded + pending <= 3000
