"""NotificationsFunction: each domain event on the notifications queue becomes its messages, each
sent once (issue 6).

Powertools' batch processor runs one record at a time and reports the failed ones
(ReportBatchItemFailures): a send that failed is retried through the queue and, after its
receive limit, lands in the DLQ, without replaying the records that succeeded beside it. The
decisions live in ``commerce.notifications.service``.
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
from commerce.notifications import service
from commerce.observability import logger, metrics, tracer

# An all-failed batch answers with its failures instead of raising, like any other batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    return service.handle_body(record.body).result.value


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
