"""AnalyticsFunction: the Orders and Carts streams, each record applied to the figures exactly
once (issue 14).

Powertools' batch processor for DynamoDB streams runs one record at a time and reports the
failed ones (ReportBatchItemFailures): Lambda retries from the first failed record, bisects a
batch that errors, and after its retries sends the batch's description to the on-failure
destination (the alarmed AnalyticsDLQ). A record no retry can help is put there at once and the
shard goes on (``stream.StreamEdge``). The decisions live in ``commerce.analytics.stream``.
"""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce.analytics import stream
from commerce.observability import logger, metrics, tracer

processor = stream.StreamEdge()


def record_handler(record: DynamoDBRecord) -> str:
    return stream.handle_record(record.raw_event).value


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


init_done()
