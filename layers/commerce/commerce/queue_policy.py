"""How every SQS consumer of this house treats time, failures and records no retry can help:
the errors that mean "never retry" and "not now", the backoff of a failed record's next
delivery, the dead-letter queue for records no retry can help, and each queue's ``QueuePolicy``.

Apart from ``queue_edge`` (Powertools' batch processor with these policies applied) so that the
code that names a policy or raises ``PoisonMessage`` (checkout reaches the payments queue's
policy through ``orders/charging.py``) does not load the batch utility into API functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce.observability import logger, metrics
from commerce.settings import get_settings

if TYPE_CHECKING:
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
