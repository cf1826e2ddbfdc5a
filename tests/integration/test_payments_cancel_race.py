"""A cancelled order keeps no money, and one cancelled before any charge is never charged.

Hypothesis writes scripts of deliveries of one order's payments message and a customer's cancel.
A delivery may die at any point around the provider (before the charge reaches it, after the
charge, before or after a refund), and a delivery that reaches the provider may have other
deliveries and the cancel happen inside its window (between its mark and its charge, or between
its charge and its PAID write), as a duplicate message or a live consumer would. After the script
the message is delivered once more, and that delivery finishes. Then, from the sandbox ledger
in moto:

- at most one approved charge per order, and for a cancelled order everything charged is
  refunded in one refund (``charged - refunded == 0``), recorded on the order;
- a paid order was charged once and refunded nothing;
- a delivery that started after the cancel never asks for a charge;
- if the cancel came before any charge reached the provider, and no delivery that had already
  marked its attempt was still alive to charge, the ledger holds nothing for the order.

The webhook's approval path (``settlement.approve``) meeting the consumer's lookup is
covered below it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import pytest
from commerce import events
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus, PaymentStatus
from commerce.orders import charging, settlement
from commerce.payments import factory
from commerce.payments.provider import ChargeResult, RefundResult, VoidResult, charge_key
from commerce.payments.sandbox import SandboxProvider
from commerce.settings import get_settings
from commerce.store.orders import load_order
from commerce.store.sandbox_ledger import DynamoLedger
from commerce.webhooks import service
from commerce.webhooks.signatures import sign
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from payment_orders import cancel_pending, level, place_order

pytestmark = pytest.mark.integration

SKU = "RACE-A"
STOCK = 100_000


class Death(StrEnum):
    """Where a delivery's process dies (``NEVER``: it runs to the end)."""

    NEVER = "never"
    BEFORE_CHARGE = "before_charge"
    AFTER_CHARGE = "after_charge"
    BEFORE_REFUND = "before_refund"
    AFTER_REFUND = "after_refund"


class Died(Exception):
    """The delivery's process is gone; its message comes back."""


@dataclass(frozen=True)
class Cancel:
    """The customer cancels (only a PENDING_PAYMENT order; otherwise it changes nothing)."""


@dataclass(frozen=True)
class Deliver:
    """One delivery; ``before``/``after`` happen inside its window around the charge."""

    death: Death = Death.NEVER
    before: tuple[Step, ...] = ()
    after: tuple[Step, ...] = ()


Step = Cancel | Deliver

_deaths = st.sampled_from(list(Death))
_inner: st.SearchStrategy[Step] = st.one_of(st.just(Cancel()), st.builds(Deliver, death=_deaths))
_nested = st.lists(_inner, max_size=2).map(tuple)
_step: st.SearchStrategy[Step] = st.one_of(
    st.just(Cancel()), st.builds(Deliver, death=_deaths, before=_nested, after=_nested)
)
scripts = st.lists(_step, min_size=1, max_size=5)


@dataclass
class World:
    """What happened to one order while its script ran."""

    order_id: str
    sandbox: SandboxProvider
    cancelled: bool = False
    charges_reached: int = 0
    charges_before_cancel: int = 0
    charge_calls_after_cancel_by_late_starters: int = 0
    #: Deliveries inside their mark-to-charge window when the cancel landed.
    open_at_cancel: list[Scripted] = field(default_factory=list)
    open_windows: list[Scripted] = field(default_factory=list)


@dataclass
class Scripted:
    """The provider as one delivery sees it: the sandbox, with that delivery's death and the
    steps that happen inside its window."""

    world: World
    step: Deliver
    started_after_cancel: bool
    charged: bool = False
    windows_run: bool = False

    def charge(
        self,
        order_id: str,
        amount: Money,
        token: str,
        idempotency_key: str,
        *,
        expires_at: int | None = None,
    ) -> ChargeResult:
        if self.started_after_cancel:
            self.world.charge_calls_after_cancel_by_late_starters += 1
        self.windows_run = True
        self.world.open_windows.append(self)
        try:
            run_all(self.world, self.step.before)
        finally:
            self.world.open_windows.remove(self)
        if self.step.death is Death.BEFORE_CHARGE:
            raise Died("before the charge reached the provider")
        result = self.world.sandbox.charge(order_id, amount, token, idempotency_key)
        self.charged = True
        self.world.charges_reached += 1
        run_all(self.world, self.step.after)
        if self.step.death is Death.AFTER_CHARGE:
            raise Died("after the charge")
        return result

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        return self.world.sandbox.find_charge(order_id, idempotency_key)

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult:
        return self.world.sandbox.void(charge_id, idempotency_key)

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        if self.step.death is Death.BEFORE_REFUND:
            raise Died("before the refund")
        result = self.world.sandbox.refund(charge_id, amount, idempotency_key)
        if self.step.death is Death.AFTER_REFUND:
            raise Died("after the refund")
        return result


def run(world: World, step: Step) -> None:
    if isinstance(step, Cancel):
        stored = load_order(world.order_id)
        assert stored is not None
        if stored.status is OrderStatus.PENDING_PAYMENT:
            cancel_pending(world.order_id)
            world.cancelled = True
            world.charges_before_cancel = world.charges_reached
            world.open_at_cancel = list(world.open_windows)
        return
    scripted = Scripted(world, step, started_after_cancel=world.cancelled)
    with contextlib.suppress(Died):
        charging.pay(world.order_id, provider=scripted)
    if not scripted.windows_run:
        # The delivery never reached the provider: what was to happen meanwhile happens after.
        run_all(world, step.before + step.after)


