"""A campaign's work on the campaigns queue: the segment read a page at a time, then one turn per
member that sends on each chosen channel they consented to, each counted once.

The campaigns queue is not the notifications queue: its consumer (CampaignsFunction) runs with
a bounded concurrency on its event source, so a campaign to a large segment proceeds at a steady
rate and an order's messages, on their own queue and function, never wait behind it.

Messages (JSON):

- ``{"kind": "expand", "campaign_id", "page": n, "start": token | null}``: page ``n`` of the
  segment's members (``membership.member_page``) become recipients (counted once each), each gets
  a ``deliver`` message, and page ``n + 1`` is queued while members remain. The campaign's
  ``pages`` count moves from n to n + 1 only once, so a redelivered page is recognised and
  dropped; a page redelivered before that is expanded again harmlessly (recipients are
  conditional puts, turns are idempotent).
- ``{"kind": "deliver", "campaign_id", "customer_id"}``: the member's turn
  (``notifications.campaigns.send_to_member``), finished and counted in one conditional write
  (``store.campaigns.finish_recipient``), so a redelivered turn counts nothing twice.

A message naming no campaign, no recipient or no segment, or that is not JSON, is poison: the
queue edge puts it on the dead-letter queue at once. Any other failure is retried with backoff
and, after the queue's receive limit, dead-lettered (alarmed).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.analytics.campaign_work import deliver_message, expand_message, work_queue
from commerce.analytics.membership import member_page
from commerce.domain.consent import Channel
from commerce.errors import ValidationFailed
from commerce.http.pagination import decode_page_token, encode_page_token
from commerce.notifications.campaigns import CampaignMessage, send_to_member
from commerce.observability import logger, metrics
from commerce.queue_policy import PoisonMessage, QueuePolicy
from commerce.settings import get_settings
from commerce.store import analytics as values_store
from commerce.store import campaigns as store
from commerce.store.campaigns import StoredCampaign

#: Members made recipients by one expansion message.
EXPANSION_PAGE: Final = 100
DELIVERED_METRIC: Final = "CampaignMembersDone"


class Result(StrEnum):
    EXPANDED = "expanded"
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"


# --- The consumer --------------------------------------------------------------------------------


def _campaign(campaign_id: Any) -> StoredCampaign:
    found = store.load_campaign(campaign_id) if isinstance(campaign_id, str) else None
    if found is None:
        raise PoisonMessage(f"no campaign {campaign_id!r}")
    return found


def expand(campaign_id: Any, page: int, start: str | None, *, now: int) -> Result:
    """One page of the campaign's segment becomes recipients, each queued for its turn."""
    campaign = _campaign(campaign_id)
    campaign_id = campaign.campaign_id
    if campaign.pages > page:
        return Result.DUPLICATE
    segment = store.load_segment(campaign.segment_id)
    if segment is None:
        raise PoisonMessage(f"campaign {campaign_id} names no segment")
    try:
        resume = decode_page_token(start, values_store.VALUES_PAGE_KEYS)
    except ValidationFailed as error:
        raise PoisonMessage(f"bad expansion token: {error}") from error
    found = member_page(segment.rules, now, EXPANSION_PAGE, resume)
    added = store.add_recipients(campaign_id, found.customer_ids)
    queue = work_queue()
    queue.send([deliver_message(campaign_id, member) for member in found.customer_ids])
    more = encode_page_token(found.resume)
    if more is not None:
        queue.send([expand_message(campaign_id, page + 1, more)])
    store.finish_page(campaign_id, page, last=more is None)
    logger.info(
        "campaign page expanded",
        extra={"campaign_id": campaign_id, "page": page, "added": len(added), "last": not more},
    )
    return Result.EXPANDED


def deliver(campaign_id: Any, customer_id: Any, *, now: int) -> Result:
    """The member's turn: each chosen channel sent (with consent) or skipped, counted once."""
    campaign = _campaign(campaign_id)
    campaign_id = campaign.campaign_id
    recipient = (
        store.load_recipient(campaign_id, customer_id) if isinstance(customer_id, str) else None
    )
    if recipient is None:
        raise PoisonMessage(f"{customer_id!r} is no recipient of campaign {campaign_id}")
    if recipient.done:
        return Result.DUPLICATE
    message = CampaignMessage(campaign.campaign_id, campaign.subject, campaign.body)
    channels = [Channel(c) for c in campaign.channels]
    outcomes = send_to_member(message, recipient.customer_id, channels)
    counted = store.finish_recipient(
        campaign_id,
        recipient.customer_id,
        {channel.value: outcome for channel, outcome in outcomes.items()},
        now=now,
    )
    if not counted:
        return Result.DUPLICATE
    metrics.add_metric(name=DELIVERED_METRIC, unit=MetricUnit.Count, value=1)
    return Result.DELIVERED


def handle_body(body: str | None) -> Result:
    """One message of the campaigns queue; ``PoisonMessage`` when no retry can help it."""
    try:
        raw = json.loads(body or "")
    except (TypeError, ValueError):
        raise PoisonMessage("the message body is not JSON") from None
    if not isinstance(raw, dict):
        raise PoisonMessage("the message body is not a JSON object")
    now = clock.now()
    kind = raw.get("kind")
    if kind == "expand":
        page, start = raw.get("page"), raw.get("start")
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise PoisonMessage("an expansion needs its page number")
        if start is not None and not isinstance(start, str):
            raise PoisonMessage("an expansion's start is a page token")
        return expand(raw.get("campaign_id"), page, start, now=now)
    if kind == "deliver":
        return deliver(raw.get("campaign_id"), raw.get("customer_id"), now=now)
    raise PoisonMessage(f"unknown kind of campaign work {kind!r}")


def _queue_url() -> str:
    return get_settings().campaigns_queue_url


def _dlq_url() -> str | None:
    return get_settings().campaigns_dlq_url or None


#: The campaigns queue: failed work comes back with backoff; poison goes to the DLQ at once.
POLICY: Final = QueuePolicy(
    retry_metric="CampaignWorkRetried",
    poison_metric="CampaignWorkPoison",
    queue_url=_queue_url,
    backoff=True,
    deadline_margin_ms=3000,
    dead_letter_at_once=(PoisonMessage,),
    dlq_url=_dlq_url,
    dead_lettered_metric="CampaignWorkDeadLettered",
    dead_lettered_result=Result.DEAD_LETTERED.value,
)
