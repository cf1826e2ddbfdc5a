"""PaymentsFunction: takes each order's payment from the payments queue, once.

The shared queue edge runs one record at a time and reports the failed ones
(ReportBatchItemFailures), so a poison message or a provider hiccup never replays the records
that succeeded beside it; failed records get their backoff before the response returns
(``charging.POLICY``). The decisions live in ``commerce.orders.charging`` and ``settlement``.
"""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce.observability import logger, metrics, tracer
from commerce.orders import charging
from commerce.queue_edge import QueueEdge

processor = QueueEdge(charging.POLICY)


def record_handler(record: SQSRecord) -> str:
    return charging.handle_body(record.body).result.value


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


init_done()
