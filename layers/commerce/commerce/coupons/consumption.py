"""Coupons and points at checkout, and giving them back when the order fails or is cancelled.

The coupons are this package's; the member tier and the points are loyalty's
(``loyalty.tiers``, ``loyalty.points``), called from here so the checkout has one plan of perks.

At checkout (``prepare``, then ``add_to_checkout`` inside the one checkout transaction):

- each coupon in the cart is read fresh and checked again (``check_applicable``: active, window,
  limits, minimum, stacking); then one use is consumed by a conditional update (``uses_total <
  usage_limit``, active, in its window; the customer's count below ``per_customer_limit``);
- the member tier's discount is applied after the coupons;
- ``redeem_points`` is planned on the totals before points (``loyalty.points.redemption``) and
  debited by a conditional update (``balance >= points``) with a ``redeemed`` ledger entry;
- the order's perks record (``sk=PERKS``) notes the codes and points, for giving them back.

A failed condition cancels the whole transaction, so nothing is consumed; ``explain`` turns it
into 422 ``coupon-invalid`` (exhausted, customer_limit, ...) or 409 (points).

``return_perks`` is called by the cancel and payment-failure moves, in their transaction: each use
is decremented (never below zero) and the points restored with a ``restored`` entry, once per
order (conditioned on the perks record not yet having ``given_back_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commerce.clock import now_iso
from commerce.domain.coupons import Coupon, check_applicable, to_discounts
from commerce.domain.pricing import (
    DEFAULT_SHIPPING,
    Discount,
    PriceLine,
    ShippingRule,
    Totals,
    price,
)
from commerce.errors import CommerceError
from commerce.loyalty import points
from commerce.loyalty.tiers import member_discounts
from commerce.store import coupons as store
from commerce.store.coupons import COUPON_LABEL_PREFIX, COUPON_USE_LABEL_PREFIX, OrderPerks
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import StoredOrder
from commerce.store.transactions import Failure, LabelledTransaction


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
    lines: Sequence[PriceLine],
    codes: Sequence[str],
    sub: str | None,
    redeem: int,
    now: int,
    shipping: ShippingRule = DEFAULT_SHIPPING,
) -> CheckoutPerks:
    """Check the cart's coupons again and plan the points: the totals the order will carry,
    ``shipping`` being the rule of the zone the cart's address ships in.

    Raises 422 ``coupon-invalid`` for a coupon no longer applicable, 400 for points from a
    guest, 409 ``conflict`` for more points than the balance.
    """
    plain = price(lines).totals
    coupons = _checked_coupons(codes, plain, sub, now)
    discounts: list[Discount] = list(to_discounts(coupons, plain.subtotal))
    discounts.extend(member_discounts(sub, now))
    before = price(lines, shipping, discounts).totals
    quote = price(lines, shipping, discounts, points.redemption(sub, redeem, before))
    return CheckoutPerks(tuple(coupons), quote.totals, quote.points_used, redeem)


def add_to_checkout(
    tx: LabelledTransaction, perks: CheckoutPerks, order_id: str, sub: str | None, now: int
) -> None:
    """Add to the checkout transaction: the coupon uses, the points debit, the perks record."""
    if not perks.any:
        return
    for coupon in perks.coupons:
        store.consume(tx, coupon, sub, now)
    points.debit(tx, sub, order_id, perks.points, now)
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
    short = points.insufficient(failed, perks.requested_points, sub)
    if short is not None:
        return short
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


def return_perks(tx: LabelledTransaction, stored: StoredOrder, now: int) -> None:
    """Add to ``tx`` (a cancel or payment-failure move of ``stored``): the order's coupon uses
    and redeemed points back, once. Nothing when the order used neither."""
    perks = store.load_perks(stored.order_id)
    if perks is None or perks.given_back_at is not None:
        return
    sub = points.customer_of(stored)
    for code in perks.coupons:
        store.return_use(tx, code, sub, code in perks.per_customer)
    points.restore(tx, sub, stored.order_id, perks.points_used, now)
    store.mark_given_back(tx, stored.order_id, at=now_iso())
