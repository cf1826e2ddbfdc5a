"""Loyalty points: how many an order earns, what a refund takes back, what a redemption may use.

A customer's points are a ledger: every change is an entry (earned on delivery, reversed on a
refund, redeemed at checkout, restored when that order is cancelled or its payment fails, or
adjusted by staff), and the balance is their sum. The balance never goes below zero: the store
debits with a conditional write (``points >= :debit``), and these rules never ask it to debit
more than the balance holds.

Redemption value and rounding come from ``pricing`` (``PointsRate``, ``PointsRedemption``): this
module only decides how many points a checkout may offer. docs/customers.md states the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from commerce.clock import iso
from commerce.domain.money import DEFAULT_CURRENCY, Money
from commerce.domain.pricing import (
    BASIS_POINTS,
    DEFAULT_POINTS_RATE,
    PointsRate,
    PointsRedemption,
    Totals,
)
from commerce.errors import Conflict, FieldError, ValidationFailed

#: One yuan, in fen: points are earned per whole yuan paid.
YUAN: Final = Money(100)
#: Points may pay at most half of what an order costs (merchandise after discounts + shipping).
DEFAULT_MAX_SHARE_BP: Final = 5_000


def _whole(value: object, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}")
    return value


@dataclass(frozen=True)
class PointsPolicy:
    """How points are earned and redeemed; the defaults are the documented rates.

    Earning: ``earn_points`` points for every whole ``earn_per`` of the order's ``total`` (what
    the customer paid in money, shipping included, points excluded), rounded down: 1 point per
    yuan by default. Redeeming: at ``rate`` (default 1 point = 1 fen, so 100 points = 1.00 CNY),
    for at most ``max_share_bp`` of the payable amount (default 50 %).
    """

    earn_points: int = 1
    earn_per: Money = YUAN
    rate: PointsRate = DEFAULT_POINTS_RATE
    max_share_bp: int = DEFAULT_MAX_SHARE_BP

    def __post_init__(self) -> None:
        _whole(self.earn_points, "earn_points")
        if self.earn_per.currency != DEFAULT_CURRENCY or self.earn_per.amount < 1:
            raise ValueError("earn_per must be at least one fen")
        if not 0 <= _whole(self.max_share_bp, "max_share_bp") <= BASIS_POINTS:
            raise ValueError(f"max_share_bp must be in 0..{BASIS_POINTS}")

    def points_for(self, paid: Money) -> int:
        """Points earned by paying ``paid``: whole ``earn_per`` units only."""
        return max(paid.amount, 0) // self.earn_per.amount * self.earn_points


DEFAULT_POLICY: Final = PointsPolicy()

#: The keys of the ``POINTS_POLICY`` setting, each a whole number; absent keys keep the default.
_POLICY_KEYS: Final = ("earn_points", "earn_per_fen", "redeem_points", "redeem_fen", "max_share_bp")
#: ``DEFAULT_POLICY`` as the setting writes it; the seed's "1 point = 1 yuan" is ``redeem_fen=100``.
DEFAULT_POLICY_SPEC: Final = (
    "earn_points=1,earn_per_fen=100,redeem_points=1,redeem_fen=1,max_share_bp=5000"
)


def parse_policy(spec: str) -> PointsPolicy:
    """The policy a ``POINTS_POLICY`` setting states: comma-separated ``key=whole number`` of
    ``earn_points`` (per ``earn_per_fen`` paid), ``redeem_points`` (worth ``redeem_fen``) and
    ``max_share_bp`` (of the payable amount). Empty: the defaults. ``ValueError`` for anything
    else, so a bad setting fails the cold start rather than a checkout."""
    values = {
        "earn_points": DEFAULT_POLICY.earn_points,
        "earn_per_fen": DEFAULT_POLICY.earn_per.amount,
        "redeem_points": DEFAULT_POLICY.rate.points,
        "redeem_fen": DEFAULT_POLICY.rate.value.amount,
        "max_share_bp": DEFAULT_POLICY.max_share_bp,
    }
    seen: set[str] = set()
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        key, sep, raw = (part.strip() for part in entry.partition("="))
        if not sep or key not in _POLICY_KEYS or key in seen or not raw.isdigit():
            raise ValueError(f"{entry!r} is not one of {', '.join(_POLICY_KEYS)} = whole number")
        seen.add(key)
        values[key] = int(raw)
    return PointsPolicy(
        earn_points=values["earn_points"],
        earn_per=Money(values["earn_per_fen"]),
        rate=PointsRate(values["redeem_points"], Money(values["redeem_fen"])),
        max_share_bp=values["max_share_bp"],
    )


# --- Earning and reversing ----------------------------------------------------------------------


def points_earned(totals: Totals, policy: PointsPolicy = DEFAULT_POLICY) -> int:
    """Points an order earns when it is delivered: per whole yuan of ``total`` (floor)."""
    return policy.points_for(totals.total)


def reversal_due(
    earned: int,
    refunded_before: Money,
    refunded_now: Money,
    policy: PointsPolicy = DEFAULT_POLICY,
) -> int:
    """Points a refund of ``refunded_now`` takes back, after ``refunded_before`` was refunded.

    The order's refunds together take back the points their sum would have earned (floor),
    never more than ``earned``: each refund takes the difference, so partial refunds add up to
    exactly what one refund of their sum would take, and a full refund takes back everything
    the order earned.
    """
    _whole(earned, "earned")
    before = min(earned, policy.points_for(refunded_before))
    after = min(earned, policy.points_for(refunded_before + refunded_now))
    return max(0, after - before)


# --- Redeeming ----------------------------------------------------------------------------------


class InsufficientPoints(Conflict):
    """A checkout asked for more points than the customer holds: 409 ``conflict``."""

    def __init__(self, requested: int, balance: int) -> None:
        super().__init__(
            f"Asked to redeem {requested} points but the balance is {balance}",
            balance=balance,
            requested=requested,
        )
        self.requested = requested
        self.balance = balance


@dataclass(frozen=True)
class RedemptionPlan:
    """What a checkout will redeem: ``points`` (to debit) worth ``value``, and the request to
    pass to ``pricing.price`` (which redeems exactly these points)."""

    points: int
    value: Money
    request: PointsRedemption | None


def payable(totals: Totals) -> Money:
    """What an order costs before points: merchandise after discounts plus shipping."""
    return totals.subtotal - totals.discount + totals.shipping


def plan_redemption(
    balance: int,
    requested: int,
    totals: Totals,
    policy: PointsPolicy = DEFAULT_POLICY,
    *,
    signed_in: bool = True,
) -> RedemptionPlan:
    """The points a checkout may redeem of ``requested`` (``redeem_points``), given ``balance``.

    ``totals`` are the order's totals before points. Asking for more than the balance is a 409
    (``InsufficientPoints``); a negative request, or any request from a guest, is a 400. Asking
    for more than the order allows is not an error: the plan redeems the most it allows (whole
    blocks of ``policy.rate``, at most ``policy.max_share_bp`` of the payable amount).
    """
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise ValidationFailed([FieldError("redeem_points", "must be a whole number >= 0")])
    if requested and not signed_in:
        raise ValidationFailed([FieldError("redeem_points", "sign in to redeem points")])
    if requested > balance:
        raise InsufficientPoints(requested, balance)
    if requested == 0:
        return RedemptionPlan(0, Money.zero(), None)
    offer = PointsRedemption(requested, policy.rate, policy.max_share_bp)
    points, value = offer.redeem(payable(totals).amount)
    if points == 0:
        return RedemptionPlan(0, Money.zero(), None)
    return RedemptionPlan(
        points, Money(value), PointsRedemption(points, policy.rate, policy.max_share_bp)
    )


# --- The ledger ---------------------------------------------------------------------------------


class PointsReason(StrEnum):
    """Why a customer's points changed; the value is the wire and stored form."""

    EARNED = "earned"  # order delivered, > 0
    REVERSED = "reversed"  # order (partly) refunded, < 0
    REDEEMED = "redeemed"  # paid with at checkout, < 0
    RESTORED = "restored"  # that order cancelled or its payment failed, > 0
    ADJUSTED = "adjusted"  # staff correction, either sign


