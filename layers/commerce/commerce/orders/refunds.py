"""Refunds outside a return: staff refunds, and refunds the provider reports.

``POST /admin/orders/{order_id}/refunds`` (ops, ``Idempotency-Key`` required) refunds part or
all of what was paid, through the provider of the order's method, in three steps:

1. **Reserve.** One write of the order, conditioned on its version, adds a ``pending`` refund
   whose amount fits what may still be refunded (``domain.refunds.open_refund``): two refunds
   racing for the same remainder cannot both be reserved, so refunds never add up to more than
   was paid (409 ``conflict`` otherwise).
2. **Refund** at the provider with ``staff_refund_key(order_id, request)``; the provider is given
   the refund's id as its reference, so it refunds once per key.
3. **Record** the answer: ``succeeded`` (counted in ``payment.refunded``, the points it un-earns
   taken back, the customer notified by an ``order.refunded`` event) or ``failed`` (the amount
   free again). A provider that cannot answer now leaves the refund ``pending`` (answered 201
   ``pending``): the same request again, with the same key, finishes it and refunds once.

The refund's id is derived from the order and the Idempotency-Key, so a retried request finds
its refund and answers as the first did; the same key with another amount is 422
``idempotency-key-reuse``.

A refund made in the provider's own dashboard reaches us as its refund notification
(``record_provider_refund``, from the payment webhooks) and is listed the same way, once: a
notification naming a refund we made (by our reference or the provider's id) records nothing
new, and settles it if it was still pending.
"""

from __future__ import annotations

from dataclasses import replace

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.domain.money import Money
from commerce.domain.orders import RefundRecord, RefundStatus
from commerce.domain.refunds import (
    fail_refund,
    find,
    find_by_provider_id,
    open_refund,
    record_made,
    refund_id_for,
    request_id_for,
    settle_refund,
)
from commerce.errors import IdempotencyKeyReuse, NotFound
from commerce.events import EventPublishError, publisher
from commerce.loyalty.points import refund_reversal_due, reverse_refund
from commerce.observability import logger, metrics
from commerce.orders import moves
from commerce.orders.book import order_book
from commerce.orders.events import refund_event
from commerce.orders.schemas import RefundIn, RefundOut
from commerce.orders.views import refund_view
from commerce.payments.factory import provider_for
from commerce.payments.provider import (
    PermanentProviderError,
    TransientProviderError,
    staff_refund_key,
)
from commerce.store.orders import StoredOrder


def _load(order_id: str) -> StoredOrder:
    stored = order_book().load(order_id)
    if stored is None:
        raise NotFound("No such order")
    return stored


def refund_order(
    order_id: str, body: RefundIn, idempotency_key: str, *, staff: str | None = None
) -> RefundOut:
    """``POST /admin/orders/{order_id}/refunds``: the refund as it now stands."""
    stored = _load(order_id)
    key = staff_refund_key(order_id, request_id_for(idempotency_key))
    refund_id = refund_id_for(key)
    amount = Money(body.amount.amount, body.amount.currency)
    now = clock.now()

    def reserve(current: StoredOrder) -> StoredOrder | None:
        if find(current.order, refund_id) is not None:
            return None  # this request's refund is reserved already (a retry, or a race)
        opened = open_refund(current.order, refund_id, amount, body.reason, now)
        return replace(current, order=opened)

    reserved = moves.amend_if_needed(order_id, reserve, first=stored)
    record = find(reserved.stored.order, refund_id)
    if record is None:  # pragma: no cover - reserve wrote it or found it
        raise NotFound("No such refund")
    if record.amount != amount or record.reason != body.reason:
        raise IdempotencyKeyReuse("This Idempotency-Key was used with a different refund")
    if reserved.written:
        logger.info(
            "refund reserved",
            extra={
                "order_id": order_id,
                "refund_id": refund_id,
                "amount": amount.amount,
                "staff": staff,
            },
        )
    finished = _finish(reserved.stored, record, key)
    return refund_view(finished)


