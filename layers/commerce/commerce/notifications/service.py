"""The notifications consumer's use case: one domain event in, each message it owes sent once.

Per event (docs/notifications.md):

1. Parse the body (``{event_id, type, occurred_at, data}``) and name its type
   (``EVENT_ALIASES``: ``order.pending_payment`` is ``order.placed``).
2. Gather what the producer left out. Order events are thin (``dispatch.order_event``: the id,
   status and total), so the order is read by id for its lines, totals, carrier, tracking,
   delivery and returns, and its email and locale. A guest gets email only, at the order's
   address, in the checkout's language; a signed-in customer gets their profile's channels,
   language, phone and push devices (the order's address and language where the profile has
   none). ``cart.abandoned`` goes to the cart's owner on their profile's channels (nobody
   without a profile). ``inventory.low_stock`` goes to the ops mailbox (``OPS_ALERT_EMAIL``).
3. ``build_messages`` decides channels (consent) and renders each one.
4. Per message: claim its dedupe key (``store/notifications.py``), send through the channel's
   adapter, mark it SENT. A claim refused means it was sent already (or is being sent): nothing
   is sent and ``NotificationsDeduplicated`` counts it. A failed send releases its claim; the
   event's other messages are still sent, then the record fails, so the queue retries it
   (messages already SENT are not sent again) and, after its receive limit, dead-letters it.
   A push endpoint SNS reports disabled or gone is not retried: the claim is released, the
   device forgotten, and the rest goes on.

An event no retry can help (``NotificationError``: not JSON, an unknown type, an order that
does not exist, data a template cannot render) is put on the dead-letter queue at once and
acknowledged, instead of being retried five times. Log lines carry ``log_fields()`` only:
never an address, a name or a message's text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.clock import iso
from commerce.customers import devices
from commerce.customers.profiles import Preferences, preferences_for
from commerce.domain.consent import Audience, Channel, EventType, NotificationError
from commerce.domain.locale import Locale
from commerce.notifications.messages import (
    DEFAULT_STORE,
    NotificationEvent,
    OutgoingMessage,
    Recipient,
    StoreInfo,
    build_messages,
)
from commerce.notifications.sender import ChannelSender, EndpointGone, default_senders
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import notifications as sent_records
from commerce.store.orders import StoredOrder, load_returns

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

#: A SENDING claim older than this was left by a consumer that died mid-send and may be taken
#: over. NotificationsQueue's VisibilityTimeout (60 s): no live attempt holds a claim longer,
#: since the function's timeout (10 s) is far shorter.
CLAIM_STALE_SECONDS: Final = 60

SENT_METRIC: Final = "NotificationsSent"
DEDUPLICATED_METRIC: Final = "NotificationsDeduplicated"
DEAD_LETTERED_METRIC: Final = "NotificationsDeadLettered"
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


# --- Parsing and context -----------------------------------------------------------------------


def parse_body(body: str | None) -> NotificationEvent:
    """The event a record carries; ``NotificationError`` when it carries none."""
    try:
        raw = json.loads(body or "")
    except (TypeError, ValueError):
        raise NotificationError("the message body is not JSON") from None
    if not isinstance(raw, Mapping):
        raise NotificationError("the message body is not a JSON object")
    return NotificationEvent.parse(raw)


def _latest_return(order_id: str) -> dict[str, Any]:
    returns = load_returns(order_id)
    if not returns:
        raise NotificationError(f"order {order_id} has no return to announce")
    latest = returns[-1].value
    return {
        "return_id": latest.return_id,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in latest.lines],
        "refund": latest.refund.to_dict(),
    }


def order_data(stored: StoredOrder, kind: EventType) -> dict[str, Any]:
    """What the order templates use, read from the order as stored."""
    order = stored.order
    data: dict[str, Any] = {
        "order_id": order.order_id,
        "status": order.status.value,
        "lines": [line.to_dict() for line in order.lines],
        "totals": order.totals.to_dict(),
    }
    if stored.carrier is not None:
        data["carrier"] = stored.carrier
    if stored.tracking_number is not None:
        data["tracking_number"] = stored.tracking_number
    if order.delivered_at is not None:
        data["delivered_at"] = iso(order.delivered_at)
    if kind is EventType.ORDER_CANCELLED:
        refunded = order.payment.refunded
        data["refund"] = refunded.to_dict() if refunded.amount > 0 else None
    if kind in (EventType.ORDER_RETURN_REQUESTED, EventType.ORDER_REFUNDED):
        data.update(_latest_return(order.order_id))
    return data


def _customer_recipient(
    prefs: Preferences, *, email: str | None = None, locale: str | None = None
) -> Recipient:
    """A signed-in customer on their own channels, language, consent and devices. An order's
    ``email`` comes first (it is where the customer asked to hear about that order); its
    ``locale`` stands in only where the profile has none."""
    return Recipient(
        Audience.CUSTOMER,
        email=email or prefs.email,
        phone=prefs.phone,
        name=prefs.name,
        locale=prefs.locale or locale,
        channels=prefs.channels,
        consent=prefs.consents,
        devices=prefs.push_targets,
    )


def _order_recipient(stored: StoredOrder, locale: str | None) -> Recipient:
    order = stored.order
    if order.is_guest:
        return Recipient.guest(order.email, locale)
    prefs = preferences_for(order.owner) if order.owner else None
    if prefs is None:
        # No profile (never opened, or erased): like a guest, the order's address only.
        return Recipient(Audience.CUSTOMER, email=order.email, locale=locale)
    return _customer_recipient(prefs, email=order.email, locale=locale)


@dataclass(frozen=True)
class Addressed:
    """An event completed with what its templates need, and who it goes to (None: nobody)."""

    event: NotificationEvent
    recipient: Recipient | None
    #: The signed-in customer the messages go to, if any (their export lists them).
    customer_id: str | None = None


def address(event: NotificationEvent) -> Addressed:
    """Complete the event's data and find its recipient."""
    if event.type is EventType.INVENTORY_LOW_STOCK:
        ops = get_settings().ops_alert_email
        return Addressed(event, Recipient.staff(ops) if ops else None)
    if event.type is EventType.CART_ABANDONED:
        return _cart_addressed(event)
    order_id = event.data.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise NotificationError(f"{event.type.value} names no order_id")
    found = sent_records.load_order_with_locale(order_id)
    if found is None:
        raise NotificationError(f"no order {order_id}")
    stored, locale = found
    data = {**event.data, **order_data(stored, event.type)}
    completed = NotificationEvent(event.event_id, event.type, event.occurred_at, data)
    return Addressed(completed, _order_recipient(stored, locale), stored.order.owner)


