"""Each message an event owes, rendered and sent once through its channel's adapter.

Per message: claim its dedupe key (``store/notifications.py``), send through the channel's
adapter (``sender``), mark it SENT. A claim refused means it was sent already (or is being
sent): nothing is sent and ``NotificationsDeduplicated`` counts it. A failed send releases its
claim; the event's other messages are still sent, then the event fails, so the queue retries it
(messages already SENT are not sent again) and, after its receive limit, dead-letters it. A
push endpoint SNS reports disabled or gone is not retried: the claim is released, the device
forgotten, and the rest goes on.

Log lines carry ``OutgoingMessage.log_fields()`` only: never an address, a name or a message's
text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.customers import devices
from commerce.domain.consent import Channel
from commerce.domain.locale import Locale
from commerce.notifications.addressing import Addressed, address
from commerce.notifications.messages import (
    DEFAULT_STORE,
    NotificationEvent,
    OutgoingMessage,
    StoreInfo,
    build_messages,
)
from commerce.notifications.sender import ChannelSender, EndpointGone, default_senders
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import notifications as sent_records

#: A SENDING claim older than this was left by a consumer that died mid-send and may be taken
#: over. NotificationsQueue's VisibilityTimeout (60 s): no live attempt holds a claim longer,
#: since the function's timeout (10 s) is far shorter.
CLAIM_STALE_SECONDS: Final = 60

SENT_METRIC: Final = "NotificationsSent"
DEDUPLICATED_METRIC: Final = "NotificationsDeduplicated"
UNDELIVERABLE_METRIC: Final = "NotificationsUndeliverable"


class Result(StrEnum):
    """What one record did (for logs and tests)."""

    SENT = "sent"
    NOTHING_TO_SEND = "nothing_to_send"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"


@dataclass
class Outcome:
    """One event's result: messages sent now and messages found sent already."""

    result: Result
    event_id: str | None = None
    sent: list[OutgoingMessage] = field(default_factory=list)
    deduplicated: int = 0
    undeliverable: int = 0


@lru_cache(maxsize=1)
def store_info() -> StoreInfo:
    """The shop as messages name it: ``STORE_NAME`` in every locale when set."""
    name = get_settings().store_name
    if not name:
        return DEFAULT_STORE
    return StoreInfo(
        names={locale: name for locale in Locale}, support_email=DEFAULT_STORE.support_email
    )


class Delivery(StrEnum):
    """What became of one message."""

    SENT = "sent"
    #: Sent (or being sent) by an earlier delivery of the same event: nothing was sent now.
    DUPLICATE = "duplicate"
    #: Its push endpoint is disabled or gone: the device was forgotten, nothing to retry.
    UNDELIVERABLE = "undeliverable"


def send_once(
    message: OutgoingMessage, sender: ChannelSender, now: int, customer_id: str | None = None
) -> Delivery:
    """Send ``message`` unless its key was claimed already."""
    summary = (
        sent_records.MessageSummary(
            customer_id=customer_id,
            channel=message.channel.value,
            template=message.template,
            event_type=message.event_type.value,
            ref=message.ref,
        )
        if customer_id
        else None
    )
    claimed = sent_records.claim(
        message.dedupe_key, now=now, stale_after=CLAIM_STALE_SECONDS, summary=summary
    )
    if not claimed:
        metrics.add_metric(name=DEDUPLICATED_METRIC, unit=MetricUnit.Count, value=1)
        logger.info("notification already sent", extra=message.log_fields())
        return Delivery.DUPLICATE
    try:
        sender.send(message)
    except EndpointGone:
        sent_records.release(message.dedupe_key, claimed_at=now)
        if customer_id:
            devices.forget_endpoint(customer_id, message.to)
        metrics.add_metric(name=UNDELIVERABLE_METRIC, unit=MetricUnit.Count, value=1)
        logger.warning("push endpoint gone; device forgotten", extra=message.log_fields())
        return Delivery.UNDELIVERABLE
    except Exception:
        sent_records.release(message.dedupe_key, claimed_at=now)
        logger.warning("notification send failed", extra=message.log_fields())
        raise
    if not sent_records.mark_sent(message.dedupe_key, claimed_at=now, now=clock.now()):
        # Another delivery took the claim over as stale and sent too: rare, and logged.
        logger.warning("notification claim lost while sending", extra=message.log_fields())
    metrics.add_metric(name=SENT_METRIC, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="channel", value=message.channel.value)
    logger.info("notification sent", extra=message.log_fields())
    return Delivery.SENT


def messages_for(event: NotificationEvent) -> list[OutgoingMessage]:
    """Every message the event owes: its recipient found, its data completed, each channel
    rendered (empty when there is nobody to tell or consent rules everything out)."""
    return _addressed_messages(event)[1]


def _addressed_messages(event: NotificationEvent) -> tuple[Addressed, list[OutgoingMessage]]:
    addressed = address(event)
    if addressed.recipient is None:
        logger.warning(
            "no recipient for event",
            extra={"event_id": event.event_id, "event_type": event.type.value},
        )
        return addressed, []
    completed = addressed.event
    body = {
        "event_id": completed.event_id,
        "type": completed.type.value,
        "occurred_at": completed.occurred_at,
        "data": completed.data,
    }
    return addressed, build_messages(body, addressed.recipient, store=store_info())


def notify(
    event: NotificationEvent,
    *,
    senders: Mapping[Channel, ChannelSender] | None = None,
    now: Callable[[], int] = clock.now,
) -> Outcome:
    """Every message the event owes, each sent once."""
    addressed, messages = _addressed_messages(event)
    outcome = Outcome(Result.NOTHING_TO_SEND, event.event_id)
    if not messages:
        return outcome
    adapters = senders if senders is not None else channel_senders()
    failed: Exception | None = None
    for message in messages:
        try:
            delivery = send_once(message, adapters[message.channel], now(), addressed.customer_id)
        except Exception as error:
            # One channel's outage must not silence the others: try every message, then fail
            # the record so the queue retries it (the ones sent now are deduplicated then).
            failed = failed or error
            continue
        if delivery is Delivery.SENT:
            outcome.sent.append(message)
        elif delivery is Delivery.DUPLICATE:
            outcome.deduplicated += 1
        else:
            outcome.undeliverable += 1
    if failed is not None:
        raise failed
    if outcome.sent:
        outcome.result = Result.SENT
    elif outcome.deduplicated:
        outcome.result = Result.DUPLICATE
    return outcome


_senders: Mapping[Channel, ChannelSender] | None = None


def channel_senders() -> Mapping[Channel, ChannelSender]:
    """The process's adapters: SES and SNS from settings unless others were installed."""
    global _senders  # one set per process, made on first use
    if _senders is None:
        _senders = default_senders()
    return _senders


def use_senders(replacement: Mapping[Channel, ChannelSender] | None) -> None:
    """Install other adapters (tests: a failing provider); None goes back to the default."""
    global _senders
    _senders = replacement
