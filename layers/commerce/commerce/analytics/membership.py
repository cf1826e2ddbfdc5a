"""The members walk a segment's rules make: the customer-values index, bucket by bucket.

It never scans a table: it walks gsi1 of the Analytics table (one partition per bucket, sorted
by last paid order), reading only the last-order range the recency rules allow, and checks the
other rules on each candidate; the member tier, which costs a read of the customer's orders, is
asked last. A walk reads at most ``READ_BUDGET`` index entries, so a page may come back short
with a resume key while more of the index is left.

Both ``GET /admin/segments/{id}/members`` (``segments.members``) and the campaigns queue's
expansion (``campaign_queue``) walk it; it sits apart from the routes' module so the queue
consumer loads no HTTP schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

from commerce.customers.rfm import rfm_thresholds
from commerce.domain.segments import Rules, Window, matches, recency_window
from commerce.errors import FieldError, ValidationFailed
from commerce.loyalty.tiers import member_tier
from commerce.store import analytics as values_store
from commerce.store import keys

#: Index entries one walk reads at most; a tier check counts as ``TIER_COST``.
READ_BUDGET: Final = 500
TIER_COST: Final = 5
_INDEX_PAGE: Final = 100


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
