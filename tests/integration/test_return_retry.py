"""Receiving a return is safe to retry, and its points reversal is never lost (on moto).

The receipt (refund, restock, return received, reversal owed) is one order move; the reversal
is a second write that clears the return's "reversal owed" mark. These tests cut the work
between the two, the way a dying function would, and check that a retried request or the
sweeper finishes it: one refund at the provider, one restock, one ``reversed`` entry per return,
and never more points taken back than the order earned (docs/orders.md, "Receiving a return").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from commerce import clock
from commerce.domain.money import Money
from commerce.domain.points import DEFAULT_POLICY, LedgerEntry, PointsReason
from commerce.domain.tiers import parse_tiers
from commerce.events import MemoryEventPublisher
from commerce.loyalty import tiers
from commerce.orders import returns, reversals
from commerce.payments.sandbox import SandboxProvider
from commerce.store import orders as order_store
from commerce.store import points as points_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orders_world import EVENTS, SUBS, Context, Shop, deliver

pytestmark = pytest.mark.integration

SKU = "TEA-RET-1"  # 10.33 CNY a unit
SKU2 = "TEA-RET-2"  # 7.49 CNY a unit
CUSTOMER = SUBS["customer"]
LATER = reversals.CATCH_UP_AFTER_SECONDS + 1


class Crash(BaseException):
    """The function dying mid-request: nothing in the code under test catches it."""


@pytest.fixture(autouse=True)
def list_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refunds and reversals below are worked out at list prices: no member price."""
    monkeypatch.setattr(tiers, "tier_table", lambda: parse_tiers("member:0:0"))


