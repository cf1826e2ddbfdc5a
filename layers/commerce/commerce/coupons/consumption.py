"""Coupons and points at checkout, and giving them back when the order fails or is cancelled.

At checkout (``prepare``, then ``add_to_checkout`` inside the one checkout transaction):

- each coupon in the cart is read fresh and checked again (``check_applicable``: active, window,
  limits, minimum, stacking); then one use is consumed by a conditional update (``uses_total <
  usage_limit``, active, in its window; the customer's count below ``per_customer_limit``);
- the member tier's discount is applied after the coupons;
- ``redeem_points`` is planned on the totals before points (``points.plan_redemption``) and
  debited by a conditional update (``balance >= points``) with a ``redeemed`` ledger entry;
- the order's perks record (``sk=PERKS``) notes the codes and points, for giving them back.

A failed condition cancels the whole transaction, so nothing is consumed; ``explain`` turns it
into 422 ``coupon-invalid`` (exhausted, customer_limit, ...) or 409 (points).

``give_back`` is called by the cancel and payment-failure moves, in their transaction: each use
is decremented (never below zero) and the points restored with a ``restored`` entry, once per
order (conditioned on the perks record not yet having ``given_back_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from commerce.clock import now_iso
from commerce.coupons.applying import member_discount
from commerce.domain.coupons import Coupon, check_applicable, to_discounts
from commerce.domain.money import Money
from commerce.domain.points import (
    InsufficientPoints,
    earn_entry,
    plan_redemption,
    points_earned,
    redeem_entry,
    restore_entry,
    reversal_due,
    reversal_entry,
)
from commerce.domain.pricing import Discount, PriceLine, Totals, price
from commerce.domain.privacy import ERASED_OWNER
from commerce.errors import CommerceError
from commerce.store import coupons as store
from commerce.store import kit
from commerce.store import orders as order_store
from commerce.store import points as points_store
from commerce.store.coupons import COUPON_LABEL_PREFIX, COUPON_USE_LABEL_PREFIX, OrderPerks
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import REVERSAL_LABEL, PendingReversal, StoredOrder
from commerce.store.transactions import Failure, LabelledTransaction

#: Reversals decided again when a concurrent change moved the balance they were decided on.
_REVERSAL_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class CheckoutPerks:
    """What one checkout attempt will consume, and the order's totals with it all applied."""

    coupons: tuple[Coupon, ...]
    totals: Totals
    points: int
    requested_points: int

    @property
    def any(self) -> bool:
        return bool(self.coupons or self.points)


def _checked_coupons(
    codes: Sequence[str], subtotal: Totals, sub: str | None, now: int
) -> list[Coupon]:
    found = store.load_many(codes)
    accepted: list[Coupon] = []
    for code in codes:
        stored = found.get(code)
        uses = 0
        if stored is not None and stored.coupon.per_customer_limit is not None:
            uses = store.uses_by(code, sub)
        rejection = check_applicable(
            stored.coupon if stored else None,
            subtotal.subtotal,
            now,
            stored.uses_total if stored else 0,
            uses,
            sub,
            code=code,
            alongside=accepted,
        )
        if rejection is not None:
            raise rejection.to_error()
        assert stored is not None
        accepted.append(stored.coupon)
    return accepted


def prepare(
    lines: Sequence[PriceLine], codes: Sequence[str], sub: str | None, redeem: int, now: int
) -> CheckoutPerks:
    """Check the cart's coupons again and plan the points: the totals the order will carry.

    Raises 422 ``coupon-invalid`` for a coupon no longer applicable, 400 for points from a
    guest, 409 ``conflict`` for more points than the balance.
    """
    plain = price(lines).totals
    coupons = _checked_coupons(codes, plain, sub, now)
    discounts: list[Discount] = list(to_discounts(coupons, plain.subtotal))
    tier = member_discount(sub, now)
    if tier is not None:
        discounts.append(tier)
    before = price(lines, discounts=discounts).totals
    balance = points_store.balance_of(sub) if redeem and sub is not None else 0
    plan = plan_redemption(balance, redeem, before, signed_in=sub is not None)
    quote = price(lines, discounts=discounts, points=plan.request)
    return CheckoutPerks(tuple(coupons), quote.totals, quote.points_used, redeem)


