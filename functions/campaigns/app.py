"""CampaignsFunction: a campaign's work from the campaigns queue, at the event source's bounded
concurrency (issue 14): segment pages expanded into recipients, then one turn per member that
sends each chosen channel they consented to, counted once.

The shared queue edge runs one record at a time, reports the failed ones with a backoff, and
dead-letters work no retry can help at once (``campaign_queue.POLICY``). The decisions live in
``commerce.analytics.campaign_queue``.
"""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce.analytics import campaign_queue
from commerce.observability import logger, metrics, tracer
from commerce.queue_edge import QueueEdge

processor = QueueEdge(campaign_queue.POLICY)


def record_handler(record: SQSRecord) -> str:
    return campaign_queue.handle_body(record.body).value


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


init_done()
