"""Catching up the points reversals that receiving a return left unwritten.

Receiving a return marks it, in the transaction that refunds it, as owing the points its refund
un-earns (``store.orders.PendingReversal``, on the return's sparse gsi2); the reversal written
right after clears the mark in its own transaction. If the function dies in between, or the
reversal keeps failing, the mark stays. :func:`reconcile_reversals`, run on the sweeper's
schedule, writes the reversal of every return marked for longer than
``CATCH_UP_AFTER_SECONDS``. Whoever gets there first writes it and clears the mark; the other
writer finds the mark gone and writes nothing, so each reversal is taken exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from commerce import clock
from commerce.loyalty.points import reverse_on_refund
from commerce.observability import logger
from commerce.store import orders as store

#: A return still marked this long after its receipt has its reversal written by the sweeper
#: (the request that received it normally wrote it milliseconds later).
CATCH_UP_AFTER_SECONDS: Final = 60


@dataclass
class ReversalReport:
    """What one run did: reversals written (or forgiven), and those that failed again."""

    settled: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"settled": self.settled, "failed": self.failed}


def _cutoff(now: int) -> str:
    return clock.iso_us(now - CATCH_UP_AFTER_SECONDS)


def reconcile_reversals(now: int) -> ReversalReport:
    """Write the points reversal of every return received over a minute before ``now``
    (epoch seconds) and still marked as owing it. One failure is logged and left for the
    next run; it does not stop the others."""
    report = ReversalReport()
    for received in store.pending_reversals(_cutoff(now)):
        return_id = received.value.return_id
        try:
            stored = store.load_order(received.order_id)
            if stored is None:
                raise LookupError("the order of a received return is missing")
            if reverse_on_refund(stored, return_id, received.reversal):
                report.settled += 1
        except Exception:  # one stuck reversal must not hold back the rest
            logger.exception(
                "points reversal not caught up",
                extra={"order_id": received.order_id, "return_id": return_id},
            )
            report.failed += 1
    if report.settled or report.failed:
        logger.info("points reversals caught up", extra=report.as_dict())
    return report
