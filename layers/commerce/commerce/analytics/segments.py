"""Segments: ops name a group of customers by rules; its members are read from an index.

``POST /admin/segments`` checks the rules (``domain.segments.check``: unknown tiers or RFM
segments, empty choices, recency rules that exclude each other are 400s) and stores them.
``GET /admin/segments/{id}/members`` walks the customer-values index (``membership``, which
never scans a table) and reads at most ``membership.READ_BUDGET`` index entries, so a page may
come back short with a ``next_token`` while more of the index is left: the token resumes after
the last one read.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final

from commerce import clock
from commerce.analytics.membership import member_page
from commerce.analytics.schemas import (
    MemberOut,
    MemberPageOut,
    SegmentIn,
    SegmentOut,
    SegmentPageOut,
)
from commerce.domain.money import Money
from commerce.domain.segments import Rules, check
from commerce.errors import FieldError, NotFound, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.loyalty.tiers import tier_table
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import analytics as values_store
from commerce.store import campaigns as store
from commerce.store import keys
from commerce.store.campaigns import StoredSegment

#: Segment and campaign ids are 32 hex digits; anything else names nothing (404 at once).
_ID: Final = re.compile(r"^[0-9a-f]{32}$")


def is_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def rules_from(body: SegmentIn) -> Rules:
    r = body.rules
    return Rules(
        min_orders=r.min_orders,
        min_spend=Money(r.min_spend.amount, r.min_spend.currency) if r.min_spend else None,
        last_order_within_days=r.last_order_within_days,
        no_order_within_days=r.no_order_within_days,
        tiers=tuple(r.tiers) if r.tiers is not None else None,
        rfm_segments=tuple(r.rfm_segments) if r.rfm_segments is not None else None,
    )


def segment_out(segment: StoredSegment) -> SegmentOut:
    return SegmentOut(
        segment_id=segment.segment_id,
        name=segment.name,
        rules=segment.rules.to_dict(),
        created_at=segment.created_at,
    )


def create_segment(body: SegmentIn, caller: Caller) -> SegmentOut:
    rules = rules_from(body)
    errors = check(rules, [tier.name for tier in tier_table().tiers])
    if errors:
        raise ValidationFailed(errors)
    segment = StoredSegment(
        segment_id=uuid.uuid4().hex,
        name=body.name,
        rules=rules,
        created_at=clock.now_iso(),
        created_by=caller.actor(),
    )
    store.create_segment(segment)
    logger.info("segment created", extra={"segment_id": segment.segment_id, "by": caller.sub})
    return segment_out(segment)


def load(segment_id: str) -> StoredSegment:
    found = store.load_segment(segment_id) if is_id(segment_id) else None
    if found is None:
        raise NotFound("No such segment")
    return found


def get_segment(segment_id: str) -> SegmentOut:
    return segment_out(load(segment_id))


def list_start(token: str | None, gsi1pk: str) -> dict[str, Any] | None:
    start = decode_page_token(token, store.LIST_PAGE_KEYS)
    if start is not None and start["gsi1pk"]["S"] != gsi1pk:
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    return start


def list_segments(limit: int | None, next_token: str | None) -> SegmentPageOut:
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    found, last = store.segments_page(size, list_start(next_token, keys.SEGMENTS_GSI1PK))
    return SegmentPageOut(items=[segment_out(s) for s in found], next_token=encode_page_token(last))


def members(segment_id: str, limit: int | None, next_token: str | None) -> MemberPageOut:
    segment = load(segment_id)
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start = decode_page_token(next_token, values_store.VALUES_PAGE_KEYS)
    page = member_page(segment.rules, clock.now(), size, start)
    return MemberPageOut(
        items=[MemberOut(customer_id=c) for c in page.customer_ids],
        next_token=encode_page_token(page.resume),
    )
