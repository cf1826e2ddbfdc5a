"""Staff refunds and refunds the provider reports, over fakes at our own seams
(orders/refunds.py): partial or whole, never more than was paid, once per Idempotency-Key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus, PaymentStatus, RefundStatus
from commerce.errors import Conflict, IdempotencyKeyReuse, NotFound
from commerce.orders import charging, refunds
from commerce.orders.schemas import RefundAmountIn, RefundIn
from commerce.payments import factory
from commerce.payments.provider import RefundResult, TransientProviderError
from commerce.payments.sandbox import SandboxProvider
from concurrency import all_at_once
from order_fakes import World, world

pytestmark = pytest.mark.unit


@pytest.fixture
def fakes() -> Iterator[World]:
    with world() as fakes:
        fakes.book.stock("A", 10)
        yield fakes


def _paid(fakes: World, units: int = 3) -> str:
    order = fakes.place({"A": units})
    charging.pay(order.order_id)
    assert fakes.order(order.order_id).status is OrderStatus.PAID
    return order.order_id


def _body(amount: int, reason: str = "damaged in transit") -> RefundIn:
    return RefundIn(amount=RefundAmountIn(amount=amount, currency="CNY"), reason=reason)


def _refunded(fakes: World, order_id: str) -> int:
    """What the provider gave back of the order's charge."""
    charge_id = fakes.order(order_id).order.payment.charge_id
    assert charge_id is not None
    return fakes.provider.refunded_total(charge_id).amount


def test_a_partial_refund_goes_through_the_provider_and_is_listed(fakes: World) -> None:
    order_id = _paid(fakes)
    out = refunds.refund_order(order_id, _body(1200), "key-1", staff="ops-1")
    assert (out.status, out.amount.amount) == ("succeeded", 1200)
    stored = fakes.order(order_id)
    assert stored.status is OrderStatus.PAID
    assert stored.order.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert stored.order.payment.refunded == Money(1200)
    assert [r.refund_id for r in stored.order.refunds] == [out.refund_id]
    assert _refunded(fakes, order_id) == 1200
    refund_events = [e for e in fakes.published.events if e.type == "order.refunded"]
    assert [e.data["refund_id"] for e in refund_events] == [out.refund_id]


def test_the_same_key_again_refunds_once_and_answers_the_same(fakes: World) -> None:
    order_id = _paid(fakes)
    first = refunds.refund_order(order_id, _body(500), "key-1")
    again = refunds.refund_order(order_id, _body(500), "key-1")
    assert again == first
    assert _refunded(fakes, order_id) == 500
    assert len(fakes.order(order_id).order.refunds) == 1


def test_the_same_key_with_another_amount_is_422(fakes: World) -> None:
    order_id = _paid(fakes)
    refunds.refund_order(order_id, _body(500), "key-1")
    with pytest.raises(IdempotencyKeyReuse):
        refunds.refund_order(order_id, _body(600), "key-1")
    assert _refunded(fakes, order_id) == 500


def test_refunds_over_what_was_paid_are_409_and_change_nothing(fakes: World) -> None:
    order_id = _paid(fakes)
    refunds.refund_order(order_id, _body(2000), "key-1")
    before = fakes.order(order_id)
    with pytest.raises(Conflict, match="cannot exceed"):
        refunds.refund_order(order_id, _body(1001), "key-2")
    assert fakes.order(order_id) == before
    whole = refunds.refund_order(order_id, _body(1000), "key-3")
    assert whole.status == "succeeded"
    assert fakes.order(order_id).order.payment.status is PaymentStatus.REFUNDED
    assert _refunded(fakes, order_id) == 3000


def test_an_unpaid_or_unknown_order_cannot_be_refunded(fakes: World) -> None:
    pending = fakes.place({"A": 1})
    with pytest.raises(Conflict):
        refunds.refund_order(pending.order_id, _body(100), "key-1")
    with pytest.raises(NotFound):
        refunds.refund_order("no-such-order", _body(100), "key-1")


def test_concurrent_refunds_never_add_up_to_more_than_was_paid(fakes: World) -> None:
    order_id = _paid(fakes)
    keys = iter(f"key-{n}" for n in range(8))
    results = all_at_once(8, lambda: refunds.refund_order(order_id, _body(1000), next(keys)))
    done = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 3
    assert all(isinstance(r, Conflict) for r in refused)
    assert _refunded(fakes, order_id) == 3000
    assert fakes.order(order_id).order.payment.refunded == Money(3000)


class _Unreachable:
    """The sandbox, failing every refund with a transient error while ``down``."""

    def __init__(self, inner: SandboxProvider) -> None:
        self.inner = inner
        self.down = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        if self.down:
            raise TransientProviderError("provider timed out")
        return self.inner.refund(charge_id, amount, idempotency_key)


def test_a_provider_outage_leaves_the_refund_pending_and_the_retry_finishes_it(
    fakes: World,
) -> None:
    order_id = _paid(fakes)
    flaky = _Unreachable(fakes.provider)
    factory.use_provider(flaky)  # type: ignore[arg-type]
    pending = refunds.refund_order(order_id, _body(700), "key-1")
    assert pending.status == "pending"
    assert fakes.order(order_id).order.payment.refunded == Money(0)
    with pytest.raises(Conflict):  # the pending amount is reserved
        refunds.refund_order(order_id, _body(2301), "key-2")
    flaky.down = False
    done = refunds.refund_order(order_id, _body(700), "key-1")
    assert (done.refund_id, done.status) == (pending.refund_id, "succeeded")
    assert _refunded(fakes, order_id) == 700


def test_a_refund_made_at_the_provider_is_recorded_once(fakes: World) -> None:
    order_id = _paid(fakes)
    first = refunds.record_provider_refund(
        order_id, reference=None, provider_refund_id="re_dash", amount=Money(400), at=1
    )
    again = refunds.record_provider_refund(
        order_id, reference=None, provider_refund_id="re_dash", amount=Money(400), at=2
    )
    assert (first, again) == ("recorded", "already_recorded")
    stored = fakes.order(order_id).order
    assert stored.payment.refunded == Money(400)
    assert [(r.amount, r.status) for r in stored.refunds] == [(Money(400), RefundStatus.SUCCEEDED)]


def test_the_providers_report_of_our_own_refund_counts_nothing_more(fakes: World) -> None:
    order_id = _paid(fakes)
    ours = refunds.refund_order(order_id, _body(900), "key-1")
    echo = refunds.record_provider_refund(
        order_id, reference=ours.refund_id, provider_refund_id="re_x", amount=Money(900), at=3
    )
    assert echo == "already_recorded"
    assert fakes.order(order_id).order.payment.refunded == Money(900)


def test_a_refund_reported_for_an_unpaid_order_is_noted_only(fakes: World) -> None:
    pending = fakes.place({"A": 1})
    noted = refunds.record_provider_refund(
        pending.order_id, reference=None, provider_refund_id="re_1", amount=None, at=1
    )
    assert noted == "noted"
    assert fakes.order(pending.order_id).order.refunds == ()
