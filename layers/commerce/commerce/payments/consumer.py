"""The payments consumer's use case: one message ``{"order_id"}``, one order paid at most once.

Per message (docs/orders.md, "Payments"):

1. Mark the charge attempt on the order, conditioned on PENDING_PAYMENT
   (``store/charge_attempts.py``). If that fails the order has moved on: PAID or PAYMENT_FAILED
   is a redelivery (acknowledged; its event is published again under the same id); CANCELLED is
   never charged. If an earlier delivery marked an attempt, the provider is asked what became of
   ``charge_key(order_id)`` (``find_charge``, which never charges): an approved charge is
   refunded, no charge means nothing to undo. Asking ``charge`` again instead would make the
   charge now if the earlier delivery died before reaching the provider.
2. Charge through the provider port with ``charge_key(order_id)``: a redelivery, a retry after
   a crash or a concurrent consumer reach the provider with the same key and get the first
   answer back, so the customer is charged once.
3. Approved: ONE transaction commits the reserved stock on every shard and writes PAID with the
   charge id, conditioned on the version and status read. Declined: ONE transaction releases the
   reservation and writes PAYMENT_FAILED. If a cancel won the race, the PAID write fails its
   condition and the approved charge is refunded (``refund_key(order_id)``), never kept. This is
   also what makes the lookup of step 1 safe while an earlier delivery is still alive: if that
   delivery charges after the lookup found nothing, its own PAID write meets CANCELLED and it
   refunds; if both refund, the one ``refund_key`` makes it one refund.

Failures: ``TransientProviderError`` (and anything unexpected) fails the record, which the queue
redelivers after a backoff; ``PoisonMessage`` (not JSON, no order id, no such order) fails it
too and it reaches the DLQ after maxReceiveCount receives, without delaying the rest of its
batch. The test-only ``PAYMENTS_CRASH_AFTER_CHARGE_RATE`` raises ``InjectedCrash`` after an
approval and before the PAID write (never in prod).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.coupons.consumption import give_back
from commerce.domain.money import Money
from commerce.domain.orders import (
    Advance,
    OrderEvent,
    OrderStatus,
    PaymentStatus,
    advance,
)
from commerce.events import publisher
from commerce.observability import logger, metrics
from commerce.orders.dispatch import order_event
from commerce.payments import factory
from commerce.payments.provider import (
    ChargeResult,
    PaymentProvider,
    charge_key,
    refund_key,
)
from commerce.settings import get_settings
from commerce.store import charge_attempts
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import (
    ORDER_LABEL,
    StoredOrder,
    commit_stock,
    load_order,
    order_transition_update,
    release_stock,
)
from commerce.store.transactions import Failure, LabelledTransaction

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

#: Re-reads of an order that moved between our read and our write, before giving up (retry).
MAX_REREADS: Final = 5
#: A record is not started with less than this left of the invocation: it is deferred instead.
DEADLINE_MARGIN_MS: Final = 1500
#: Backoff of a failed record's next delivery: BASE x 2^(receives - 1), capped, with jitter.
BACKOFF_BASE_SECONDS: Final = 2
BACKOFF_CAP_SECONDS: Final = 16
_ORDER_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class PoisonMessage(ValueError):
    """A message no retry can help (malformed, or names no order): it goes to the DLQ."""


class InjectedCrash(RuntimeError):
    """The test-only fault: the consumer dies after the provider approved, before PAID."""


class Deferred(RuntimeError):
    """Too little of the invocation is left to start this record; it comes back at once."""


class Result(StrEnum):
    """What one message did (for logs and tests)."""

    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    ALREADY_SETTLED = "already_settled"
    CANCELLED_NOT_CHARGED = "cancelled_not_charged"
    CANCELLED_REFUNDED = "cancelled_refunded"
    REFUNDED_UNPAYABLE = "refunded_unpayable"


@dataclass(frozen=True)
class Outcome:
    order_id: str
    result: Result


# --- Messages ---------------------------------------------------------------------------------


def order_id_of(body: str | None) -> str:
    """The order id a payments message names; ``PoisonMessage`` when it names none."""
    try:
        data = json.loads(body or "")
    except (TypeError, ValueError) as error:
        raise PoisonMessage("the message body is not JSON") from error
    order_id = data.get("order_id") if isinstance(data, dict) else None
    if not isinstance(order_id, str) or not _ORDER_ID_RE.fullmatch(order_id):
        raise PoisonMessage("the message names no valid order_id")
    return order_id


# --- Events -----------------------------------------------------------------------------------


def _publish(stored: StoredOrder) -> None:
    """Send the order's transition event (``dispatch.order_event``: a stable id per order,
    status and version). A failure fails the record: the redelivery finds the result written
    and sends the same event again."""
    publisher().publish(order_event(stored))


# --- The use case ----------------------------------------------------------------------------


def pay(
    order_id: str, *, provider: PaymentProvider | None = None, now: int | None = None
) -> Outcome:
    """Take the payment of one order, at most once, whatever has happened to it before."""
    provider = provider or factory.provider()
    now = clock.now() if now is None else now
    pending = charge_attempts.begin_charge(order_id, now)
    if pending is None:
        return _not_pending(order_id, provider, now)
    total = pending.order.totals.total
    if total.amount <= 0:
        # Fully paid by points: nothing to charge, the order is paid as it stands.
        return record_approval(pending, None, total, provider, now)
    charge = provider.charge(order_id, total, pending.payment_token or "", charge_key(order_id))
    _maybe_crash(order_id)
    if charge.approved:
        return record_approval(pending, charge.charge_id, charge.amount, provider, now)
    return record_decline(pending, charge.decline_code, now)


def _maybe_crash(order_id: str) -> None:
    rate = get_settings().payments_crash_rate
    if rate and random.random() < rate:  # noqa: S311 - fault injection, not security
        logger.warning("injected crash after charge", extra={"order_id": order_id})
        raise InjectedCrash(f"injected crash after the charge of {order_id}")


def _not_pending(order_id: str, provider: PaymentProvider, now: int) -> Outcome:
    found = charge_attempts.load_for_payment(order_id)
    if found is None:
        raise PoisonMessage(f"no order {order_id}")
    stored = found.stored
    status = stored.status
    if status is OrderStatus.CANCELLED:
        if stored.order.payment.status is PaymentStatus.REFUNDED:
            return Outcome(order_id, Result.CANCELLED_REFUNDED)
        if stored.order.payment.charge_id is None and not found.charge_attempted:
            # Cancelled before any charge was attempted: the provider is never asked.
            return Outcome(order_id, Result.CANCELLED_NOT_CHARGED)
        # An earlier delivery marked an attempt before the cancel: it may have charged, or died
        # first. Look the charge up (never make it) and undo whatever exists.
        charge = _find_charge(stored, provider)
        if charge is None or not charge.approved:
            return Outcome(order_id, Result.CANCELLED_NOT_CHARGED)
        return _refund_cancelled(stored, charge.charge_id, charge.amount, provider, now)
    if status is OrderStatus.PENDING_PAYMENT:  # pragma: no cover - status never returns here
        raise RuntimeError(f"order {order_id} is pending but refused the charge mark")
    if status in (OrderStatus.PAID, OrderStatus.PAYMENT_FAILED):
        # A redelivery: the result is written; make sure its event was sent (same id).
        _publish(stored)
    return Outcome(order_id, Result.ALREADY_SETTLED)


def _find_charge(stored: StoredOrder, provider: PaymentProvider) -> ChargeResult | None:
    """The charge an earlier delivery made for this order, if it made one (a zero total never
    reaches the provider)."""
    order = stored.order
    if order.totals.total.amount <= 0:
        return None
    return provider.find_charge(order.order_id, charge_key(order.order_id))


def _order_moved(failures: Sequence[Failure]) -> bool:
    return any(f.label == ORDER_LABEL and f.code == CONDITION_FAILED for f in failures)


def _reread(order_id: str) -> StoredOrder:
    stored = load_order(order_id)
    if stored is None:  # pragma: no cover - orders are never deleted
        raise RuntimeError(f"order {order_id} vanished")
    return stored


def record_approval(
    stored: StoredOrder,
    charge_id: str | None,
    charged: Money,
    provider: PaymentProvider,
    now: int,
) -> Outcome:
    """An approved charge (``charge_id``; None when nothing was charged) meets the order.

    PENDING_PAYMENT: stock committed + PAID in one transaction. PAID (or later) already:
    nothing. CANCELLED: the charge is refunded. Shared with the payment webhook.
    """
    order_id = stored.order_id
    for _ in range(MAX_REREADS):
        order = stored.order
        if order.status is OrderStatus.PENDING_PAYMENT:
            step = advance(order, OrderEvent.PAYMENT_APPROVED, now)
            payment = (
                step.order.payment.approved(charge_id)
                if charge_id
                else replace(step.order.payment, status=PaymentStatus.APPROVED)
            )
            step = replace(step, order=replace(step.order, payment=payment))
            tx = LabelledTransaction()
            commit_stock(tx, stored.reservation)
            order_transition_update(tx, stored, step)
            failures = tx.commit()
            if not failures:
                paid = replace(stored, order=step.order)
                metrics.add_metric(name="PaymentsApproved", unit=MetricUnit.Count, value=1)
                logger.info("order paid", extra={"order_id": order_id, "charge_id": charge_id})
                _publish(paid)
                return Outcome(order_id, Result.PAID)
            if not _order_moved(failures):
                raise RuntimeError(
                    f"stock commit of {order_id} refused: {[(f.label, f.code) for f in failures]}"
                )
        elif order.status is OrderStatus.CANCELLED:
            if charge_id is None:
                return Outcome(order_id, Result.CANCELLED_NOT_CHARGED)
            return _refund_cancelled(stored, charge_id, charged, provider, now)
        elif order.status is OrderStatus.PAYMENT_FAILED:
            # Settled as failed (stock released) and yet approved: the money goes back.
            if charge_id is not None:
                provider.refund(charge_id, charged, refund_key(order_id))
                logger.warning(
                    "approved charge on a failed order refunded", extra={"order_id": order_id}
                )
            return Outcome(order_id, Result.REFUNDED_UNPAYABLE)
        else:
            if order.payment.charge_id not in (None, charge_id):
                logger.error(
                    "a paid order reported another approved charge",
                    extra={"order_id": order_id, "charge_id": charge_id},
                )
            return Outcome(order_id, Result.ALREADY_SETTLED)
        stored = _reread(order_id)
    raise RuntimeError(f"order {order_id} kept changing; retry later")


def _refund_cancelled(
    stored: StoredOrder, charge_id: str, charged: Money, provider: PaymentProvider, now: int
) -> Outcome:
    """A charge approved for an order cancelled while pending: refund it all, then record it.

    The refund goes first (idempotent by ``refund_key``); if the record then fails, the next
    delivery finds the attempt mark, looks the same charge up and makes the same refund.
    """
    order_id = stored.order_id
    provider.refund(charge_id, charged, refund_key(order_id))
    for _ in range(MAX_REREADS):
        order = stored.order
        if order.status is not OrderStatus.CANCELLED:  # pragma: no cover - CANCELLED is final
            raise RuntimeError(f"order {order_id} left CANCELLED")
        if order.payment.status is PaymentStatus.REFUNDED:
            return Outcome(order_id, Result.CANCELLED_REFUNDED)
        step: Advance = advance(order, OrderEvent.PAYMENT_APPROVED, now)
        payment = step.order.payment.approved(charge_id).refund(charged, charged)
        step = replace(step, order=replace(step.order, payment=payment))
        tx = LabelledTransaction()
        order_transition_update(tx, stored, step)
        failures = tx.commit()
        if not failures:
            logger.info("late approval refunded", extra={"order_id": order_id})
            return Outcome(order_id, Result.CANCELLED_REFUNDED)
        if not _order_moved(failures):  # pragma: no cover - only the order is in the write
            raise RuntimeError(f"refund record of {order_id} refused")
        stored = _reread(order_id)
    raise RuntimeError(f"order {order_id} kept changing; retry later")


def record_decline(stored: StoredOrder, decline_code: str | None, now: int) -> Outcome:
    """A declined charge meets the order: PENDING_PAYMENT becomes PAYMENT_FAILED with its
    reservation released, in one transaction; any other status is left as it is."""
    order_id = stored.order_id
    for _ in range(MAX_REREADS):
        order = stored.order
        if order.status is not OrderStatus.PENDING_PAYMENT:
            # Already failed, or cancelled meanwhile (a late decline changes nothing).
            return Outcome(order_id, Result.ALREADY_SETTLED)
        step = advance(order, OrderEvent.PAYMENT_DECLINED, now)
        step = replace(
            step, order=replace(step.order, payment=step.order.payment.declined(decline_code))
        )
        tx = LabelledTransaction()
        release_stock(tx, stored.reservation)
        give_back(tx, stored, now)
        order_transition_update(tx, stored, step)
        failures = tx.commit()
        if not failures:
            failed = replace(stored, order=step.order)
            metrics.add_metric(name="PaymentsDeclined", unit=MetricUnit.Count, value=1)
            logger.info("payment declined", extra={"order_id": order_id, "code": decline_code})
            _publish(failed)
            return Outcome(order_id, Result.PAYMENT_FAILED)
        if not _order_moved(failures):
            raise RuntimeError(
                f"stock release of {order_id} refused: {[(f.label, f.code) for f in failures]}"
            )
        stored = _reread(order_id)
    raise RuntimeError(f"order {order_id} kept changing; retry later")


# --- One SQS record, and what happens to the records that failed ------------------------------


def handle_body(body: str | None, remaining_ms: Callable[[], int]) -> Outcome:
    """One record of a batch: deferred when the invocation is nearly over, else paid."""
    if remaining_ms() < DEADLINE_MARGIN_MS:
        raise Deferred("too little time left in this invocation")
    return pay(order_id_of(body))


def backoff_seconds(receive_count: int, rng: Callable[[], float] = random.random) -> int:
    """How long a failed record stays invisible before its next delivery.

    Exponential (2, 4, 8, 16 s) with equal jitter, so records failed together by a provider
    hiccup do not all come back in the same second. With maxReceiveCount 5 a record reaches the
    DLQ within about half a minute of its first failure.
    """
    exponent = min(max(0, receive_count - 1), 8)
    ceiling: int = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (1 << exponent))
    return max(1, round(ceiling / 2 + rng() * ceiling / 2))


@dataclass(frozen=True)
class FailedRecord:
    """A record the batch reported as failed, and why."""

    receipt_handle: str
    receive_count: int
    error: BaseException | None


def retry_delays(failed: Iterable[FailedRecord]) -> list[tuple[str, int]]:
    """(receipt handle, visibility seconds) per failed record.

    Poison messages and deferred records come back at once (0 s): waiting cannot help the one
    and would only delay the other. Everything else backs off exponentially.
    """
    delays: list[tuple[str, int]] = []
    for record in failed:
        if isinstance(record.error, PoisonMessage | Deferred):
            delays.append((record.receipt_handle, 0))
        else:
            delays.append((record.receipt_handle, backoff_seconds(record.receive_count)))
    return delays


_sqs: SQSClient | None = None


def _sqs_client() -> SQSClient:
    global _sqs  # one client per process, made on first failure
    if _sqs is None:
        import boto3  # deferred: a batch without failures never needs it

        _sqs = boto3.client("sqs", region_name=get_settings().region)
    return _sqs


def schedule_retries(failed: Sequence[FailedRecord], queue_url: str | None = None) -> None:
    """Set each failed record's visibility to its backoff (best effort: if this fails, the
    queue's own visibility timeout brings them back)."""
    if not failed:
        return
    retries = sum(1 for r in failed if not isinstance(r.error, PoisonMessage | Deferred))
    if retries:
        metrics.add_metric(name="PaymentRetries", unit=MetricUnit.Count, value=retries)
    poison = len(failed) - retries
    if poison:
        metrics.add_metric(name="PaymentPoisonMessages", unit=MetricUnit.Count, value=poison)
    url = queue_url or get_settings().payments_queue_url
    delays = retry_delays(failed)
    entries: list[Any] = [
        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
        for i, (handle, seconds) in enumerate(delays)
    ]
    try:
        for start in range(0, len(entries), 10):
            _sqs_client().change_message_visibility_batch(
                QueueUrl=url, Entries=entries[start : start + 10]
            )
    except Exception:  # botocore errors share no useful base; the queue's timeout still applies
        logger.exception("could not set the retry backoff of failed payment records")