@pytest.fixture
def refund_calls(sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Idempotency keys of every refund asked of the provider, in order."""
    asked: list[str] = []
    original = sandbox.refund

    def counting(charge_id: str, amount: Money, idempotency_key: str) -> Any:
        asked.append(idempotency_key)
        return original(charge_id, amount, idempotency_key)

    monkeypatch.setattr(sandbox, "refund", counting)
    return asked


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 100), price=1033)
    create_product((SKU2, 100), name="Green tea", price=749)
    return shop


def delivered_order(shop: Shop, lines: dict[str, int]) -> str:
    """A signed-in customer's order, paid, shipped and delivered (its points earned)."""
    cart_id, _ = shop.cart_with(lines, who="customer")
    placed = shop.place(cart_id, who="customer", email=None)
    assert placed.status == 202, placed.body
    order_id: str = placed.body["order_id"]
    deliver(shop, order_id)
    return order_id


def request(shop: Shop, order_id: str, lines: dict[str, int]) -> str:
    body = {"lines": [{"sku": s, "quantity": q} for s, q in lines.items()], "reason": "changed"}
    asked = shop.request_return(order_id, body, who="customer")
    assert asked.status == 201, asked.body
    return_id: str = asked.body["return_id"]
    return return_id


def entries(order_id: str, reason: PointsReason) -> list[points_store.StoredEntry]:
    return [
        e for e in points_store.ledger(CUSTOMER) if e.order_id == order_id and e.reason is reason
    ]


def earned(order_id: str) -> int:
    return sum(e.delta for e in entries(order_id, PointsReason.EARNED))


def reversed_total(order_id: str) -> int:
    return -sum(e.delta for e in entries(order_id, PointsReason.REVERSED))


def refunded(order_id: str) -> Money:
    stored = order_store.load_order(order_id)
    assert stored is not None
    return stored.order.payment.refunded


def owed(order_id: str, return_id: str) -> order_store.PendingReversal | None:
    found = order_store.load_return(order_id, return_id)
    assert found is not None
    return found.reversal


def fail_reversal_once(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """The next reversal after a receipt raises ``error`` before writing anything."""
    original = returns.reverse_on_refund
    state = {"armed": True}

    def failing(*args: Any) -> bool:
        if state["armed"]:
            state["armed"] = False
            raise error
        return original(*args)

    monkeypatch.setattr(returns, "reverse_on_refund", failing)


# --- a retry completes what a crash left -------------------------------------------------------


def test_a_retry_after_a_crash_before_the_reversal_completes_it_once(
    shop: Shop,
    sandbox: SandboxProvider,
    refund_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id = delivered_order(shop, {SKU: 3})  # 30.99 + shipping
    return_id = request(shop, order_id, {SKU: 1})  # refunds 10.33: takes back 10 points
    before = earned(order_id)
    on_hand = shop.stock(SKU)["on_hand"]
    fail_reversal_once(monkeypatch, Crash())

    with pytest.raises(Crash):
        shop.receive(order_id, return_id)

    # The receipt is written, the reversal is not, and the return says what it still owes.
    assert shop.get(order_id, who="ops").body["status"] == "REFUNDED"
    assert shop.stock(SKU)["on_hand"] == on_hand + 1
    assert entries(order_id, PointsReason.REVERSED) == []
    pending = owed(order_id, return_id)
    assert pending is not None
    assert pending.points == 10

    retried = shop.receive(order_id, return_id)

    assert retried.status == 200, retried.body
    assert retried.body["status"] == "REFUNDED"
    assert [e.delta for e in entries(order_id, PointsReason.REVERSED)] == [-10]
    assert [e.ref for e in entries(order_id, PointsReason.REVERSED)] == [return_id]
    assert points_store.balance_of(CUSTOMER) == before - 10
    assert owed(order_id, return_id) is None
    assert len(refund_calls) == 1  # the retry never asked the provider again
    charge = order_store.load_order(order_id)
    assert charge is not None
    assert charge.order.payment.charge_id is not None
    assert sandbox.refunded_total(charge.order.payment.charge_id) == Money(1033)
    assert shop.stock(SKU)["on_hand"] == on_hand + 1  # restocked once


def test_a_plain_double_call_answers_the_same_and_changes_nothing(
    shop: Shop,
    sandbox: SandboxProvider,
    refund_calls: list[str],
    events: MemoryEventPublisher,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
) -> None:
    order_id = delivered_order(shop, {SKU: 2, SKU2: 1})
    return_id = request(shop, order_id, {SKU2: 1})
    first = shop.receive(order_id, return_id)
    assert first.status == 200, first.body
    tables, published = scan_all(), len(events.events)

    second = shop.receive(order_id, return_id)

    assert second.status == 200, second.body
    assert second.body == first.body
    assert scan_all() == tables
    assert len(events.events) == published
    assert len(refund_calls) == 1
    assert len(entries(order_id, PointsReason.REVERSED)) == 1


def test_a_guest_return_owes_no_reversal_and_a_retry_answers_200(
    shop: Shop, sandbox: SandboxProvider, refund_calls: list[str]
) -> None:
    cart_id, token = shop.cart_with({SKU: 2})
    placed = shop.place(cart_id, token=token)
    order_id = placed.body["order_id"]
    deliver(shop, order_id)
    body = {"lines": [{"sku": SKU, "quantity": 1}], "reason": "changed"}
    return_id = shop.request_return(order_id, body, token=token).body["return_id"]

    first = shop.receive(order_id, return_id)
    again = shop.receive(order_id, return_id)

    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    assert owed(order_id, return_id) is None
    assert len(refund_calls) == 1


def test_a_retry_after_the_order_moved_on_takes_back_what_the_receipt_decided(
    shop: Shop, sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry reads the order as it is now, with later refunds in it: the reversal must
    still be the one decided at the receipt, written once."""
    order_id = delivered_order(shop, {SKU: 3})
    first = request(shop, order_id, {SKU: 1})
    fail_reversal_once(monkeypatch, Crash())
    with pytest.raises(Crash):
        shop.receive(order_id, first)
    second = request(shop, order_id, {SKU: 1})
    assert shop.receive(order_id, second).status == 200

    assert shop.receive(order_id, first).status == 200  # the operator retries the first at last

    got = {e.ref: e.delta for e in entries(order_id, PointsReason.REVERSED)}
    assert got == {first: -10, second: -10}  # 10.33 then 20.66 refunded: 10, then 20 - 10
    assert reversed_total(order_id) == DEFAULT_POLICY.points_for(refunded(order_id))


# --- a crash nobody retries: the sweeper -------------------------------------------------------


def test_a_failed_reversal_answers_200_and_the_sweeper_writes_it_once(
    shop: Shop, sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = delivered_order(shop, {SKU: 3})
    return_id = request(shop, order_id, {SKU: 2})  # 20.66: 20 points
    fail_reversal_once(monkeypatch, RuntimeError("throttled"))

    received = shop.receive(order_id, return_id)

    assert received.status == 200, received.body
    assert entries(order_id, PointsReason.REVERSED) == []
    assert reversals.reconcile_reversals(clock.now()).settled == 0  # too fresh: not yet
    assert owed(order_id, return_id) is not None

    assert reversals.reconcile_reversals(clock.now() + LATER).as_dict() == {
        "settled": 1,
        "failed": 0,
    }
    assert [e.delta for e in entries(order_id, PointsReason.REVERSED)] == [-20]
    assert reversals.reconcile_reversals(clock.now() + LATER).settled == 0
    assert shop.receive(order_id, return_id).status == 200  # a late retry writes nothing
    assert [e.delta for e in entries(order_id, PointsReason.REVERSED)] == [-20]


def test_the_sweeper_function_catches_up_on_its_schedule(
    shop: Shop,
    sandbox: SandboxProvider,
    sweeper_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id = delivered_order(shop, {SKU: 1, SKU2: 2})
    return_id = request(shop, order_id, {SKU: 1})
    fail_reversal_once(monkeypatch, Crash())
    with pytest.raises(Crash):
        shop.receive(order_id, return_id)
    later = clock.now() + LATER
    monkeypatch.setattr(clock, "now", lambda: later)
    schedule = json.loads((EVENTS / "sweeper_schedule.json").read_text())

    sweeper_module.lambda_handler(schedule, Context())

    assert [e.delta for e in entries(order_id, PointsReason.REVERSED)] == [-10]
    assert owed(order_id, return_id) is None


def test_the_reversal_and_the_sweeper_racing_write_one_entry(
    shop: Shop, sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = delivered_order(shop, {SKU: 3})
    return_id = request(shop, order_id, {SKU: 1})
    fail_reversal_once(monkeypatch, Crash())
    with pytest.raises(Crash):
        shop.receive(order_id, return_id)
    stored = order_store.load_order(order_id)
    pending = owed(order_id, return_id)
    assert stored is not None
    assert pending is not None

    # Both read the mark before either wrote: the second finds it gone and writes nothing.
    assert returns.reverse_on_refund(stored, return_id, pending) is True
    assert returns.reverse_on_refund(stored, return_id, pending) is False
    assert [e.delta for e in entries(order_id, PointsReason.REVERSED)] == [-10]


def test_a_ledger_entry_written_again_changes_nothing(shop: Shop) -> None:
    del shop
    entry = LedgerEntry(25, PointsReason.ADJUSTED, None, clock.now(), ref="grant")
    assert points_store.record_once(CUSTOMER, entry) is True
    assert points_store.record_once(CUSTOMER, entry) is False
    taken = LedgerEntry(-5, PointsReason.REVERSED, "o1", clock.now(), ref="r1")
    assert points_store.record_once(CUSTOMER, taken) is True
    assert points_store.record_once(CUSTOMER, taken) is False
    assert points_store.balance_of(CUSTOMER) == 20
    assert len(points_store.ledger(CUSTOMER)) == 2


def test_points_already_spent_are_forgiven_once_and_never_taken_later(
    shop: Shop, sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = delivered_order(shop, {SKU: 3})
    return_id = request(shop, order_id, {SKU: 1})
    spent = LedgerEntry(-points_store.balance_of(CUSTOMER), PointsReason.ADJUSTED, None, 1, "x")
    assert points_store.record_once(CUSTOMER, spent)

    assert shop.receive(order_id, return_id).status == 200

    assert entries(order_id, PointsReason.REVERSED) == []  # nothing left to take: forgiven
    assert owed(order_id, return_id) is None  # and decided: a later balance is not touched
    grant = LedgerEntry(50, PointsReason.ADJUSTED, None, 2, "y")
    assert points_store.record_once(CUSTOMER, grant)
    assert shop.receive(order_id, return_id).status == 200
    assert reversals.reconcile_reversals(clock.now() + LATER).settled == 0
    assert points_store.balance_of(CUSTOMER) == 50


# --- never more than was earned ----------------------------------------------------------------

#: How each receipt goes: written at once, crashed then retried by the operator, or failed
#: then caught up by the sweeper; each is also asked twice.
OUTCOMES = ("ok", "crash", "fail")


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from([SKU, SKU2]), st.integers(1, 3), st.sampled_from(OUTCOMES)),
        min_size=1,
        max_size=4,
    ),
    finish=st.booleans(),
)
def test_partial_refunds_never_take_back_more_than_was_earned(
    shop: Shop,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
    steps: list[tuple[str, int, str]],
    finish: bool,
) -> None:
    bought = {SKU: 3, SKU2: 2}
    order_id = delivered_order(shop, bought)
    points = earned(order_id)
    left = dict(bought)
    plan = [({sku: min(q, left[sku])}, how) for sku, q, how in steps]
    if finish:
        plan.append(({sku: q for sku, q in bought.items()}, "ok"))
    for lines, how in plan:
        wanted = {sku: min(q, left[sku]) for sku, q in lines.items() if min(q, left[sku])}
        if not wanted:
            continue
        for sku, q in wanted.items():
            left[sku] -= q
        return_id = request(shop, order_id, wanted)
        with monkeypatch.context() as patch:
            if how == "crash":
                fail_reversal_once(patch, Crash())
                with pytest.raises(Crash):
                    shop.receive(order_id, return_id)
            elif how == "fail":
                fail_reversal_once(patch, RuntimeError("throttled"))
                assert shop.receive(order_id, return_id).status == 200
                reversals.reconcile_reversals(clock.now() + LATER)
            assert shop.receive(order_id, return_id).status == 200
        assert shop.receive(order_id, return_id).status == 200

        taken = reversed_total(order_id)
        assert taken <= points
        assert taken == min(points, DEFAULT_POLICY.points_for(refunded(order_id)))
        refs = [e.ref for e in entries(order_id, PointsReason.REVERSED)]
        assert len(refs) == len(set(refs))  # one entry per return at most
    if not any(left.values()):
        stored = order_store.load_order(order_id)
        assert stored is not None
        paid_for_goods = stored.order.totals.total - stored.order.totals.shipping
        assert reversed_total(order_id) == min(points, DEFAULT_POLICY.points_for(paid_for_goods))
