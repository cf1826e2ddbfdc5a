"""The order state machine over every (status, event) pair, history, the order value, access."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from commerce.domain.guest_tokens import hash_guest_token
from commerce.domain.money import Money
from commerce.domain.orders import (
    QUALITY_RETURN_WINDOW_SECONDS,
    RETURN_WINDOW_SECONDS,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Effect,
    IllegalTransition,
    Order,
    OrderError,
    OrderEvent,
    OrderHistoryEntry,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Transition,
    advance,
    append_history,
    is_quality_reason,
    new_order,
    owns,
    return_event,
    return_window_open,
    transition,
)
from commerce.domain.pricing import PriceLine, price
from commerce.errors import Conflict
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = 1_700_000_000
DAY = 24 * 60 * 60

S = OrderStatus
E = OrderEvent

#: The documented moves, written out independently of the module's table.
LEGAL: dict[tuple[OrderStatus, OrderEvent], tuple[OrderStatus, tuple[Effect, ...]]] = {
    (S.PENDING_PAYMENT, E.PAYMENT_APPROVED): (S.PAID, (Effect.DEDUCT_STOCK,)),
    (S.PENDING_PAYMENT, E.PAYMENT_DECLINED): (S.PAYMENT_FAILED, (Effect.RELEASE_RESERVATION,)),
    (S.PENDING_PAYMENT, E.CANCEL): (S.CANCELLED, (Effect.RELEASE_RESERVATION,)),
    (S.PAID, E.CANCEL): (S.CANCELLED, (Effect.VOID_OR_REFUND_PAYMENT, Effect.RESTOCK_ORDER)),
    (S.PAID, E.SHIP): (S.SHIPPED, ()),
    (S.SHIPPED, E.DELIVER): (S.DELIVERED, ()),
    (S.DELIVERED, E.REQUEST_RETURN): (S.RETURN_REQUESTED, ()),
    (S.DELIVERED, E.REQUEST_QUALITY_RETURN): (S.RETURN_REQUESTED, ()),
    (S.RETURN_REQUESTED, E.REFUND_COMPLETED): (
        S.REFUNDED,
        (Effect.REFUND_LINES, Effect.RESTOCK_RETURNED),
    ),
    (S.REFUNDED, E.REQUEST_RETURN): (S.RETURN_REQUESTED, ()),
    (S.REFUNDED, E.REQUEST_QUALITY_RETURN): (S.RETURN_REQUESTED, ()),
    (S.SHIPPED, E.TRACK): (S.SHIPPED, ()),
    (S.DELIVERED, E.TRACK): (S.DELIVERED, ()),
    (S.RETURN_REQUESTED, E.TRACK): (S.RETURN_REQUESTED, ()),
    (S.REFUNDED, E.TRACK): (S.REFUNDED, ()),
    (S.CANCELLED, E.PAYMENT_APPROVED): (S.CANCELLED, (Effect.VOID_OR_REFUND_PAYMENT,)),
    (S.CANCELLED, E.PAYMENT_DECLINED): (S.CANCELLED, ()),
}

ALL_PAIRS = list(itertools.product(OrderStatus, OrderEvent))


def test_the_table_is_exactly_the_documented_moves() -> None:
    assert set(TRANSITIONS) == set(LEGAL)
    assert len(ALL_PAIRS) == 8 * 9


@pytest.mark.parametrize(("status", "event"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_is_a_documented_move_or_a_conflict(
    status: OrderStatus, event: OrderEvent
) -> None:
    expected = LEGAL.get((status, event))
    if expected is None:
        with pytest.raises(IllegalTransition) as raised:
            transition(status, event)
        assert isinstance(raised.value, Conflict)
        assert raised.value.status == 409
        assert raised.value.type == "conflict"
        assert raised.value.current is status
        assert raised.value.event is event
        assert status.value in raised.value.detail
        # "status" is the problem's HTTP status; the order's is its own extension.
        assert raised.value.extensions == {"order_status": status.value}
    else:
        assert transition(status, event) == Transition(*expected)


def test_shipped_and_later_cannot_be_cancelled() -> None:
    for status in (S.SHIPPED, S.DELIVERED, S.RETURN_REQUESTED, S.REFUNDED, S.PAYMENT_FAILED):
        with pytest.raises(IllegalTransition):
            transition(status, E.CANCEL)


def test_payment_failed_is_the_only_terminal_status() -> None:
    assert frozenset({S.PAYMENT_FAILED}) == TERMINAL_STATUSES


def test_wire_values() -> None:
    assert [s.value for s in OrderStatus] == [
        "PENDING_PAYMENT",
        "PAID",
        "SHIPPED",
        "DELIVERED",
        "PAYMENT_FAILED",
        "CANCELLED",
        "RETURN_REQUESTED",
        "REFUNDED",
    ]
    assert E.PAYMENT_APPROVED.value == "payment_approved"


# --- Return window ----------------------------------------------------------------------------


def test_return_window_is_seven_days_inclusive() -> None:
    assert RETURN_WINDOW_SECONDS == 7 * DAY
    assert return_window_open(NOW, NOW)
    assert return_window_open(NOW, NOW + 7 * DAY)
    assert not return_window_open(NOW, NOW + 7 * DAY + 1)
    assert return_window_open(NOW, NOW - 60)  # a clock a little behind the carrier's


def test_the_quality_window_is_fifteen_days_inclusive() -> None:
    assert QUALITY_RETURN_WINDOW_SECONDS == 15 * DAY
    assert return_window_open(NOW, NOW + 15 * DAY, E.REQUEST_QUALITY_RETURN)
    assert not return_window_open(NOW, NOW + 15 * DAY + 1, E.REQUEST_QUALITY_RETURN)
    assert not return_window_open(NOW, NOW + 8 * DAY, E.REQUEST_RETURN)


@pytest.mark.parametrize(
    ("reason", "quality"),
    [
        ("quality", True),
        ("  Quality ", True),
        ("QUALITY: the lid is cracked", True),
        ("quality:", True),
        ("", False),
        ("changed my mind", False),
        ("poor quality", False),
        ("qualityish", False),
    ],
)
def test_a_quality_reason_picks_the_quality_move(reason: str, quality: bool) -> None:
    assert is_quality_reason(reason) is quality
    assert return_event(reason) is (E.REQUEST_QUALITY_RETURN if quality else E.REQUEST_RETURN)


# --- History ----------------------------------------------------------------------------------


def test_history_appends_and_never_runs_backwards() -> None:
    history: tuple[OrderHistoryEntry, ...] = (OrderHistoryEntry(S.PENDING_PAYMENT, NOW),)
    history = append_history(history, S.PAID, NOW + 5)
    history = append_history(history, S.SHIPPED, NOW + 1)  # a skewed clock
    assert history == (
        OrderHistoryEntry(S.PENDING_PAYMENT, NOW),
        OrderHistoryEntry(S.PAID, NOW + 5),
        OrderHistoryEntry(S.SHIPPED, NOW + 5),
    )
    assert history[0].to_dict() == {"status": "PENDING_PAYMENT", "at": "2023-11-14T22:13:20Z"}


# --- The order value and advance --------------------------------------------------------------

LINES = (OrderLine("SKU-A", 2, Money(1500)), OrderLine("SKU-B", 1, Money(9900)))


def placed(owner: str | None = "user-1", token: str | None = None) -> Order:
    totals = price([PriceLine(x.sku, x.quantity, x.unit_price) for x in LINES]).totals
    return new_order(
        "ord-1",
        email="a@example.com",
        lines=LINES,
        totals=totals,
        created_at=NOW,
        owner=owner,
        order_token_hash=hash_guest_token(token) if token else None,
    )


def test_a_new_order_is_pending_with_one_history_entry() -> None:
    order = placed()
    assert order.status is S.PENDING_PAYMENT
    assert order.history == (OrderHistoryEntry(S.PENDING_PAYMENT, NOW),)
    assert order.payment == Payment()
    assert order.version == 1
    assert order.totals.subtotal == Money(12900)
    assert order.units() == {"SKU-A": 2, "SKU-B": 1}
    body = order.to_dict()
    assert body["status"] == "PENDING_PAYMENT"
    assert body["payment"] == {"status": "PENDING", "method": "card"}
    assert body["lines"] == [
        {"sku": "SKU-A", "quantity": 2, "unit_price": {"amount": 1500, "currency": "CNY"}},
        {"sku": "SKU-B", "quantity": 1, "unit_price": {"amount": 9900, "currency": "CNY"}},
    ]
    assert "charge_id" not in str(body)


def test_the_happy_path_records_each_status_with_its_time() -> None:
    order = placed()
    for step, event in enumerate((E.PAYMENT_APPROVED, E.SHIP, E.DELIVER), start=1):
        moved = advance(order, event, NOW + step)
        assert moved.changed_status
        assert moved.previous is order.status
        order = moved.order
    assert order.status is S.DELIVERED
    assert [(e.status, e.at) for e in order.history] == [
        (S.PENDING_PAYMENT, NOW),
        (S.PAID, NOW + 1),
        (S.SHIPPED, NOW + 2),
        (S.DELIVERED, NOW + 3),
    ]
    assert order.version == 4
    assert order.delivered_at == NOW + 3


def test_advance_reports_the_effects() -> None:
    assert advance(placed(), E.PAYMENT_APPROVED, NOW).effects == (Effect.DEDUCT_STOCK,)
    assert advance(placed(), E.CANCEL, NOW).effects == (Effect.RELEASE_RESERVATION,)


def test_late_approval_on_a_cancelled_order_refunds_without_a_history_entry() -> None:
    cancelled = advance(placed(), E.CANCEL, NOW + 1).order
    late = advance(cancelled, E.PAYMENT_APPROVED, NOW + 2)
    assert not late.changed_status
    assert late.effects == (Effect.VOID_OR_REFUND_PAYMENT,)
    assert late.order.history == cancelled.history
    assert late.order.version == cancelled.version + 1


def test_an_illegal_advance_changes_nothing() -> None:
    order = placed()
    with pytest.raises(IllegalTransition):
        advance(order, E.SHIP, NOW)
    assert order.status is S.PENDING_PAYMENT
    assert order.version == 1


def delivered(at: int = NOW) -> Order:
    order = placed()
    for event in (E.PAYMENT_APPROVED, E.SHIP, E.DELIVER):
        order = advance(order, event, at).order
    return order


def test_a_return_is_requested_only_inside_the_window() -> None:
    order = delivered()
    assert advance(order, E.REQUEST_RETURN, NOW + 7 * DAY).order.status is S.RETURN_REQUESTED
    with pytest.raises(IllegalTransition, match="return window"):
        advance(order, E.REQUEST_RETURN, NOW + 7 * DAY + 1)


def test_a_quality_return_has_fifteen_days_and_any_other_seven() -> None:
    order = delivered()
    late = NOW + 10 * DAY
    with pytest.raises(IllegalTransition, match="return window of 7 days"):
        advance(order, E.REQUEST_RETURN, late)
    assert advance(order, E.REQUEST_QUALITY_RETURN, late).order.status is S.RETURN_REQUESTED
    assert advance(order, E.REQUEST_QUALITY_RETURN, NOW + 15 * DAY).changed_status
    with pytest.raises(IllegalTransition, match="quality problem of 15 days"):
        advance(order, E.REQUEST_QUALITY_RETURN, NOW + 15 * DAY + 1)


def test_carrier_events_keep_the_status_and_add_no_history() -> None:
    shipped = advance(advance(placed(), E.PAYMENT_APPROVED, NOW).order, E.SHIP, NOW).order
    tracked = advance(shipped, E.TRACK, NOW + 60)
    assert not tracked.changed_status
    assert tracked.order.history == shipped.history
    assert tracked.order.version == shipped.version + 1
    with pytest.raises(IllegalTransition, match="before it is shipped"):
        advance(placed(), E.TRACK, NOW)


def test_a_second_partial_return_after_a_refund_keeps_the_window() -> None:
    order = advance(delivered(), E.REQUEST_RETURN, NOW + DAY).order
    order = advance(order, E.REFUND_COMPLETED, NOW + 2 * DAY).order
    assert order.status is S.REFUNDED
    again = advance(order, E.REQUEST_RETURN, NOW + 3 * DAY)
    assert again.order.status is S.RETURN_REQUESTED
    assert again.order.delivered_at == NOW
    with pytest.raises(IllegalTransition):
        advance(order, E.REQUEST_RETURN, NOW + 8 * DAY)


def test_order_invariants() -> None:
    order = placed()
    with pytest.raises(OrderError):
        replace(order, lines=())
    with pytest.raises(OrderError):
        replace(order, lines=(*LINES, OrderLine("SKU-A", 1, Money(1))))
    with pytest.raises(OrderError):
        replace(order, owner=None)
    with pytest.raises(OrderError):
        replace(order, status=S.PAID)
    with pytest.raises(OrderError):
        OrderLine("SKU-A", 0, Money(1))
    with pytest.raises(OrderError):
        OrderLine("SKU-A", True, Money(1))
    with pytest.raises(OrderError):
        OrderLine("SKU-A", 1, Money(-1))


def test_payment_moves() -> None:
    paid = Payment().approved("ch_1")
    assert paid.status is PaymentStatus.APPROVED
    assert paid.charge_id == "ch_1"
    failed = Payment().declined("card_declined")
    assert failed.status is PaymentStatus.DECLINED
    assert failed.decline_code == "card_declined"
    part = paid.refund(Money(300), Money(1000))
    assert part.status is PaymentStatus.PARTIALLY_REFUNDED
    full = part.refund(Money(700), Money(1000))
    assert full.status is PaymentStatus.REFUNDED
    assert full.refunded == Money(1000)
    with pytest.raises(OrderError):
        full.refund(Money(1), Money(1000))


# --- Whose order it is --------------------------------------------------------------------------

TOKEN = "t" * 43


@pytest.mark.parametrize(
    ("sub", "token", "mine"),
    [
        ("user-1", None, True),  # the owner
        ("user-2", None, False),  # another customer: only a staff role may reach it
        (None, None, False),  # anonymous
        (None, TOKEN, False),  # a token does not open a customer's order
    ],
)
def test_a_customers_order_is_theirs_alone(sub: str | None, token: str | None, mine: bool) -> None:
    order = placed(owner="user-1")
    assert owns(order, caller_sub=sub, tokens=(token,)) is mine


def test_a_guest_order_is_the_order_or_cart_tokens_holders() -> None:
    cart_token = "c" * 43
    order = replace(placed(owner=None, token=TOKEN), cart_token_hash=hash_guest_token(cart_token))
    for token in (TOKEN, cart_token):
        assert owns(order, caller_sub=None, tokens=(token,))
        assert owns(order, caller_sub=None, tokens=(None, token))
    for wrong in (None, "", "x" * 43, TOKEN + "x", "y" * 500):
        assert not owns(order, caller_sub=None, tokens=(wrong,))
        assert not owns(order, caller_sub="user-1", tokens=(wrong,))


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.sampled_from(list(OrderEvent)), max_size=12),
    steps=st.lists(st.integers(min_value=0, max_value=2 * DAY), min_size=12, max_size=12),
)
def test_any_event_sequence_keeps_the_order_consistent(
    events: list[OrderEvent], steps: list[int]
) -> None:
    order = placed()
    at = NOW
    for event, step in zip(events, steps, strict=False):
        at += step
        before = order
        try:
            moved = advance(order, event, at)
        except IllegalTransition:
            assert order == before
            continue
        order = moved.order
        assert order.version == before.version + 1
        assert order.status is order.history[-1].status
        assert len(order.history) == len(before.history) + int(moved.changed_status)
        assert all(a.at <= b.at for a, b in itertools.pairwise(order.history))
        # Stock is committed at most once and only from a pending order.
        if Effect.DEDUCT_STOCK in moved.effects:
            assert before.status is S.PENDING_PAYMENT
    commits = sum(1 for e in order.history if e.status is S.PAID)
    assert commits <= 1
