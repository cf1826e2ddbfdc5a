"""The sweeper: find expired holds through the holds index and release each exactly once.

Runs on a schedule. Every bucket of the index is read for holds with ``expires_at <= now``;
each is released by its own conditional transaction (``commerce.store.holds.release_expired``),
which can succeed only once: two sweeps racing, or a sweep racing the customer's own change or a
checkout, leave exactly one winner and the losers skip the hold. A run stops before its time
is up and leaves the rest to the next run; nothing is lost by stopping anywhere. Each SKU
that got units back has its low-stock flag re-evaluated once, after the releases, so a SKU that
recovers above safety stock is ready to alert on its next fall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from commerce.catalog.low_stock import check_low_stock
from commerce.clock import now_iso
from commerce.errors import TooManyRequests
from commerce.observability import logger
from commerce.store import holds, keys

#: Stop taking new holds when less than this much of the invocation is left.
SAFETY_MARGIN_MS: Final = 5_000


@dataclass
class SweepReport:
    """What one run did: holds released, holds skipped (someone else got there), and whether
    it stopped early for lack of time."""

    released: int = 0
    skipped: int = 0
    stopped_early: bool = False
    #: SKUs that got units back in this run (their low-stock flag is re-checked once each).
    skus: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "released": self.released,
            "skipped": self.skipped,
            "stopped_early": self.stopped_early,
        }


def _stopped(report: SweepReport) -> SweepReport:
    report.stopped_early = True
    logger.info(
        "sweep stopped before the time limit; the next run continues", extra=report.as_dict()
    )
    return report


def sweep(
    now: int,
    remaining_ms: Callable[[], int],
    *,
    margin_ms: int = SAFETY_MARGIN_MS,
    page_size: int = 100,
) -> SweepReport:
    """Release every hold that expired at or before ``now``, while time remains."""
    report = _release_all(now, remaining_ms, margin_ms, page_size)
    for sku in sorted(report.skus):
        check_low_stock(sku)  # never raises; outside every release's transaction
    return report


def _release_all(
    now: int, remaining_ms: Callable[[], int], margin_ms: int, page_size: int
) -> SweepReport:
    report = SweepReport()
    at = now_iso()
    for bucket in range(keys.HOLD_BUCKETS):
        if remaining_ms() < margin_ms:
            return _stopped(report)
        for hold in holds.expired_holds(bucket, now, page_size=page_size):
            if remaining_ms() < margin_ms:
                return _stopped(report)
            try:
                released = holds.release_expired(hold, now, at)
            except TooManyRequests:
                released = False  # contended: the next run sees it again if it is still held
            if released:
                report.released += 1
                report.skus.add(hold.line.sku)
            else:
                report.skipped += 1
    return report
