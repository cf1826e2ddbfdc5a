"""The order stream's consumer: each record of the Orders or Carts stream applied exactly once.

A record of an order item becomes its facts (``domain.order_facts``: paid, refunded), a new cart
header the fact that a cart was opened; every other record (returns, perks, cart lines, guards)
is ignored. Each fact's increments (``domain.aggregates.plan_for``) are applied through the
insight book under a key made of the record's event id and the fact's kind, so a redelivered
record, a retried batch or a bisected one changes nothing a second time. A paid order of a
signed-in customer first moves their last-order time forward (idempotent by nature) and reads
the campaign messages they received, which its plan credits.

``StreamEdge`` is Powertools' batch processor for DynamoDB streams with the house's rule for
records no retry can help (``PoisonRecord``: an image no reader understands, a record without
an event id): put on the consumer's dead-letter queue with the reason, at once, and counted as
done, so the shard goes on. Any other failure is reported (``ReportBatchItemFailures``): Lambda
retries from that record, bisects the batch on errors, and after its retries sends the batch's
description to the same queue (the event source's on-failure destination), which is alarmed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse

from commerce import clock
from commerce.analytics.book import InsightBook, insight_book
from commerce.domain.aggregates import facts_kind, plan_for
from commerce.domain.campaigns import ATTRIBUTION_WINDOW_SECONDS
from commerce.domain.order_facts import CartOpened, Fact, Paid, Refunded, order_facts
from commerce.observability import logger, metrics
from commerce.queue_policy import dead_letter
from commerce.settings import get_settings
from commerce.store import stream_images
from commerce.store.analytics import FactRow

APPLIED_METRIC: Final = "InsightFactsApplied"
DUPLICATE_METRIC: Final = "InsightFactsDuplicate"
DEAD_LETTERED_METRIC: Final = "InsightRecordsDeadLettered"
#: Seconds from an order's payment to its figure: how far the consumer lags the stream.
LAG_METRIC: Final = "InsightLagSeconds"


class PoisonRecord(ValueError):
    """A stream record no retry can help: dead-lettered at once, and the shard goes on."""


class Result(StrEnum):
    """What one record did (for logs, the batch's record result and tests)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


def record_facts(record: Mapping[str, Any]) -> list[Fact]:
    """The facts one Lambda DynamoDB stream record carries (empty for any other item)."""
    change = record.get("dynamodb") or {}
    keys = change.get("Keys") or {}
    try:
        if stream_images.is_order(keys):
            new = change.get("NewImage")
            if not new:
                return []  # an order deleted: nothing the figures count
            after = stream_images.order_image(new)
            old = change.get("OldImage")
            before = stream_images.order_image(old).stored.order if old else None
            return order_facts(before, after.stored.order, after.written_at)
        if stream_images.is_cart_header(keys) and record.get("eventName") == "INSERT":
            cart = stream_images.cart_image(change.get("NewImage") or {})
            return [CartOpened(cart.cart_id, cart.created_at)]
    except stream_images.ImageError as error:
        raise PoisonRecord(str(error)) from error
    return []


def fact_row(fact: Paid | Refunded, event_id: str) -> FactRow:
    """The export's row of an order fact: a paid order's total, units and lines, or the
    money refunded."""
    if isinstance(fact, Paid):
        amount, units = fact.total, fact.units
        lines = tuple((ln.sku, ln.quantity, ln.amount.amount) for ln in fact.lines)
    else:
        amount, units, lines = fact.amount, 0, ()
    return FactRow(
        kind=facts_kind(fact),
        order_id=fact.order_id,
        buyer=fact.buyer,
        signed_in=fact.customer_id is not None,
        at=fact.at,
        amount=amount,
        units=units,
        lines=lines,
        event_id=event_id,
    )


def apply_fact(fact: Fact, event_id: str, book: InsightBook, now: int) -> bool:
    """Apply one fact of the record ``event_id`` once; False when it was applied before."""
    touches = []
    if isinstance(fact, Paid) and fact.customer_id is not None:
        book.note_last_order(fact.customer_id, fact.at)
        touches = book.touches(fact.customer_id, fact.at - ATTRIBUTION_WINDOW_SECONDS, fact.at)
    row = None if isinstance(fact, CartOpened) else fact_row(fact, event_id)
    key = f"{event_id}/{facts_kind(fact)}"
    applied = book.apply(key, plan_for(fact, touches), row, now=now)
    if applied and isinstance(fact, Paid):
        metrics.add_metric(name=LAG_METRIC, unit=MetricUnit.Seconds, value=max(0, now - fact.at))
    return applied


def handle_record(
    record: Mapping[str, Any],
    *,
    book: InsightBook | None = None,
    now: Callable[[], int] = clock.now,
) -> Result:
    """One Lambda DynamoDB stream record, applied once. ``PoisonRecord`` when no retry can
    help; any other error means "try again" (nothing half-counted stays: each fact is one
    guarded write)."""
    event_id = record.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        raise PoisonRecord("a stream record without an eventID")
    facts = record_facts(record)
    if not facts:
        return Result.IGNORED
    target = book if book is not None else insight_book()
    applied = [apply_fact(fact, event_id, target, now()) for fact in facts]
    if any(applied):
        metrics.add_metric(name=APPLIED_METRIC, unit=MetricUnit.Count, value=sum(applied))
        return Result.APPLIED
    metrics.add_metric(name=DUPLICATE_METRIC, unit=MetricUnit.Count, value=len(applied))
    logger.info("stream record applied before", extra={"event_id": event_id})
    return Result.DUPLICATE


class StreamEdge(BatchProcessor):
    """Powertools' DynamoDB-streams batch processor that dead-letters ``PoisonRecord`` at once
    (with the record and the reason) and counts it as done; other failures are reported."""

    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

    def failure_handler(self, record: Any, exception: Any) -> FailureResponse:
        error = exception[1]
        url = get_settings().analytics_dlq_url
        if url and isinstance(error, PoisonRecord):
            raw = getattr(record, "raw_event", record)
            try:
                dead_letter(url, json.dumps(raw, default=str), error)
            except Exception as unsent:  # the DLQ refused it: fail like any other record
                return super().failure_handler(record, (type(unsent), unsent, None))
            metrics.add_metric(name=DEAD_LETTERED_METRIC, unit=MetricUnit.Count, value=1)
            logger.error("stream record dead-lettered", extra={"reason": str(error)[:200]})
            return self.success_handler(record=record, result=Result.DEAD_LETTERED.value)
        return super().failure_handler(record, exception)