def add_to_checkout(
    tx: LabelledTransaction, perks: CheckoutPerks, order_id: str, sub: str | None, now: int
) -> None:
    """Add to the checkout transaction: the coupon uses, the points debit, the perks record."""
    if not perks.any:
        return
    for coupon in perks.coupons:
        store.consume(tx, coupon, sub, now)
    entry = redeem_entry(order_id, perks.points, now)
    if entry is not None and sub is not None:
        points_store.record(tx, sub, entry)
    per_customer = tuple(
        c.code for c in perks.coupons if c.per_customer_limit is not None and sub is not None
    )
    record = OrderPerks(order_id, tuple(c.code for c in perks.coupons), per_customer, perks.points)
    store.put_perks(tx, record, at=now_iso())


def explain(
    failures: Sequence[Failure], perks: CheckoutPerks, sub: str | None, now: int, subtotal: Totals
) -> CommerceError | None:
    """The problem behind a cancelled checkout when a coupon or the points refused it; None
    when something else did (the caller retries on a fresh read)."""
    failed = {f.label for f in failures if f.code == CONDITION_FAILED}
    if points_store.BALANCE_LABEL in failed and sub is not None:
        return InsufficientPoints(perks.requested_points, points_store.balance_of(sub))
    codes = [
        c.code
        for c in perks.coupons
        if f"{COUPON_LABEL_PREFIX}{c.code}" in failed
        or f"{COUPON_USE_LABEL_PREFIX}{c.code}" in failed
    ]
    if not codes:
        return None
    try:
        _checked_coupons([c.code for c in perks.coupons], subtotal, sub, now)
    except CommerceError as error:
        return error
    return None


# --- Giving back (cancel, payment failure) ---------------------------------------------------


def _customer(stored: StoredOrder) -> str | None:
    """The order's customer; None for a guest's order and for an erased customer's (whose
    counters and points are gone; erasure waits for their open orders, so this is defence)."""
    owner = stored.order.owner
    return None if owner in (None, ERASED_OWNER) else owner


def give_back(tx: LabelledTransaction, stored: StoredOrder, now: int) -> None:
    """Add to ``tx`` (a cancel or payment-failure move of ``stored``): the order's coupon uses
    and redeemed points back, once. Nothing when the order used neither."""
    perks = store.load_perks(stored.order_id)
    if perks is None or perks.given_back_at is not None:
        return
    sub = _customer(stored)
    for code in perks.coupons:
        store.give_back(tx, code, sub, code in perks.per_customer)
    entry = restore_entry(stored.order_id, perks.points_used, now)
    if entry is not None and sub is not None:
        points_store.record(tx, sub, entry)
    store.mark_given_back(tx, stored.order_id, at=now_iso())


# --- Earning on delivery ----------------------------------------------------------------------


def earn_on_delivery(stored: StoredOrder) -> None:
    """Credit the points a delivered order earns (one ``earned`` entry per order; a replayed
    delivery writes nothing more). Guests earn nothing."""
    order, sub = stored.order, _customer(stored)
    delivered = order.delivered_at
    if sub is None or delivered is None:
        return
    entry = earn_entry(order.order_id, order.totals, delivered)
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
    order, sub = stored.order, _customer(stored)
    if sub is None or order.delivered_at is None:
        return None
    before = Money(max(0, order.payment.refunded.amount - refunded_now.amount))
    due = reversal_due(points_earned(order.totals), before, refunded_now)
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
    order_id, sub = stored.order_id, _customer(stored)
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
