"""The notifications queue's records: each body parsed into its event and the event notified.

The function's ``record_handler`` runs ``handle_body`` inside ``commerce.queue_edge.QueueEdge``
with ``POLICY``: the body is JSON ``{event_id, type, occurred_at, data}`` and its type is named
(``EVENT_ALIASES``: ``order.pending_payment`` is ``order.placed``). A record that raises is
reported as failed and comes back after the queue's visibility timeout (no backoff), reaching
the DLQ after its receive limit. An event no retry can help (``NotificationError``: not JSON, an
unknown type, an order that does not exist, data a template cannot render) is put on the
dead-letter queue at once and acknowledged (``dead_lettered``), instead of being retried five
times; without a configured DLQ it fails like any other and the queue's redrive gets it there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from commerce.domain.consent import Channel, NotificationError
from commerce.notifications.delivery import Outcome, Result, notify
from commerce.notifications.messages import NotificationEvent
from commerce.notifications.sender import ChannelSender
from commerce.queue_policy import QueuePolicy
from commerce.settings import get_settings

DEAD_LETTERED_METRIC: Final = "NotificationsDeadLettered"


def parse_body(body: str | None) -> NotificationEvent:
    """The event a record carries; ``NotificationError`` when it carries none."""
    try:
        raw = json.loads(body or "")
    except (TypeError, ValueError):
        raise NotificationError("the message body is not JSON") from None
    if not isinstance(raw, Mapping):
        raise NotificationError("the message body is not a JSON object")
    return NotificationEvent.parse(raw)


def handle_body(
    body: str | None, *, senders: Mapping[Channel, ChannelSender] | None = None
) -> Outcome:
    """One record's body, notified. Raises ``NotificationError`` when no retry can help (the
    queue edge dead-letters it) and anything else when a send or a store call failed (the
    record fails and is retried)."""
    return notify(parse_body(body), senders=senders)


def _dlq_url() -> str | None:
    return get_settings().notifications_dlq_url or None


#: The notifications queue: no deadline margin and no backoff (a failed record comes back after
#: the queue's visibility timeout), and ``NotificationError`` dead-lettered at once.
POLICY: Final = QueuePolicy(
    retry_metric="NotificationsRetried",
    poison_metric="NotificationsPoison",
    dead_letter_at_once=(NotificationError,),
    dlq_url=_dlq_url,
    dead_lettered_metric=DEAD_LETTERED_METRIC,
    dead_lettered_result=Result.DEAD_LETTERED.value,
)
