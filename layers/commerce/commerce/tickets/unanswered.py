"""The tickets nobody answered: counted on the sweeper's schedule as the ``TicketsUnanswered``
metric (an alarm watches it), so a customer left waiting a day is seen by someone.

A ticket awaits support from a customer's first unanswered message until a support reply or a
status other than ``open`` (``domain.tickets``); its awaiting marker sits in a sparse index by
the time the wait began, so a run reads only the waits older than a day, not the tickets.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from commerce.domain.tickets import UNANSWERED_AFTER_SECONDS
from commerce.observability import logger, metrics
from commerce.store import tickets as store


def report_unanswered(now: int) -> int:
    """How many tickets have awaited support more than a day at ``now``; emitted every run
    (0 included), so the alarm sees the count fall back as well as rise."""
    overdue = [
        ticket_id for ticket_id, _ in store.awaiting_since_before(now - UNANSWERED_AFTER_SECONDS)
    ]
    metrics.add_metric(name="TicketsUnanswered", unit=MetricUnit.Count, value=len(overdue))
    if overdue:
        logger.warning(
            "tickets unanswered for a day",
            extra={"count": len(overdue), "ticket_ids": overdue[:20]},
        )
    return len(overdue)