def _finish(stored: StoredOrder, record: RefundRecord, key: str) -> RefundRecord:
    """Ask the provider for a pending refund and record its answer; a finished one as it is."""
    if record.status is not RefundStatus.PENDING:
        return record
    payment = stored.order.payment
    if payment.charge_id is None:  # pragma: no cover - open_refund needs a charge
        raise NotFound("No payment to refund")
    try:
        made = provider_for(payment.method).refund(payment.charge_id, record.amount, key)
    except TransientProviderError as error:
        logger.warning(
            "refund left pending; the same request finishes it",
            extra={
                "order_id": stored.order_id,
                "refund_id": record.refund_id,
                "reason": error.reason,
            },
        )
        return record
    except PermanentProviderError as error:
        logger.warning(
            "refund refused by the provider",
            extra={
                "order_id": stored.order_id,
                "refund_id": record.refund_id,
                "reason": error.reason,
            },
        )

        def fail(current: StoredOrder) -> StoredOrder | None:
            if not _pending(current, record.refund_id):
                return None
            return replace(current, order=fail_refund(current.order, record.refund_id))

        failed = moves.amend_if_needed(stored.order_id, fail, first=stored)
        return find(failed.stored.order, record.refund_id) or record

    def settle(current: StoredOrder) -> StoredOrder | None:
        if not _pending(current, record.refund_id):
            return None
        counted = settle_refund(current.order, record.refund_id, made.refund_id)
        due = refund_reversal_due(replace(current, order=counted), record.amount)
        settled = settle_refund(current.order, record.refund_id, made.refund_id, due)
        return replace(current, order=settled)

    written = moves.amend_if_needed(stored.order_id, settle, first=stored)
    done = find(written.stored.order, record.refund_id) or record
    if written.written:
        metrics.add_metric(name="RefundsIssued", unit=MetricUnit.Count, value=1)
        logger.info(
            "refund succeeded", extra={"order_id": stored.order_id, "refund_id": record.refund_id}
        )
    _after_success(written.stored, done)
    return done


def _pending(stored: StoredOrder, refund_id: str) -> bool:
    found = find(stored.order, refund_id)
    return found is not None and found.status is RefundStatus.PENDING


def _after_success(stored: StoredOrder, record: RefundRecord) -> None:
    """The points the refund un-earns taken back, and the customer told, each once (both are
    idempotent by the refund's id, so a retried request repeats them harmlessly)."""
    if record.status is not RefundStatus.SUCCEEDED:
        return
    try:
        reverse_refund(stored, record.refund_id, record.points_due, record.at)
    except Exception:  # the refund stands; a retry of the request takes the points back
        logger.exception("points reversal of a refund failed", extra={"order_id": stored.order_id})
    try:
        publisher().publish(refund_event(stored, record.refund_id))
    except EventPublishError:
        logger.exception("refund notification not sent", extra={"order_id": stored.order_id})


def record_provider_refund(
    order_id: str,
    *,
    reference: str | None,
    provider_refund_id: str,
    amount: Money | None,
    at: int,
) -> str:
    """A refund the provider reports (a dashboard refund, or the echo of one of ours): listed
    on the order once; what it did (``recorded``, ``already_recorded``, ``noted``)."""
    stored = _load(order_id)
    if stored.order.payment.charge_id is None:
        return "noted"  # never paid: nothing of ours to refund
    refund_id = reference or refund_id_for(f"provider:{provider_refund_id}")
    known = find(stored.order, refund_id) or find_by_provider_id(stored.order, provider_refund_id)
    if known is not None and known.status is not RefundStatus.PENDING:
        return "already_recorded"

    def record(current: StoredOrder) -> StoredOrder | None:
        order = current.order
        was = find(order, refund_id) or find_by_provider_id(order, provider_refund_id)
        if was is not None and was.status is not RefundStatus.PENDING:
            return None
        value = amount if amount is not None else (was.amount if was else order.totals.total)
        made = record_made(
            order,
            refund_id,
            value,
            at,
            provider_refund_id=provider_refund_id,
            reason="refunded at the payment provider",
        )
        return replace(current, order=made)

    written = moves.amend_if_needed(order_id, record, first=stored)
    if not written.written:
        return "already_recorded"
    metrics.add_metric(name="ProviderRefundsRecorded", unit=MetricUnit.Count, value=1)
    logger.info("provider refund recorded", extra={"order_id": order_id, "refund_id": refund_id})
    done = find(written.stored.order, refund_id) or find_by_provider_id(
        written.stored.order, provider_refund_id
    )
    if done is not None:
        _after_success(written.stored, done)
    return "recorded"
