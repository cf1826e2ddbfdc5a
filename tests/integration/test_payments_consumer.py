"""Charging and settlement against moto: PaymentsFunction's handler with SQS events, the sandbox
provider over its DynamoDB ledger, orders and stock from template.yaml's tables.

Orders are placed straight through the store (payment_orders.place_order): charging starts
where checkout ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from commerce import events, queue_policy
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus, PaymentStatus
from commerce.orders import charging, settlement
from commerce.payments import factory
from commerce.payments.provider import ChargeResult, RefundResult, VoidResult
from commerce.payments.sandbox import SandboxProvider
from commerce.settings import get_settings
from commerce.store import charge_attempts
from commerce.store.orders import load_order
from commerce.store.sandbox_ledger import DynamoLedger
from commerce.store.tables.sandbox import SandboxLedgerModel
from orders_world import Context
from payment_orders import cancel_pending, level, place_order, sqs_event

from infra.local.resources import CreatedResources, create_queues
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")


class LostConnection(ConnectionError):
    """The consumer's process dies on the way to the provider: nothing reaches it."""


@dataclass
class CountingProvider:
    """The sandbox, counting the calls made of it (and optionally acting around a charge)."""

    inner: SandboxProvider
    charges: int = 0
    lookups: int = 0
    refunds: int = 0
    before_charge: Callable[[str], None] | None = None
    after_charge: Callable[[str], None] | None = None
    die_before_charge: int = 0
    seen: list[str] = field(default_factory=list)

    def charge(
        self,
        order_id: str,
        amount: Money,
        token: str,
        idempotency_key: str,
        *,
        expires_at: int | None = None,
    ) -> ChargeResult:
        self.charges += 1
        if self.before_charge is not None:
            self.before_charge(order_id)
        if self.die_before_charge:
            self.die_before_charge -= 1
            raise LostConnection("the consumer died before the charge reached the provider")
        result = self.inner.charge(order_id, amount, token, idempotency_key)
        if self.after_charge is not None:
            self.after_charge(order_id)
        return result

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        self.lookups += 1
        return self.inner.find_charge(order_id, idempotency_key)

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult:
        return self.inner.void(charge_id, idempotency_key)

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        self.refunds += 1
        return self.inner.refund(charge_id, amount, idempotency_key)


@pytest.fixture
def published() -> Iterator[list[events.DomainEvent]]:
    memory = events.MemoryEventPublisher()
    events.use_publisher(memory)
    yield memory.events
    events.use_publisher(None)


@pytest.fixture
def provider(dynamodb: Any) -> Iterator[CountingProvider]:
    counting = CountingProvider(SandboxProvider(DynamoLedger()))
    factory.use_provider(counting)
    yield counting
    factory.use_provider(None)


@pytest.fixture
def queue_url(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """PaymentsQueue in moto, and the consumer's settings pointing at it."""
    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), boto3.client("sqs", region_name="us-east-1"), created)
    url = created.queues["PaymentsQueue"]
    settings = replace(get_settings(), payments_queue_url=url)
    monkeypatch.setattr(charging, "get_settings", lambda: settings)
    return url


@pytest.fixture
def stocked(create_product: Callable[..., Any]) -> dict[str, int]:
    create_product(("PAY-A", 10), ("PAY-B", 5))
    return {"PAY-A": 10, "PAY-B": 5}


@pytest.fixture
def invoke(
    payments_module: ModuleType, provider: CountingProvider, published: Any, queue_url: str
) -> Callable[..., dict[str, Any]]:
    def call(event: dict[str, Any], remaining_ms: int = 5_000) -> dict[str, Any]:
        return dict(payments_module.lambda_handler(event, Context(remaining_ms)))

    return call


def _body(order_id: str) -> str:
    return json.dumps({"order_id": order_id})


