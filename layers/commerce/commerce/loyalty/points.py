"""Points over the ledger: redeemed at checkout, given back, earned on delivery, reversed.

- At checkout, ``redemption`` plans the points on the totals before points
  (``domain.points.plan_redemption``: 400 for a guest, 409 for more than the balance) and
  ``debit`` adds the ``redeemed`` entry to the checkout transaction, conditioned on the balance
  (``balance >= points``); ``insufficient`` names the 409 when that condition refused it.
- A cancel or payment-failure move adds ``restore`` (a ``restored`` entry) to its transaction.
- ``earn_on_delivery`` credits a delivered order once; ``reversal_owed`` and
  ``reverse_on_refund`` take back what a refund un-earns, exactly once.

Guests' and erased customers' orders touch no ledger (``customer_of``).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Final

from commerce.domain.money import Money
from commerce.domain.points import (
    DEFAULT_POLICY,
    InsufficientPoints,
    PointsPolicy,
    earn_entry,
    parse_policy,
    plan_redemption,
    points_earned,
    redeem_entry,
    restore_entry,
    reversal_due,
    reversal_entry,
)
from commerce.domain.pricing import PointsRedemption, Totals
from commerce.domain.privacy import ERASED_OWNER
from commerce.settings import get_settings
from commerce.store import kit
from commerce.store import orders as order_store
from commerce.store import points as points_store
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import REVERSAL_LABEL, PendingReversal, StoredOrder
from commerce.store.transactions import LabelledTransaction

#: Reversals decided again when a concurrent change moved the balance they were decided on.
_REVERSAL_ATTEMPTS: Final = 3


@lru_cache(maxsize=1)
def points_policy() -> PointsPolicy:
    """The earning and redemption rates in force: ``POINTS_POLICY`` when set, else the
    documented defaults. A change applies to what is earned, redeemed or reversed after it."""
    spec = get_settings().points_policy
    return parse_policy(spec) if spec else DEFAULT_POLICY


def customer_of(stored: StoredOrder) -> str | None:
    """The order's customer; None for a guest's order and for an erased customer's (whose
    counters and points are gone; erasure waits for their open orders, so this is defence)."""
    owner = stored.order.owner
    return None if owner in (None, ERASED_OWNER) else owner


# --- Redeeming at checkout, giving back -------------------------------------------------------


def redemption(sub: str | None, requested: int, before: Totals) -> PointsRedemption | None:
    """The points request ``pricing.price`` redeems for ``requested`` on ``before`` (the totals
    before points): the balance is read only when points are asked for."""
    balance = points_store.balance_of(sub) if requested and sub is not None else 0
    policy = points_policy()
    return plan_redemption(balance, requested, before, policy, signed_in=sub is not None).request


def debit(tx: LabelledTransaction, sub: str | None, order_id: str, points: int, now: int) -> None:
    """Add the checkout's ``redeemed`` entry (nothing for no points or a guest)."""
    entry = redeem_entry(order_id, points, now)
    if entry is not None and sub is not None:
        points_store.record(tx, sub, entry)


def insufficient(
    failed_labels: Collection[str], requested: int, sub: str | None
) -> InsufficientPoints | None:
    """The 409 behind a cancelled checkout when the balance condition refused it, else None."""
    if points_store.BALANCE_LABEL in failed_labels and sub is not None:
        return InsufficientPoints(requested, points_store.balance_of(sub))
    return None


def restore(tx: LabelledTransaction, sub: str | None, order_id: str, points: int, now: int) -> None:
    """Add the ``restored`` entry giving back an order's redeemed points (nothing for none)."""
    entry = restore_entry(order_id, points, now)
    if entry is not None and sub is not None:
        points_store.record(tx, sub, entry)


# --- Earning on delivery ----------------------------------------------------------------------


