"""PaymentsFunction: takes each order's payment from the payments queue, once (issue 5).

Powertools' batch processor runs one record at a time and reports the failed ones
(ReportBatchItemFailures), so a poison message or a provider hiccup never replays the records
that succeeded beside it. Failed records are given their backoff before the response returns.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce.observability import logger, metrics, tracer
from commerce.payments import consumer

# An all-failed batch still answers with its failures (instead of raising), so each record
# gets its own backoff and the poison ones go on towards the DLQ.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    outcome = consumer.handle_body(record.body, lambda_context.get_remaining_time_in_millis)
    return outcome.result.value


def _failed_records() -> list[consumer.FailedRecord]:
    failed: list[consumer.FailedRecord] = []
    for record, (_, error, _) in zip(processor.fail_messages, processor.exceptions, strict=True):
        if not isinstance(record, SQSRecord):  # pragma: no cover - EventType.SQS
            continue
        count = record.attributes.approximate_receive_count
        failed.append(consumer.FailedRecord(record.receipt_handle, int(count or 1), error))
    return failed


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    consumer.schedule_retries(_failed_records())
    return dict(response)
