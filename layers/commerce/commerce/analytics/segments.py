"""Segments: ops name a group of customers by rules; its members are read from an index.

``POST /admin/segments`` checks the rules (``domain.segments.check``: unknown tiers or RFM
segments, empty choices, recency rules that exclude each other are 400s) and stores them.
``GET /admin/segments/{id}/members`` never scans a table: it walks the customer-values index
(gsi1 of the Analytics table, one partition per bucket, sorted by last paid order), reading
only the last-order range the recency rules allow, and checks the other rules on each
candidate; the member tier, which costs a read of the customer's orders, is asked last. A
request reads at most ``READ_BUDGET`` index entries, so a page may come back short with a
``next_token`` while more of the index is left: the token resumes after the last one read.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

from commerce import clock
from commerce.analytics.schemas import (
    MemberOut,
    MemberPageOut,
    SegmentIn,
    SegmentOut,
    SegmentPageOut,
)
from commerce.customers.rfm import rfm_thresholds
from commerce.domain.money import Money
from commerce.domain.segments import Rules, Window, check, matches, recency_window
from commerce.errors import FieldError, NotFound, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.loyalty.tiers import member_tier, tier_table
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import analytics as values_store
from commerce.store import campaigns as store
from commerce.store import keys
from commerce.store.campaigns import StoredSegment

#: Index entries one members request reads at most; a tier check counts as ``TIER_COST``.
READ_BUDGET: Final = 500
TIER_COST: Final = 5
_INDEX_PAGE: Final = 100
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


# --- Members -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MembersPage:
    """Members found, and where the index walk stopped (None: at its end)."""

    customer_ids: list[str]
    resume: dict[str, Any] | None


def _start_bucket(start: dict[str, Any] | None) -> int:
    if start is None:
        return 0
    bucket = keys.values_bucket_of(str(start["gsi1pk"]["S"]))
    if bucket is None:
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    return bucket


def _candidates(
    rules: Rules, now: int, start: dict[str, Any] | None
) -> Iterator[values_store.ValuedCustomer]:
    window = recency_window(rules, now)
    first = _start_bucket(start)
    for bucket in range(first, keys.VALUE_BUCKETS):
        resume = _within(start, window) if bucket == first else None
        if resume is _BUCKET_DONE:
            continue
        yield from values_store.customer_values(bucket, window, resume, _INDEX_PAGE)


#: A resume key past the window's end: nothing more of that bucket is read.
_BUCKET_DONE: Final[dict[str, Any]] = {}


def _within(start: dict[str, Any] | None, window: Window) -> dict[str, Any] | None:
    """The resume key, if the recency window (which moves with time between two pages) still
    holds it: a key before the window starts its bucket at the window, one past its end ends
    the bucket. DynamoDB refuses a start key outside the key condition."""
    if start is None:
        return None
    sort_key = str(start["gsi1sk"]["S"])
    if window.since is not None and sort_key < keys.epoch_sk(window.since, ""):
        return None
    if window.before is not None and sort_key >= keys.epoch_sk(window.before, ""):
        return _BUCKET_DONE
    return start


def member_page(
    rules: Rules,
    now: int,
    limit: int,
    start: dict[str, Any] | None = None,
    *,
    budget: int = READ_BUDGET,
) -> MembersPage:
    """Up to ``limit`` members after ``start``, reading at most ``budget`` index entries."""
    thresholds = rfm_thresholds()
    without_tier = replace(rules, tiers=None)
    found: list[str] = []
    spent = 0
    for candidate in _candidates(rules, now, start):
        spent += 1
        if matches(without_tier, candidate.value, now, thresholds):
            tiered = rules.tiers is None
            if not tiered:
                spent += TIER_COST
                tiered = member_tier(candidate.customer_id, now).name in (rules.tiers or ())
            if tiered:
                found.append(candidate.customer_id)
        if len(found) >= limit or spent >= budget:
            return MembersPage(found, candidate.key)
    return MembersPage(found, None)


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