_SIGN: Final = {
    PointsReason.EARNED: 1,
    PointsReason.REVERSED: -1,
    PointsReason.REDEEMED: -1,
    PointsReason.RESTORED: 1,
    PointsReason.ADJUSTED: 0,
}


class LedgerError(ValueError):
    """An entry no rule produces, or a sequence of entries that takes the balance below zero."""


@dataclass(frozen=True)
class LedgerEntry:
    """One change of a customer's points: ``delta`` for ``reason`` about ``order_id`` at ``at``.

    ``ref`` tells apart several entries of one reason on one order (a return id for each
    partial refund). ``key`` is unique per change, so a retried write of the same change is
    recognised (conditional put on the key).
    """

    delta: int
    reason: PointsReason
    order_id: str | None
    at: int
    ref: str | None = field(default=None)

    def __post_init__(self) -> None:
        if isinstance(self.delta, bool) or not isinstance(self.delta, int) or self.delta == 0:
            raise LedgerError("delta must be a non-zero whole number")
        sign = _SIGN[PointsReason(self.reason)]
        if sign * self.delta < 0:
            raise LedgerError(f"a {self.reason.value} entry cannot have delta {self.delta}")
        if self.reason is not PointsReason.ADJUSTED and not self.order_id:
            raise LedgerError(f"a {self.reason.value} entry names its order")

    @property
    def key(self) -> str:
        return "#".join((self.reason.value, self.order_id or "-", self.ref or "-"))

    def to_dict(self) -> dict[str, object]:
        return {
            "delta": self.delta,
            "reason": self.reason.value,
            "order_id": self.order_id,
            "ref": self.ref,
            "at": iso(self.at),
        }