def earn_on_delivery(stored: StoredOrder) -> None:
    """Credit the points a delivered order earns (one ``earned`` entry per order; a replayed
    delivery writes nothing more). Guests earn nothing."""
    order, sub = stored.order, customer_of(stored)
    delivered = order.delivered_at
    if sub is None or delivered is None:
        return
    entry = earn_entry(order.order_id, order.totals, delivered, points_policy())
    if entry is not None:
        points_store.record_once(sub, entry)


# --- Reversing on refund ----------------------------------------------------------------------


def reversal_owed(stored: StoredOrder, refunded_now: Money, at: int) -> PendingReversal | None:
    """What receiving a return that refunds ``refunded_now`` takes back, decided once, at the
    receipt, to be kept on the return until written (None when nothing: a guest's order, or
    a refund too small to un-earn a point).

    ``stored`` is the order with this refund already counted in ``payment.refunded``, as the
    receipt writes it: the order's refunds together take back what their sum would have
    earned, never more than it earned (``points.reversal_due``). Decided here rather than when
    the reversal is written, because by then the order may have moved on (another return
    requested or refunded) and "refunded before this return" could no longer be read off it.
    ``at`` (the receipt's time) is the ledger entry's time.
    """
    order, sub = stored.order, customer_of(stored)
    if sub is None or order.delivered_at is None:
        return None
    before = Money(max(0, order.payment.refunded.amount - refunded_now.amount))
    policy = points_policy()
    due = reversal_due(points_earned(order.totals, policy), before, refunded_now, policy)
    return PendingReversal(due, at) if due else None


def reverse_on_refund(stored: StoredOrder, return_id: str, pending: PendingReversal | None) -> bool:
    """Take back the points return ``return_id`` owes (``pending``, from ``reversal_owed`` and
    kept on the return), exactly once; True when this call settled it.

    One transaction writes the ``reversed`` entry with the balance and clears the return's
    mark, conditioned on the mark still being there: a second writer (a retried receipt, the
    sweeper) finds it gone and writes nothing. The entry takes at most the balance at that
    moment and forgives the rest (``reversal_entry``); a balance that moved between the read
    and the write is read again. An erased customer's mark is cleared without an entry.
    """
    if pending is None:
        return False
    order_id, sub = stored.order_id, customer_of(stored)
    entry_written = False

    def attempt(_: int) -> bool | kit.Retry:
        nonlocal entry_written
        entry = None
        if sub is not None and not entry_written:
            balance = points_store.balance_of(sub)
            entry = reversal_entry(order_id, return_id, pending.points, balance, pending.at)
        tx = LabelledTransaction()
        if entry is not None and sub is not None:
            points_store.record(tx, sub, entry)
        order_store.clear_reversal(tx, order_id, return_id)
        failures = tx.commit()
        if not failures:
            return True
        failed = {f.label for f in failures if f.code == CONDITION_FAILED}
        if REVERSAL_LABEL in failed:
            return False  # already settled
        if points_store.ENTRY_LABEL in failed:
            entry_written = True  # this very entry is in the ledger: only the mark is left
        elif points_store.BALANCE_LABEL not in failed:
            raise RuntimeError(f"points reversal refused: {[(f.label, f.code) for f in failures]}")
        return kit.RETRY

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: RuntimeError(f"points reversal of {order_id} kept racing"),
        attempts=_REVERSAL_ATTEMPTS,
    )


def reverse_refund(stored: StoredOrder, refund_id: str, due: int, at: int) -> bool:
    """Take back the ``due`` points a refund outside a return un-earns (decided when the refund
    succeeded and kept on its record), once: the ledger entry's id names the refund, so a
    second writer finds it written. Takes at most the balance, as every reversal does."""
    sub = customer_of(stored)
    if sub is None or due <= 0:
        return False
    entry = reversal_entry(stored.order_id, refund_id, due, points_store.balance_of(sub), at)
    if entry is None:
        return False
    return points_store.record_once(sub, entry)


def refund_reversal_due(stored: StoredOrder, refunded_now: Money) -> int:
    """Points a refund of ``refunded_now`` un-earns; ``stored`` has it counted already."""
    return (reversal_owed(stored, refunded_now, 0) or PendingReversal(0, 0)).points
