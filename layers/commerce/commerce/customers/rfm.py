"""A customer's RFM as support and the customer's export show it (docs/analytics.md, "RFM").

The values come from the order stream's consumer (``store/analytics.py``); the scores and the
segment are computed at the moment of asking with the thresholds in force (``RFM_THRESHOLDS``),
so recency ages without a write.
"""

from __future__ import annotations

from functools import lru_cache

from commerce.domain.rfm import Rfm, Thresholds, parse_thresholds, rfm
from commerce.settings import get_settings
from commerce.store import analytics as analytics_store


@lru_cache(maxsize=1)
def rfm_thresholds() -> Thresholds:
    """The thresholds in force: ``RFM_THRESHOLDS`` when set, else the documented defaults."""
    return parse_thresholds(get_settings().rfm_thresholds)


def rfm_of(customer_id: str, now: int) -> Rfm:
    """The customer's RFM at ``now`` (segment ``none`` before their first paid order)."""
    return rfm(analytics_store.customer_value(customer_id), now, rfm_thresholds())


def rfm_record(customer_id: str, now: int) -> dict[str, object]:
    """The RFM as API.md shows it: recency in days, frequency, monetary, segment, scores."""
    value = rfm_of(customer_id, now)
    scores = value.scores
    return {
        "recency_days": value.recency_days,
        "frequency": value.frequency,
        "monetary": value.monetary.to_dict(),
        "segment": value.segment,
        "scores": (
            {"recency": scores.recency, "frequency": scores.frequency, "monetary": scores.monetary}
            if scores is not None
            else None
        ),
    }
