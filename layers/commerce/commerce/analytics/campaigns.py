"""Campaigns: ``POST /admin/campaigns`` accepts one, ``GET`` shows its progress and results.

A request needs an ``Idempotency-Key``. The campaign's id is derived from the caller and the key
(``domain.campaigns.campaign_id_for``) and the campaign is created by a conditional put, so a
retried request finds the campaign it made instead of making another: the same body is answered
as the first time, another body is 422 ``idempotency-key-reuse``. The first page of the segment
is queued after the campaign is stored (``campaign_work``); a retry after a failed send queues
it again (``queued`` says whether that is still owed), and the consumer drops a page it has
expanded already.

A campaign to a segment that does not exist is 404 and stores nothing.
"""

from __future__ import annotations

from typing import Any

from commerce import clock
from commerce.analytics import campaign_work
from commerce.analytics.schemas import (
    CampaignAcceptedOut,
    CampaignIn,
    CampaignOut,
    CampaignPageOut,
)
from commerce.analytics.segments import is_id, list_start
from commerce.analytics.segments import load as load_segment
from commerce.domain.campaigns import (
    CampaignStatus,
    campaign_id_for,
    ordered_channels,
    request_digest,
    status,
)
from commerce.domain.consent import Channel
from commerce.domain.money import Money
from commerce.errors import IdempotencyKeyReuse, NotFound
from commerce.http.auth import Caller
from commerce.http.pagination import encode_page_token, page_size
from commerce.http.schemas import money_out
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import campaigns as store
from commerce.store import keys
from commerce.store.campaigns import StoredCampaign


def campaign_status(campaign: StoredCampaign) -> CampaignStatus:
    counts = campaign.counts
    return status(expanded=campaign.expanded, recipients=counts.recipients, done=counts.done)


def campaign_out(campaign: StoredCampaign) -> CampaignOut:
    counts = campaign.counts
    return CampaignOut(
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        segment_id=campaign.segment_id,
        channels=list(campaign.channels),
        status=campaign_status(campaign),
        recipients=counts.recipients,
        sent=counts.sent,
        skipped=counts.skipped,
        orders=counts.orders,
        revenue=money_out(Money(counts.revenue)),
        created_at=campaign.created_at,
    )


def create_campaign(body: CampaignIn, caller: Caller, idempotency_key: str) -> CampaignAcceptedOut:
    load_segment(body.segment_id)  # 404 before anything is stored
    request: dict[str, Any] = body.model_dump(mode="json")
    wanted = StoredCampaign(
        campaign_id=campaign_id_for(caller.actor(), idempotency_key),
        name=body.name,
        segment_id=body.segment_id,
        channels=tuple(c.value for c in ordered_channels([Channel(c) for c in body.channels])),
        subject=body.subject,
        body=body.body,
        request_digest=request_digest(request),
        created_at=clock.now_iso(),
        created_by=caller.actor(),
    )
    campaign = store.create_campaign(wanted)
    if campaign.request_digest != wanted.request_digest:
        raise IdempotencyKeyReuse("This Idempotency-Key was used with a different request body")
    if not campaign.queued:
        campaign_work.work_queue().send(
            [campaign_work.expand_message(campaign.campaign_id, 0, None)]
        )
        store.mark_queued(campaign.campaign_id)
        logger.info(
            "campaign accepted",
            extra={
                "campaign_id": campaign.campaign_id,
                "segment_id": body.segment_id,
                "by": caller.sub,
            },
        )
    return CampaignAcceptedOut(
        campaign_id=campaign.campaign_id,
        status=campaign_status(campaign),
    )


def get_campaign(campaign_id: str) -> CampaignOut:
    found = store.load_campaign(campaign_id) if is_id(campaign_id) else None
    if found is None:
        raise NotFound("No such campaign")
    return campaign_out(found)


def list_campaigns(limit: int | None, next_token: str | None) -> CampaignPageOut:
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    found, last = store.campaigns_page(size, list_start(next_token, keys.CAMPAIGNS_GSI1PK))
    return CampaignPageOut(
        items=[campaign_out(c) for c in found], next_token=encode_page_token(last)
    )