def apply(balance: int, entry: LedgerEntry) -> int:
    """The balance after ``entry``; ``LedgerError`` if it would go below zero."""
    after = balance + entry.delta
    if after < 0:
        raise LedgerError(f"{entry.key} would take the balance from {balance} to {after}")
    return after


def balance(entries: Iterable[LedgerEntry]) -> int:
    """The balance after ``entries`` in order, checking it never went below zero on the way."""
    total = 0
    for entry in entries:
        total = apply(total, entry)
    return total


def earn_entry(
    order_id: str, totals: Totals, at: int, policy: PointsPolicy = DEFAULT_POLICY
) -> LedgerEntry | None:
    """The entry for an order delivered at ``at``; None when it earns nothing."""
    points = points_earned(totals, policy)
    return LedgerEntry(points, PointsReason.EARNED, order_id, at) if points else None


def reversal_entry(
    order_id: str, return_id: str, due: int, current_balance: int, at: int
) -> LedgerEntry | None:
    """The entry taking back ``due`` points (``reversal_due``) for one refund.

    Points already spent cannot be taken back: the entry takes at most ``current_balance`` and
    the rest is forgiven, so the balance never goes below zero.
    """
    taken = min(_whole(due, "due"), max(current_balance, 0))
    if not taken:
        return None
    return LedgerEntry(-taken, PointsReason.REVERSED, order_id, at, ref=return_id)


def redeem_entry(order_id: str, points: int, at: int) -> LedgerEntry | None:
    """The entry for the points a checkout redeemed (``Quote.points_used``)."""
    return LedgerEntry(-points, PointsReason.REDEEMED, order_id, at) if points else None


def restore_entry(order_id: str, points: int, at: int) -> LedgerEntry | None:
    """The entry giving back an order's redeemed points when it is cancelled or payment fails."""
    return LedgerEntry(points, PointsReason.RESTORED, order_id, at) if points else None
