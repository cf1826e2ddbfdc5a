"""Campaigns: one marketing message per segment member and chosen channel, and what it earned.

- A member is sent the campaign on a chosen channel only where they consented to marketing on
  it (``domain.consent.channels_for`` with the marketing purpose: current marketing consent, the
  channel among their own, an address for it); every other (member, channel) is *skipped*.
- Each (member, channel) is counted once, as sent or skipped, whatever the redeliveries.
- **Attribution**: an order paid by a recipient at most ``ATTRIBUTION_WINDOW_SECONDS`` after
  the campaign's first message to them counts for the campaign, once per order, at its total.
  An order may count for several campaigns whose messages reached the buyer in time.
- A campaign is ``sending`` until every member of its segment is known and each of them is
  done, then ``sent``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from commerce.domain.consent import CHANNEL_ORDER, Channel

#: Orders paid by a recipient within 7 days after their message count for the campaign.
ATTRIBUTION_WINDOW_SECONDS: Final = 7 * 24 * 60 * 60
#: Longest subject and body a campaign may carry (an SMS or push shows the first part only).
MAX_SUBJECT_CHARS: Final = 200
MAX_BODY_CHARS: Final = 5000


class CampaignStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"


@dataclass(frozen=True)
class Touch:
    """The campaign's first message to a customer went out at ``sent_at`` (epoch s)."""

    campaign_id: str
    sent_at: int


def attributed(sent_at: int, paid_at: int) -> bool:
    """An order paid at ``paid_at`` counts for a message sent at ``sent_at``: after it, within
    the window (both ends included)."""
    return sent_at <= paid_at <= sent_at + ATTRIBUTION_WINDOW_SECONDS


def status(*, expanded: bool, recipients: int, done: int) -> CampaignStatus:
    """``sent`` once every member is known (the segment was read to its end) and done."""
    return CampaignStatus.SENT if expanded and done >= recipients else CampaignStatus.SENDING


def ordered_channels(channels: Sequence[Channel]) -> tuple[Channel, ...]:
    """The chosen channels once each, in the order messages are built (email, sms, push)."""
    chosen = set(channels)
    return tuple(c for c in CHANNEL_ORDER if c in chosen)


@dataclass(frozen=True)
class ChannelSplit:
    """What one member's turn did: the chosen channels sent on, and those skipped."""

    sent: tuple[Channel, ...]
    skipped: tuple[Channel, ...]


def split_channels(chosen: Sequence[Channel], allowed: Sequence[Channel]) -> ChannelSplit:
    """The campaign's ``chosen`` channels split by what the member's consent ``allowed``."""
    ordered = ordered_channels(chosen)
    ok = set(allowed)
    return ChannelSplit(
        sent=tuple(c for c in ordered if c in ok),
        skipped=tuple(c for c in ordered if c not in ok),
    )


def campaign_id_for(requester: str, idempotency_key: str) -> str:
    """The id a campaign request gets: the same for every retry of the same key by the same
    caller (so a retry finds the campaign it made), never shared between two callers."""
    digest = hashlib.sha256(f"campaign\n{requester}\n{idempotency_key}".encode())
    return digest.hexdigest()[:32]


def request_digest(body: Mapping[str, Any]) -> str:
    """A fingerprint of a campaign request's body: a retry with the same key and another body
    is 422 ``idempotency-key-reuse``."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