def _cart_addressed(event: NotificationEvent) -> Addressed:
    """A cart reminder goes to the cart's owner with their own preferences; nobody without a
    profile (guests, erased customers). ``channels_for`` applies their marketing consent."""
    sub = event.data.get("owner_sub")
    if not isinstance(sub, str) or not sub:
        raise NotificationError("cart.abandoned names no owner_sub")
    prefs = preferences_for(sub)
    if prefs is None:
        return Addressed(event, None)
    return Addressed(event, _customer_recipient(prefs), sub)


@lru_cache(maxsize=1)
def store_info() -> StoreInfo:
    """The shop as messages name it: ``STORE_NAME`` in every locale when set."""
    name = get_settings().store_name
    if not name:
        return DEFAULT_STORE
    return StoreInfo(
        names={locale: name for locale in Locale}, support_email=DEFAULT_STORE.support_email
    )


# --- Sending -----------------------------------------------------------------------------------


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


# --- One SQS record ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _sqs() -> SQSClient:
    import boto3  # deferred: only a dead-lettered record needs it

    return boto3.client("sqs", region_name=get_settings().region)


def dead_letter(body: str | None, error: NotificationError) -> None:
    """Put a record no retry can help on the DLQ (alarmed) with its reason, once.

    Without a configured DLQ the error is raised again and the queue's redrive gets it there.
    """
    url = get_settings().notifications_dlq_url
    if not url:
        raise error
    _sqs().send_message(
        QueueUrl=url,
        MessageBody=body or "",
        MessageAttributes={
            "error": {"DataType": "String", "StringValue": type(error).__name__},
            "reason": {"DataType": "String", "StringValue": str(error)[:256] or "-"},
        },
    )


def handle_body(
    body: str | None, *, senders: Mapping[Channel, ChannelSender] | None = None
) -> Outcome:
    """One record of a batch. Raises (the record fails and is retried) when a send failed or
    a store call did; dead-letters and acknowledges a record that can never succeed."""
    event_id: str | None = None
    try:
        event = parse_body(body)
        event_id = event.event_id
        return notify(event, senders=senders)
    except NotificationError as error:
        dead_letter(body, error)
        metrics.add_metric(name=DEAD_LETTERED_METRIC, unit=MetricUnit.Count, value=1)
        logger.error(
            "notification event dead-lettered",
            extra={"event_id": event_id, "error": type(error).__name__},
        )
        return Outcome(Result.DEAD_LETTERED, event_id)
