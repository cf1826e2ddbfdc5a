"""The edge every SQS consumer shares: one record at a time, partial batch failures, and what
happens to a record that failed.

``QueueEdge`` is Powertools' ``BatchProcessor`` with this house's policies added, so a function
only says what one record means (``record_handler``) and which policy its queue follows:

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

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from commerce.observability import logger, metrics
from commerce.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.base import FailureResponse, SuccessResponse
    from mypy_boto3_sqs.client import SQSClient

#: Backoff of a failed record's next delivery: BASE x 2^(receives - 1), capped, with jitter.
BACKOFF_BASE_SECONDS: Final = 2
BACKOFF_CAP_SECONDS: Final = 16
#: ChangeMessageVisibilityBatch takes at most this many entries per call.
_VISIBILITY_BATCH: Final = 10


class PoisonMessage(ValueError):
    """A message no retry can help (malformed, or names nothing that exists)."""


class Deferred(RuntimeError):
    """Too little of the invocation is left to start this record; it comes back at once."""


@dataclass(frozen=True)
class FailedRecord:
    """A record the batch reported as failed, and why."""

    receipt_handle: str
    receive_count: int
    error: BaseException | None


def backoff_seconds(receive_count: int, rng: Callable[[], float] = random.random) -> int:
    """How long a failed record stays invisible before its next delivery.

    Exponential (2, 4, 8, 16 s) with equal jitter, so records failed together by a provider
    hiccup do not all come back in the same second. With maxReceiveCount 5 a record reaches the
    DLQ within about half a minute of its first failure.
    """
    exponent = min(max(0, receive_count - 1), 8)
    ceiling: int = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (1 << exponent))
    return max(1, round(ceiling / 2 + rng() * ceiling / 2))


def _comes_back_at_once(error: BaseException | None) -> bool:
    return isinstance(error, PoisonMessage | Deferred)


def retry_delays(failed: Iterable[FailedRecord]) -> list[tuple[str, int]]:
    """(receipt handle, visibility seconds) per failed record: 0 for poison and deferred
    records, an exponential backoff for everything else."""
    return [
        (r.receipt_handle, 0 if _comes_back_at_once(r.error) else backoff_seconds(r.receive_count))
        for r in failed
    ]


_sqs: SQSClient | None = None


def sqs_client() -> SQSClient:
    """One SQS client per process, made on first need (a clean batch never needs one)."""
    global _sqs
    if _sqs is None:
        import boto3  # deferred: most invocations never call SQS themselves

        _sqs = boto3.client("sqs", region_name=get_settings().region)
    return _sqs


def dead_letter(dlq_url: str, body: str | None, error: BaseException) -> None:
    """Put one record on its DLQ (alarmed) with the error's type and reason as attributes."""
    sqs_client().send_message(
        QueueUrl=dlq_url,
        MessageBody=body or "",
        MessageAttributes={
            "error": {"DataType": "String", "StringValue": type(error).__name__},
            "reason": {"DataType": "String", "StringValue": str(error)[:256] or "-"},
        },
    )


def schedule_retries(
    failed: Sequence[FailedRecord], queue_url: str, *, retry_metric: str, poison_metric: str
) -> None:
    """Set each failed record's visibility to its backoff (best effort: if this fails, the
    queue's own visibility timeout brings them back)."""
    if not failed:
        return
    retries = sum(1 for r in failed if not _comes_back_at_once(r.error))
    if retries:
        metrics.add_metric(name=retry_metric, unit=MetricUnit.Count, value=retries)
    poison = len(failed) - retries
    if poison:
        metrics.add_metric(name=poison_metric, unit=MetricUnit.Count, value=poison)
    entries: list[Any] = [
        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
        for i, (handle, seconds) in enumerate(retry_delays(failed))
    ]
    try:
        for start in range(0, len(entries), _VISIBILITY_BATCH):
            sqs_client().change_message_visibility_batch(
                QueueUrl=queue_url, Entries=entries[start : start + _VISIBILITY_BATCH]
            )
    except Exception:  # botocore errors share no useful base; the queue's timeout still applies
        logger.exception("could not set the retry backoff of failed records")


@dataclass(frozen=True)
class QueuePolicy:
    """What a queue's consumer does with time, failures and records no retry can help."""

    #: Metric names: records sent back with a backoff, and poison records.
    retry_metric: str
    poison_metric: str
    #: The queue's URL (read when needed, so settings load at the first batch, not at import).
    queue_url: Callable[[], str] = lambda: ""
    backoff: bool = False
    deadline_margin_ms: int | None = None
    #: Errors that send the record to the DLQ at once and acknowledge it.
    dead_letter_at_once: tuple[type[Exception], ...] = ()
    dlq_url: Callable[[], str | None] = lambda: None
    dead_lettered_metric: str = "RecordsDeadLettered"
    #: What a dead-lettered record's handler returns (the batch counts it as a success).
    dead_lettered_result: object = "dead_lettered"


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
