"""A campaign's message to one member, on the channels the campaign chose, each sent once.

The message is a ``campaign.message`` event (marketing purpose) for the member, with the
campaign's subject and body; ``domain.consent.channels_for`` decides which of the member's
channels it may use (current marketing consent, the channel among their own, an address for
it), and of those only the campaign's are used. Every other chosen channel is *skipped*.

Sending goes through the same claim as every notification (``delivery.send_once``), keyed by
the campaign, the member, the channel and the address, so a redelivered or retried turn sends
nothing twice. A claim found taken counts as sent once its record says SENT; while another
delivery still holds it (SENDING), the turn fails and comes back later, so nothing is counted
before it is true. The message is recorded under the member (their export lists it, their
erasure removes it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from commerce import clock
from commerce.domain.campaigns import split_channels
from commerce.domain.consent import Channel, EventType
from commerce.events import stable_event_id
from commerce.notifications.addressing import address
from commerce.notifications.delivery import Delivery, channel_senders, send_once, store_info
from commerce.notifications.messages import NotificationEvent, OutgoingMessage, build_messages
from commerce.notifications.sender import ChannelSender
from commerce.store import notifications as sent_records

SENT: Final = "sent"
SKIPPED: Final = "skipped"


class StillSending(RuntimeError):
    """Another delivery of this member's message holds its claim right now: try again later."""


@dataclass(frozen=True)
class CampaignMessage:
    campaign_id: str
    subject: str
    body: str


def campaign_event(message: CampaignMessage, customer_id: str, at: int) -> NotificationEvent:
    """The member's event: the same id for every delivery of the same campaign to them."""
    return NotificationEvent(
        event_id=stable_event_id("campaign", message.campaign_id, customer_id),
        type=EventType.CAMPAIGN_MESSAGE,
        occurred_at=clock.iso(at),
        data={
            "campaign_id": message.campaign_id,
            "customer_id": customer_id,
            "campaign_subject": message.subject,
            "campaign_body": message.body,
        },
    )


def _messages(event: NotificationEvent) -> tuple[str | None, list[OutgoingMessage]]:
    addressed = address(event)
    if addressed.recipient is None:
        return None, []
    body = {
        "event_id": event.event_id,
        "type": event.type.value,
        "occurred_at": event.occurred_at,
        "data": event.data,
    }
    return addressed.customer_id, build_messages(body, addressed.recipient, store=store_info())


def _sent(message: OutgoingMessage, delivery: Delivery) -> bool:
    if delivery is Delivery.SENT:
        return True
    if delivery is Delivery.DUPLICATE:
        if sent_records.status_of(message.dedupe_key) == sent_records.SENT:
            return True
        raise StillSending(f"message {message.dedupe_key} is being sent by another delivery")
    return False  # the push endpoint is gone: nothing was delivered there


def send_to_member(
    message: CampaignMessage,
    customer_id: str,
    channels: Sequence[Channel],
    *,
    senders: Mapping[Channel, ChannelSender] | None = None,
    now: Callable[[], int] = clock.now,
) -> dict[Channel, str]:
    """What each chosen channel came to for this member: ``sent`` or ``skipped``.

    Raises when a send failed (after trying every channel) or is still in flight elsewhere;
    the messages already sent are not sent again on the retry.
    """
    event = campaign_event(message, customer_id, now())
    owner, messages = _messages(event)
    plan = split_channels(channels, [m.channel for m in messages])
    outcomes = {channel: SKIPPED for channel in plan.skipped}
    adapters = senders if senders is not None else channel_senders()
    failed: Exception | None = None
    for channel in plan.sent:
        reached = False
        for outgoing in (m for m in messages if m.channel is channel):
            try:
                delivery = send_once(outgoing, adapters[channel], now(), owner)
                reached = _sent(outgoing, delivery) or reached
            except Exception as error:  # one channel's failure must not silence the others
                failed = failed or error
        outcomes[channel] = SENT if reached else SKIPPED
    if failed is not None:
        raise failed
    return {channel: outcomes[channel] for channel in plan.sent + plan.skipped}