def _failed_ids(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def _charges(order_id: str) -> int:
    return SandboxProvider(DynamoLedger()).charge_count(order_id)


def _movements(charge_id: str) -> list[tuple[str, int]]:
    """(kind, amount) of every refund or void the sandbox made of ``charge_id``."""
    rows = DynamoLedger().query(charge_id, "movement#")
    return [(str(record["kind"]), int(record["amount"])) for _, record in rows]


def _ledger() -> list[tuple[str, str]]:
    """Every (partition, key) in the sandbox ledger (a fresh table in each test)."""
    return sorted((row.pk, row.sk) for row in SandboxLedgerModel.scan())


# --- approved, declined, flaky -----------------------------------------------------------------


def test_tok_ok_pays_the_order_and_commits_its_stock(
    stocked: Any, invoke: Callable[..., dict[str, Any]], published: list[events.DomainEvent]
) -> None:
    order = place_order({"PAY-A": 2, "PAY-B": 1}, token="tok_ok")
    assert level("PAY-A") == (10, 2, 8)
    response = invoke(sqs_event(_body(order.order_id)))
    assert response == {"batchItemFailures": []}
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.PAID
    assert stored.order.payment.status is PaymentStatus.APPROVED
    assert stored.order.payment.charge_id
    assert [e.status for e in stored.order.history] == [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
    ]
    assert stored.version == order.version + 1
    # on_hand and reserved both fell; available is what it was while held.
    assert level("PAY-A") == (8, 0, 8)
    assert level("PAY-B") == (4, 0, 4)
    assert _charges(order.order_id) == 1
    (event,) = published
    assert event.type == "order.paid"
    assert event.data["order_id"] == order.order_id
    assert event.event_id == events.stable_event_id(order.order_id, "PAID", str(stored.version))


def test_tok_declined_fails_the_order_and_leaves_stock_exactly_as_before(
    stocked: Any, invoke: Callable[..., dict[str, Any]], published: list[events.DomainEvent]
) -> None:
    before = (level("PAY-A"), level("PAY-B"))
    order = place_order({"PAY-A": 3, "PAY-B": 5}, token="tok_declined")
    assert level("PAY-B").available == 0
    assert invoke(sqs_event(_body(order.order_id))) == {"batchItemFailures": []}
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.PAYMENT_FAILED
    assert stored.order.payment.status is PaymentStatus.DECLINED
    assert stored.order.payment.decline_code == "card_declined"
    assert (level("PAY-A"), level("PAY-B")) == before
    assert _charges(order.order_id) == 0
    assert [e.type for e in published] == ["order.payment_failed"]


def test_tok_flaky_fails_the_record_first_then_a_retry_charges_once(
    stocked: Any, invoke: Callable[..., dict[str, Any]], provider: CountingProvider
) -> None:
    order = place_order({"PAY-A": 1}, token="tok_flaky")
    event = sqs_event(_body(order.order_id))
    first = invoke(event)
    assert _failed_ids(first) == {event["Records"][0]["messageId"]}
    pending = load_order(order.order_id)
    assert pending is not None
    assert pending.status is OrderStatus.PENDING_PAYMENT
    assert level("PAY-A") == (10, 1, 9)
    second = invoke(sqs_event(_body(order.order_id), receive_count=2))
    assert second == {"batchItemFailures": []}
    paid = load_order(order.order_id)
    assert paid is not None
    assert paid.status is OrderStatus.PAID
    assert _charges(order.order_id) == 1
    assert level("PAY-A") == (9, 0, 9)


# --- redelivery, crashes, cancels -------------------------------------------------------------


def test_a_redelivery_after_paid_never_calls_the_provider_again(
    stocked: Any,
    invoke: Callable[..., dict[str, Any]],
    provider: CountingProvider,
    published: list[events.DomainEvent],
) -> None:
    order = place_order({"PAY-A": 1})
    invoke(sqs_event(_body(order.order_id)))
    assert provider.charges == 1
    for count in (2, 3):
        assert invoke(sqs_event(_body(order.order_id), receive_count=count)) == {
            "batchItemFailures": []
        }
    assert provider.charges == 1
    assert _charges(order.order_id) == 1
    assert level("PAY-A") == (9, 0, 9)
    # The event is sent again under the same id (in case the first send was lost).
    assert {e.event_id for e in published} == {published[0].event_id}


def test_a_crash_after_the_charge_is_redelivered_and_charged_once(
    stocked: Any,
    invoke: Callable[..., dict[str, Any]],
    provider: CountingProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = place_order({"PAY-A": 2})
    crashing = replace(charging.get_settings(), payments_crash_after_charge_rate=1.0)
    with monkeypatch.context() as patch:
        patch.setattr(charging, "get_settings", lambda: crashing)
        event = sqs_event(_body(order.order_id))
        assert _failed_ids(invoke(event)) == {event["Records"][0]["messageId"]}
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.PENDING_PAYMENT
    assert invoke(sqs_event(_body(order.order_id), receive_count=2)) == {"batchItemFailures": []}
    paid = load_order(order.order_id)
    assert paid is not None
    assert paid.status is OrderStatus.PAID
    assert provider.charges == 2  # asked twice, with one key
    assert _charges(order.order_id) == 1
    assert level("PAY-A") == (8, 0, 8)


def test_the_crash_is_never_injected_in_prod(dynamodb: Any) -> None:
    settings = replace(get_settings(), stage="prod", payments_crash_after_charge_rate=1.0)
    assert settings.payments_crash_rate == 0.0


def test_an_order_cancelled_before_the_charge_is_never_charged(
    stocked: Any, invoke: Callable[..., dict[str, Any]], provider: CountingProvider
) -> None:
    order = place_order({"PAY-A": 4})
    cancel_pending(order.order_id)
    assert level("PAY-A") == (10, 0, 10)
    assert invoke(sqs_event(_body(order.order_id))) == {"batchItemFailures": []}
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    assert provider.charges == 0
    assert _charges(order.order_id) == 0
    assert level("PAY-A") == (10, 0, 10)


def test_a_cancel_that_lands_after_the_charge_gets_the_charge_refunded(
    stocked: Any, invoke: Callable[..., dict[str, Any]], provider: CountingProvider
) -> None:
    order = place_order({"PAY-A": 2, "PAY-B": 1})
    provider.after_charge = cancel_pending
    assert invoke(sqs_event(_body(order.order_id))) == {"batchItemFailures": []}
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    payment = stored.order.payment
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.charge_id is not None
    assert payment.refunded == stored.order.totals.total
    sandbox = SandboxProvider(DynamoLedger())
    assert sandbox.refunded_total(payment.charge_id) == stored.order.totals.total
    # Nothing committed: the cancel released the reservation.
    assert level("PAY-A") == (10, 0, 10)
    assert level("PAY-B") == (5, 0, 5)
    # A redelivery changes nothing and refunds nothing more.
    provider.after_charge = None
    refunds = provider.refunds
    assert invoke(sqs_event(_body(order.order_id), receive_count=2)) == {"batchItemFailures": []}
    assert provider.refunds == refunds
    assert sandbox.refunded_total(payment.charge_id) == stored.order.totals.total


def test_a_crash_after_the_charge_then_a_cancel_refunds_on_redelivery(
    stocked: Any,
    invoke: Callable[..., dict[str, Any]],
    provider: CountingProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = place_order({"PAY-A": 1})
    crashing = replace(charging.get_settings(), payments_crash_after_charge_rate=1.0)
    with monkeypatch.context() as patch:
        patch.setattr(charging, "get_settings", lambda: crashing)
        invoke(sqs_event(_body(order.order_id)))
    cancel_pending(order.order_id)
    assert invoke(sqs_event(_body(order.order_id), receive_count=2)) == {"batchItemFailures": []}
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    assert stored.order.payment.status is PaymentStatus.REFUNDED
    assert stored.order.payment.refunded == stored.order.totals.total
    assert _charges(order.order_id) == 1
    charge_id = stored.order.payment.charge_id
    assert charge_id is not None
    # The redelivery looked the charge up instead of asking for it again.
    assert (provider.charges, provider.lookups, provider.refunds) == (1, 1, 1)
    assert _movements(charge_id) == [("refund", stored.order.totals.total.amount)]
    invoke(sqs_event(_body(order.order_id), receive_count=3))
    assert _movements(charge_id) == [("refund", stored.order.totals.total.amount)]


def test_a_crash_between_the_mark_and_the_charge_then_a_cancel_is_never_charged(
    stocked: Any, invoke: Callable[..., dict[str, Any]], provider: CountingProvider
) -> None:
    order = place_order({"PAY-A": 2})
    provider.die_before_charge = 1
    event = sqs_event(_body(order.order_id))
    assert _failed_ids(invoke(event)) == {event["Records"][0]["messageId"]}
    marked = charge_attempts.load_for_payment(order.order_id)
    assert marked is not None
    assert marked.charge_attempted
    assert marked.stored.status is OrderStatus.PENDING_PAYMENT
    cancel_pending(order.order_id)
    for count in (2, 3):
        assert invoke(sqs_event(_body(order.order_id), receive_count=count)) == {
            "batchItemFailures": []
        }
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    payment = stored.order.payment
    assert payment.status is PaymentStatus.PENDING
    assert payment.charge_id is None
    assert payment.refunded.amount == 0
    # Only the attempt that died on its way ever asked for a charge; the sandbox saw nothing.
    assert (provider.charges, provider.lookups, provider.refunds) == (1, 2, 0)
    assert _ledger() == []
    assert level("PAY-A") == (10, 0, 10)


@pytest.mark.parametrize(
    ("window", "redelivery_result", "redelivery_refunds"),
    [
        ("between_mark_and_charge", settlement.Result.CANCELLED_NOT_CHARGED, 0),
        ("between_charge_and_paid", settlement.Result.CANCELLED_REFUNDED, 1),
    ],
)
def test_a_live_delivery_and_a_redelivery_around_a_cancel_refund_exactly_once(
    stocked: Any,
    invoke: Callable[..., dict[str, Any]],
    provider: CountingProvider,
    window: str,
    redelivery_result: settlement.Result,
    redelivery_refunds: int,
) -> None:
    """Delivery A marks, and inside its window the order is cancelled and a duplicate B runs to
    the end. B's lookup finds A's charge or not yet; A charges either way, its PAID write meets
    CANCELLED and it refunds. The shared refund key leaves one refund at the provider."""
    order = place_order({"PAY-A": 2, "PAY-B": 1})
    other = CountingProvider(SandboxProvider(DynamoLedger()))
    outcomes: list[settlement.Outcome] = []

    def cancel_and_redeliver(order_id: str) -> None:
        cancel_pending(order_id)
        outcomes.append(charging.pay(order_id, provider=other))

    if window == "between_mark_and_charge":
        provider.before_charge = cancel_and_redeliver
    else:
        provider.after_charge = cancel_and_redeliver
    assert invoke(sqs_event(_body(order.order_id))) == {"batchItemFailures": []}
    assert [o.result for o in outcomes] == [redelivery_result]
    assert (other.charges, other.lookups, other.refunds) == (0, 1, redelivery_refunds)
    assert provider.refunds == 1
    stored = load_order(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    payment = stored.order.payment
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.refunded == stored.order.totals.total
    assert payment.charge_id is not None
    assert _charges(order.order_id) == 1
    assert _movements(payment.charge_id) == [("refund", stored.order.totals.total.amount)]
    assert level("PAY-A") == (10, 0, 10)
    assert level("PAY-B") == (5, 0, 5)


# --- the batch: partial failures, poison, backoff ---------------------------------------------


def test_a_batch_reports_exactly_its_failed_records(
    stocked: Any, invoke: Callable[..., dict[str, Any]]
) -> None:
    ok = place_order({"PAY-A": 1})
    flaky = place_order({"PAY-B": 1}, token="tok_flaky")
    declined = place_order({"PAY-A": 1}, token="tok_declined")
    event = sqs_event(
        _body(ok.order_id),
        "not json at all",
        _body(flaky.order_id),
        json.dumps({"order_id": "ord-that-does-not-exist"}),
        json.dumps({"no": "order id"}),
        _body(declined.order_id),
    )
    ids = [record["messageId"] for record in event["Records"]]
    response = invoke(event)
    assert set(response) == {"batchItemFailures"}
    assert all(set(item) == {"itemIdentifier"} for item in response["batchItemFailures"])
    assert _failed_ids(response) == {ids[1], ids[2], ids[3], ids[4]}
    statuses = {}
    for order in (ok, flaky, declined):
        stored = load_order(order.order_id)
        assert stored is not None
        statuses[order.order_id] = stored.status
    assert statuses == {
        ok.order_id: OrderStatus.PAID,
        flaky.order_id: OrderStatus.PENDING_PAYMENT,
        declined.order_id: OrderStatus.PAYMENT_FAILED,
    }


def test_an_all_failed_batch_still_answers_with_its_failures(
    dynamodb: Any, invoke: Callable[..., dict[str, Any]]
) -> None:
    event = sqs_event("{", "[]")
    response = invoke(event)
    assert _failed_ids(response) == {r["messageId"] for r in event["Records"]}


def test_records_are_deferred_when_the_invocation_is_nearly_over(
    stocked: Any, invoke: Callable[..., dict[str, Any]], provider: CountingProvider
) -> None:
    order = place_order({"PAY-A": 1})
    event = sqs_event(_body(order.order_id))
    assert _failed_ids(invoke(event, remaining_ms=500)) == {event["Records"][0]["messageId"]}
    assert provider.charges == 0


@pytest.mark.parametrize(
    "body",
    [
        "",
        "nope",
        "[1]",
        '"ord-1"',
        "{}",
        '{"order_id": 7}',
        '{"order_id": "a b"}',
        '{"order_id": "x:y"}',
        json.dumps({"order_id": "o" * 129}),
    ],
)
def test_malformed_messages_are_poison(body: str) -> None:
    with pytest.raises(queue_policy.PoisonMessage):
        charging.order_id_of(body)


def test_order_ids_are_read_from_the_message() -> None:
    assert charging.order_id_of('{"order_id": "ord-1_a.b"}') == "ord-1_a.b"


def test_backoff_doubles_from_two_seconds_to_a_cap_with_jitter() -> None:
    highs = [queue_policy.backoff_seconds(n, rng=lambda: 1.0) for n in range(1, 7)]
    lows = [queue_policy.backoff_seconds(n, rng=lambda: 0.0) for n in range(1, 7)]
    assert highs == [2, 4, 8, 16, 16, 16]
    assert lows == [1, 2, 4, 8, 8, 8]


def _receive(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])


def test_failed_records_get_their_backoff_and_poison_comes_back_at_once(
    dynamodb: Any, queue_url: str
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=queue_url, MessageBody="transient")
    sqs.send_message(QueueUrl=queue_url, MessageBody="poison")
    messages = _receive(queue_url)
    assert len(messages) == 2
    by_body = {m["Body"]: m for m in messages}
    queue_policy.schedule_retries(
        [
            queue_policy.FailedRecord(
                by_body["transient"]["ReceiptHandle"], 1, RuntimeError("provider timeout")
            ),
            queue_policy.FailedRecord(
                by_body["poison"]["ReceiptHandle"], 1, queue_policy.PoisonMessage("bad")
            ),
        ],
        queue_url,
        retry_metric=charging.POLICY.retry_metric,
        poison_metric=charging.POLICY.poison_metric,
    )
    again = _receive(queue_url)
    assert [m["Body"] for m in again] == ["poison"]


def test_the_sample_batch_reports_its_poison_records(
    dynamodb: Any, invoke: Callable[..., dict[str, Any]]
) -> None:
    event = json.loads((ROOT / "events" / "payments_batch_with_poison.json").read_text())
    response = invoke(event)
    # The sample's order does not exist here, so both records are poison.
    assert _failed_ids(response) == {r["messageId"] for r in event["Records"]}
