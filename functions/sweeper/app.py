"""SweeperFunction: on a schedule, releases expired cart holds back to stock and
resends payment messages that were never confirmed sent, reconciles unpaid orders with their
provider and cancels those whose payment time is up, reminds customers of carts they left and
counts the support tickets left unanswered for a day, and finishes erasures a failed request
left or whose last open order has closed."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce import clock
from commerce.carts import reminders, sweeper
from commerce.customers import privacy
from commerce.observability import logger, metrics
from commerce.orders import dispatch, reversals, timeouts
from commerce.tickets import unanswered


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    report = sweeper.sweep(clock.now(), context.get_remaining_time_in_millis)
    metrics.add_metric(name="HoldsExpired", unit=MetricUnit.Count, value=report.released)
    if report.released or report.skipped or report.stopped_early:
        logger.info("holds swept", extra={"scheduled_at": event.time, **report.as_dict()})
    # Orders whose payment message was never confirmed sent get it again (it logs what it did).
    dispatch.reconcile_dispatch(clock.now())
    # Unpaid orders: asked about at their provider, cancelled once their payment time is up.
    timeouts.sweep_unpaid(clock.now())
    # Received returns whose points reversal was left unwritten get it (it logs what it did).
    reversals.reconcile_reversals(clock.now())
    # Idle carts of customers who consent to marketing get one cart.abandoned reminder each.
    reminders.remind_abandoned_carts(clock.now(), context.get_remaining_time_in_millis)
    # Tickets awaiting support for more than a day: the TicketsUnanswered metric (alarmed).
    unanswered.report_unanswered(clock.now())
    # Erasures left unfinished: a request that failed midway, or open orders all closed now.
    privacy.resume_erasures(clock.now())
    return report.as_dict()


init_done()
