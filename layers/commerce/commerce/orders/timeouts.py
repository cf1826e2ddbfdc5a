"""Unpaid orders: asked about at the provider, and cancelled when their payment time is up.

The sweeper runs ``sweep_unpaid`` every minute over the PENDING_PAYMENT partitions of the
status index (gsi3: by creation time, or by when next due once relisted). For each order
placed more than ``ASK_AFTER_SECONDS`` ago:

1. **Reconciliation.** The provider of the order's method is asked what became of its charge
   (``find_charge``: Stripe's PaymentIntent, Alipay's ``trade.query``, WeChat Pay's query; it
   never charges). Paid: the order is settled as the lost notification would have settled it
   (``settlement.approve``: PAID, stock deducted). Declined or closed: ``settlement.decline``.
   Not paid yet: the order is listed again further on (after as long again as it has waited,
   1 to 10 minutes, never past its deadline), so a provider is asked about each unpaid order a
   handful of times, not at every run. A provider that cannot answer now is asked next run.
2. **Timeout.** Not paid, and placed ``PAYMENT_TIMEOUT_SECONDS`` (default 1800) ago or more:
   the order is CANCELLED, its reservation released and its perks returned, in one write
   conditioned on it still being PENDING_PAYMENT at the version read.

Exactly once, whatever races it: the cancel and a payment notification are both moves of the
order conditioned on its version and status, so only one of them is written. If the
notification wins, the order is PAID and the cancel finds it no longer pending; if the cancel
wins, the approval that follows meets a CANCELLED order and refunds the charge
(``settlement.approve``), recorded in the order's ``refunds``: nobody keeps money for an order
they will not get. Alipay and WeChat Pay were also told the deadline when the payment began
(``time_expire``), so they close the unpaid trade themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce.domain.orders import Advance, OrderEvent, OrderStatus
from commerce.observability import logger, metrics
from commerce.orders import moves, settlement
from commerce.orders.book import Effects, OrderBook, order_book
from commerce.orders.charging import payment_deadline
from commerce.payments import factory
from commerce.payments.provider import ProviderError, charge_key
from commerce.settings import get_settings
from commerce.store.orders import StoredOrder

#: An unpaid order is first asked about at its provider this long after it was placed (or
#: after its payment timeout, if that is shorter).
ASK_AFTER_SECONDS: Final = 120
#: Between two questions about one unpaid order: its age so far, within these bounds (so about
#: 2, 4, 8, 16 minutes after it was placed, then at its deadline), whatever the sweep's rate.
MIN_WAIT_SECONDS: Final = 60
MAX_WAIT_SECONDS: Final = 600
#: Orders handled per run at most; the rest wait for the next minute.
MAX_PER_RUN: Final = 200


@dataclass
class UnpaidReport:
    """What one run did to unpaid orders."""

    reconciled: int = 0
    declined: int = 0
    expired: int = 0
    waiting: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "reconciled": self.reconciled,
            "declined": self.declined,
            "expired": self.expired,
            "waiting": self.waiting,
            "failed": self.failed,
        }


def _release(stored: StoredOrder, adv: Advance) -> Effects:
    del adv
    return Effects(release_stock=stored.reservation, return_perks=True)


def _still_pending(stored: StoredOrder) -> StoredOrder | None:
    return stored if stored.status is OrderStatus.PENDING_PAYMENT else None


def expire(stored: StoredOrder, now: int, book: OrderBook | None = None) -> bool:
    """Cancel an order whose payment time is up; False when it is no longer pending."""
    moved = moves.move_if_needed(
        stored.order_id,
        OrderEvent.CANCEL,
        effects=_release,
        prepare=_still_pending,
        first=stored,
        at=now,
        book=book,
    )
    return moved.written


def settle_or_expire(stored: StoredOrder, now: int, book: OrderBook | None = None) -> str:
    """Reconcile one unpaid order with its provider, or expire it: what was done."""
    order = stored.order
    provider = factory.provider_for(order.payment.method)
    charge = None
    if order.totals.total.amount > 0:
        charge = provider.find_charge(order.order_id, charge_key(order.order_id))
    if charge is not None and charge.approved:
        outcome = settlement.approve(
            stored, charge.charge_id, charge.amount, provider=provider, now=now, book=book
        )
        return "reconciled" if outcome.result is settlement.Result.PAID else "waiting"
    if charge is not None and not charge.awaiting_customer:
        outcome = settlement.decline(stored, charge.decline_code, now=now, book=book)
        return "declined" if outcome.result is settlement.Result.PAYMENT_FAILED else "waiting"
    deadline = payment_deadline(stored)
    if now >= deadline and expire(stored, now, book):
        return "expired"
    if now < deadline:
        # Ask again later: after as long again as the order has waited, or at its deadline.
        wait = min(max(now - order.created_at, MIN_WAIT_SECONDS), MAX_WAIT_SECONDS)
        (book or order_book()).relist(order.order_id, min(now + wait, deadline) - _ask_after())
    return "waiting"


def _ask_after() -> int:
    """The unpaid list is kept by listing time; an order listed at t is due at t + this."""
    return min(ASK_AFTER_SECONDS, get_settings().payment_timeout_seconds)


def sweep_unpaid(now: int, book: OrderBook | None = None) -> UnpaidReport:
    """One run over the orders still awaiting payment (``now``: epoch seconds)."""
    books = book or order_book()
    report = UnpaidReport()
    for count, stored in enumerate(books.unpaid(now - _ask_after() + 1)):
        if count >= MAX_PER_RUN:
            break
        if stored.status is not OrderStatus.PENDING_PAYMENT:
            continue  # the index lags the write that moved it on
        fresh = books.load(stored.order_id)
        if fresh is None or fresh.status is not OrderStatus.PENDING_PAYMENT:
            continue
        try:
            done = settle_or_expire(fresh, now, books)
        except ProviderError as error:
            report.failed += 1
            logger.warning(
                "unpaid order not reconciled; asked again next run",
                extra={"order_id": stored.order_id, "reason": error.reason},
            )
            continue
        except Exception:  # one order's failure must not stop the others' timeouts
            report.failed += 1
            logger.exception("unpaid order not swept", extra={"order_id": stored.order_id})
            continue
        setattr(report, done, getattr(report, done) + 1)
    metrics.add_metric(name="PaymentsTimedOut", unit=MetricUnit.Count, value=report.expired)
    metrics.add_metric(name="PaymentsReconciled", unit=MetricUnit.Count, value=report.reconciled)
    if report.reconciled or report.declined or report.expired or report.failed:
        logger.info("unpaid orders swept", extra=report.as_dict())
    return report
