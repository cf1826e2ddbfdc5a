"""The edge every SQS consumer shares: one record at a time, partial batch failures, and what
happens to a record that failed.

``QueueEdge`` is Powertools' ``BatchProcessor`` with this house's policies
(``commerce.queue_policy``) applied, so a function only says what one record means
(``record_handler``) and which policy its queue follows:

- a record is not started with less than ``deadline_margin_ms`` left of the invocation: it
  fails as ``Deferred`` and comes back at once, instead of being cut off mid-write;
- failed records are reported (``ReportBatchItemFailures``), never the whole batch: an
  all-failed batch still answers with its failures, so each gets its own next delivery;
- with ``backoff``, each failed record stays invisible for an exponential, jittered delay
  before its next delivery (``PoisonMessage`` and ``Deferred`` come back at once: waiting
  cannot help the one and would only delay the other), and reaches the DLQ after the queue's
  maxReceiveCount receives;
- errors listed in ``dead_letter_at_once`` are put on the DLQ with their reason at once and
  the record is acknowledged: for records no retry can help, which would otherwise loop five
  times before the redrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from commerce.observability import logger, metrics
from commerce.queue_policy import (
    Deferred,
    FailedRecord,
    QueuePolicy,
    dead_letter,
    schedule_retries,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.base import FailureResponse, SuccessResponse


class QueueEdge(BatchProcessor):
    """Powertools' SQS batch processor with a ``QueuePolicy`` applied to every record."""

    def __init__(self, policy: QueuePolicy) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.policy = policy

    def _remaining_ms(self) -> int | None:
        context = getattr(self, "lambda_context", None)
        return None if context is None else int(context.get_remaining_time_in_millis())

    def _process_record(self, record: dict[str, Any]) -> SuccessResponse | FailureResponse:
        margin = self.policy.deadline_margin_ms
        if margin is not None:
            remaining = self._remaining_ms()
            if remaining is not None and remaining < margin:
                return self._fail(record, Deferred("too little time left in this invocation"))
        return super()._process_record(record)

    def _fail(self, record: dict[str, Any], error: BaseException) -> FailureResponse:
        return self.failure_handler(SQSRecord(record), (type(error), error, None))

    def failure_handler(self, record: Any, exception: Any) -> FailureResponse:
        """A record whose error is in ``dead_letter_at_once`` is dead-lettered and counted as a
        success; every other failure, and one the DLQ refuses, is reported as usual."""
        error = exception[1]
        url = self.policy.dlq_url() if self.policy.dead_letter_at_once else None
        if url and isinstance(error, self.policy.dead_letter_at_once):
            body = record.body if isinstance(record, SQSRecord) else None
            try:
                dead_letter(url, body, error)
            except Exception as unsent:  # the DLQ refused it: the record fails like any other
                return super().failure_handler(record, (type(unsent), unsent, None))
            metrics.add_metric(
                name=self.policy.dead_lettered_metric, unit=MetricUnit.Count, value=1
            )
            logger.error("record dead-lettered", extra={"error": type(error).__name__})
            return self.success_handler(record=record, result=self.policy.dead_lettered_result)
        return super().failure_handler(record, exception)

    def failed_records(self) -> list[FailedRecord]:
        """The records this batch reported as failed, each with its error."""
        failed: list[FailedRecord] = []
        for record, (_, error, _) in zip(self.fail_messages, self.exceptions, strict=True):
            if isinstance(record, SQSRecord):
                count = record.attributes.approximate_receive_count
                failed.append(FailedRecord(record.receipt_handle, int(count or 1), error))
        return failed

    def _clean(self) -> None:
        super()._clean()  # type: ignore[no-untyped-call]
        if self.policy.backoff:
            schedule_retries(
                self.failed_records(),
                self.policy.queue_url(),
                retry_metric=self.policy.retry_metric,
                poison_metric=self.policy.poison_metric,
            )
