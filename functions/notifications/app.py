"""NotificationsFunction: each domain event on the notifications queue becomes its messages, each
sent once (issue 6).

The shared queue edge runs one record at a time and reports the failed ones
(ReportBatchItemFailures): a send that failed is retried through the queue and, after its
receive limit, lands in the DLQ, without replaying the records that succeeded beside it; an
event no retry can help is dead-lettered at once (``queue.POLICY``). The decisions live in
``commerce.notifications``.
"""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce.notifications import queue
from commerce.observability import logger, metrics, tracer
from commerce.queue_edge import QueueEdge

processor = QueueEdge(queue.POLICY)


def record_handler(record: SQSRecord) -> str:
    return queue.handle_body(record.body).result.value


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


init_done()