def run_all(world: World, steps: tuple[Step, ...]) -> None:
    for step in steps:
        run(world, step)


def settle(world: World) -> settlement.Outcome:
    """The redelivery after the script, which runs to the end: the message is acknowledged."""
    redelivery = Scripted(world, Deliver(), started_after_cancel=world.cancelled)
    return charging.pay(world.order_id, provider=redelivery)


def movements(charge_id: str) -> list[tuple[str, int]]:
    return [
        (str(record["kind"]), int(record["amount"]))
        for _, record in DynamoLedger().query(charge_id, "movement#")
    ]


@pytest.fixture
def stocked(dynamodb: Any, create_product: Callable[..., Any]) -> Iterator[None]:
    create_product((SKU, STOCK))
    events.use_publisher(events.MemoryEventPublisher())
    factory.use_provider(SandboxProvider(DynamoLedger()))
    yield
    factory.use_provider(None)
    events.use_publisher(None)


_order_numbers = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=scripts)
def test_a_cancelled_order_keeps_no_money_under_any_interleaving(
    stocked: None, script: list[Step]
) -> None:
    order_id = f"ord-race-{next(_order_numbers):06d}"
    placed = place_order({SKU: 1}, order_id=order_id)
    total = placed.order.totals.total
    world = World(order_id, SandboxProvider(DynamoLedger()))
    run_all(world, tuple(script))
    settle(world)

    stored = load_order(order_id)
    assert stored is not None
    charge = world.sandbox.find_charge(order_id, charge_key(order_id))
    assert world.sandbox.charge_count(order_id) <= 1
    assert world.charge_calls_after_cancel_by_late_starters == 0
    event(f"{stored.status.value}, {'charged' if charge else 'never charged'}")
    if stored.status is OrderStatus.CANCELLED:
        assert world.cancelled
        payment = stored.order.payment
        if charge is None:
            assert payment.status is PaymentStatus.PENDING
            assert payment.refunded.amount == 0
        else:
            # charged - refunded == 0, in one refund, and the order says so.
            assert movements(charge.charge_id) == [("refund", charge.amount.amount)]
            assert payment.status is PaymentStatus.REFUNDED
            assert payment.charge_id == charge.charge_id
            assert payment.refunded == total
        # A delivery inside its mark-to-charge window when the cancel landed may still charge
        # (and then refunds, above); with none alive, a cancel before any charge means none.
        alive = any(delivery.charged for delivery in world.open_at_cancel)
        if world.charges_before_cancel == 0 and not alive:
            assert charge is None
            assert DynamoLedger().query(order_id, "charge#") == []
    else:
        assert stored.status is OrderStatus.PAID
        assert charge is not None
        assert charge.approved
        assert stored.order.payment.charge_id == charge.charge_id
        assert movements(charge.charge_id) == []
    assert level(SKU).reserved == 0


# --- the provider's charge.succeeded webhook meets the consumer's lookup -----------------------

WEBHOOK_SECRET = "whsec_cancel_race"


@pytest.fixture
def charge_succeeded(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str, str], str]:
    """Deliver a signed ``charge.succeeded`` through the webhook use case; its ``result``."""
    signed = replace(
        get_settings(), webhook_secrets_json=json.dumps({"payments/sandbox": [WEBHOOK_SECRET]})
    )
    monkeypatch.setattr(service, "get_settings", lambda: signed)

    def post(order_id: str, charge_id: str, event_id: str) -> str:
        raw = json.dumps(
            {
                "event_id": event_id,
                "type": "charge.succeeded",
                "order_id": order_id,
                "charge_id": charge_id,
            }
        ).encode()
        now = int(time.time())
        answer = service.receive(
            "payments", "sandbox", raw, sign(WEBHOOK_SECRET, now, raw), now=now
        )
        return str(answer["result"])

    return post


@pytest.mark.parametrize("webhook_first", [True, False])
def test_the_webhook_and_a_redelivery_refund_a_cancelled_orders_charge_once(
    stocked: None, charge_succeeded: Callable[[str, str, str], str], webhook_first: bool
) -> None:
    order_id = f"ord-hook-{next(_order_numbers):06d}"
    # Placed just now: the provider's notification may not be dated before the order.
    placed = place_order({SKU: 2}, order_id=order_id, created=int(time.time()) - 60)
    world = World(order_id, SandboxProvider(DynamoLedger()))
    run(world, Deliver(Death.AFTER_CHARGE))
    run(world, Cancel())
    charge = world.sandbox.find_charge(order_id, charge_key(order_id))
    assert charge is not None
    assert charge.approved

    if webhook_first:
        assert charge_succeeded(order_id, charge.charge_id, "evt-1") == "cancelled_refunded"
        assert settle(world).result is settlement.Result.CANCELLED_REFUNDED
    else:
        assert settle(world).result is settlement.Result.CANCELLED_REFUNDED
        assert charge_succeeded(order_id, charge.charge_id, "evt-1") == "cancelled_refunded"
    # A second event from the provider (another id) changes nothing either.
    assert charge_succeeded(order_id, charge.charge_id, "evt-2") == "cancelled_refunded"

    assert movements(charge.charge_id) == [("refund", placed.order.totals.total.amount)]
    stored = load_order(order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    assert stored.order.payment.status is PaymentStatus.REFUNDED
    assert stored.order.payment.refunded == placed.order.totals.total
    assert level(SKU).reserved == 0
