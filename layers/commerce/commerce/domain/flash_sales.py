"""Flash sales: a SKU's sale price for a window, with a per-customer limit (限购).

A sale is live over the half-open window ``[starts_at, ends_at)`` (whole epoch seconds), so one
sale may end at the very second the next begins; two sales of one SKU never overlap, so at any
moment at most one is live and "the SKU's price now" has one answer. While a sale is live, the
price a shopper pays is the sale price (the lower of it and the regular price: a regular price
lowered below a running sale's is never undercut by the sale), and a customer may hold and buy
at most ``per_customer_limit`` units of it across all of their carts and orders of that sale.

The rules here are pure: the store keeps a SKU's schedule (the sales not long ended) beside its
price, and creating a sale is one write conditioned on the schedule it was decided from, so the
overlap rule is checked against every sale that could overlap, even one created a moment ago.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from commerce.domain.money import Money
from commerce.errors import FieldError

#: How far in the past a new sale may start: "live now" sent with a clock a little behind ours
#: is taken as meant. Sales that ended longer ago than this leave the schedule, which is exact
#: for the overlap rule: a sale starting at or after ``now - grace`` cannot overlap them.
START_GRACE_SECONDS: Final = 300
#: A SKU's schedule holds at most this many sales not yet ended: the schedule is read with
#: every price, so it stays a few hundred bytes.
MAX_SCHEDULED: Final = 20
#: The largest per-customer limit stored; beyond it a limit means nothing.
MAX_LIMIT: Final = 100_000
#: The longest window a flash sale may have (a sale for a season is a price change).
MAX_WINDOW_SECONDS: Final = 31 * 24 * 3600


class SaleStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Whether the half-open windows ``[a_start, a_end)`` and ``[b_start, b_end)`` share a
    second. Windows that only touch (one ends when the other starts) do not."""
    return a_start < b_end and b_start < a_end


@dataclass(frozen=True)
class FlashSale:
    """One sale of one SKU: its price over ``[starts_at, ends_at)`` and the per-customer limit."""

    sale_id: str
    sku: str
    price: Money
    starts_at: int
    ends_at: int
    per_customer_limit: int

    def status(self, now: int) -> SaleStatus:
        if now < self.starts_at:
            return SaleStatus.SCHEDULED
        if now < self.ends_at:
            return SaleStatus.LIVE
        return SaleStatus.ENDED

    def is_live(self, now: int) -> bool:
        return self.status(now) is SaleStatus.LIVE

    def overlaps(self, other: FlashSale) -> bool:
        return overlaps(self.starts_at, self.ends_at, other.starts_at, other.ends_at)


@dataclass(frozen=True)
class NewSale:
    """A sale as ops ask for it, before it has an id."""

    sku: str
    price: Money
    starts_at: int
    ends_at: int
    per_customer_limit: int

    def with_id(self, sale_id: str) -> FlashSale:
        return FlashSale(
            sale_id,
            self.sku,
            self.price,
            self.starts_at,
            self.ends_at,
            self.per_customer_limit,
        )


def sale_errors(new: NewSale, *, regular: Money, now: int) -> list[FieldError]:
    """Every field of ``new`` that breaks a rule of its own (400s), given the SKU's regular
    price and the time now; an overlap with another sale is a conflict, decided apart
    (``overlapping``)."""
    errors: list[FieldError] = []
    if new.price.currency != regular.currency:
        errors.append(FieldError("price", f"must be in {regular.currency}, as the SKU's price"))
    elif not new.price.is_valid_price or new.price.amount >= regular.amount:
        errors.append(
            FieldError(
                "price",
                f"must be below the SKU's current price ({regular.amount} {regular.currency})",
            )
        )
    if new.starts_at < now - START_GRACE_SECONDS:
        errors.append(
            FieldError("starts_at", f"must not be more than {START_GRACE_SECONDS} s in the past")
        )
    if new.ends_at <= new.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    elif new.ends_at <= now:
        errors.append(FieldError("ends_at", "must be in the future"))
    elif new.ends_at - new.starts_at > MAX_WINDOW_SECONDS:
        errors.append(FieldError("ends_at", "must be at most 31 days after starts_at"))
    if not 1 <= new.per_customer_limit <= MAX_LIMIT:
        errors.append(FieldError("per_customer_limit", f"must be between 1 and {MAX_LIMIT}"))
    return errors


def overlapping(new: NewSale | FlashSale, schedule: Iterable[FlashSale]) -> FlashSale | None:
    """The first sale of ``schedule`` whose window shares a second with ``new``'s, if any."""
    return next(
        (s for s in schedule if overlaps(new.starts_at, new.ends_at, s.starts_at, s.ends_at)),
        None,
    )


def kept(schedule: Iterable[FlashSale], now: int) -> tuple[FlashSale, ...]:
    """The sales a schedule keeps at ``now``: those that ended less than the grace ago or not
    at all (every sale a new one may still overlap), by start."""
    return tuple(
        sorted(
            (s for s in schedule if s.ends_at > now - START_GRACE_SECONDS),
            key=lambda s: (s.starts_at, s.sale_id),
        )
    )


@dataclass(frozen=True)
class Overlap:
    """A new sale refused: its window shares a second with ``other``'s."""

    other: FlashSale


@dataclass(frozen=True)
class ScheduleFull:
    """A new sale refused: the SKU already has ``MAX_SCHEDULED`` sales not yet ended."""

    pending: int


def schedule_with(
    sale: FlashSale, schedule: Iterable[FlashSale], now: int
) -> tuple[FlashSale, ...] | Overlap | ScheduleFull:
    """The SKU's schedule with ``sale`` added (ended sales dropped), or why it cannot be."""
    current = kept(schedule, now)
    other = overlapping(sale, current)
    if other is not None:
        return Overlap(other)
    pending = sum(1 for s in current if s.ends_at > now)
    if pending >= MAX_SCHEDULED:
        return ScheduleFull(pending)
    return kept((*current, sale), now)


def live_at(schedule: Iterable[FlashSale], now: int) -> FlashSale | None:
    """The sale live at ``now``, if any (a schedule holds no overlap, so at most one is)."""
    return next((s for s in schedule if s.is_live(now)), None)


def price_now(regular: Money, live: FlashSale | None) -> Money:
    """What a unit costs a shopper: the live sale's price, never more than the regular one."""
    if live is None or live.price.currency != regular.currency:
        return regular
    return live.price if live.price.amount < regular.amount else regular


# --- What a cart line counts against a customer's limit ---------------------------------------


@dataclass(frozen=True)
class Counted:
    """The units of sale ``sale_id`` one cart line counts to ``customer`` (their subject)."""

    sale_id: str
    customer: str
    units: int


@dataclass(frozen=True)
class CountMove:
    """One change of a customer's count: ``units`` more (``limit`` bounds the result) or, when
    negative, given back. ``ends_at`` is the sale's end (None for a give-back)."""

    sale_id: str
    customer: str
    units: int
    limit: int | None = None
    ends_at: int | None = None


def count_moves(
    before: Counted | None, sale: FlashSale | None, customer: str | None, quantity: int
) -> tuple[Counted | None, tuple[CountMove, ...]]:
    """A line that counted ``before`` set to ``quantity`` while ``sale`` is live (None: no
    sale): what it counts afterwards and the count changes that takes.

    The count of a sale is the units its customer holds in live holds or bought in orders of
    it: a line of a live sale counts all its units to its owner; a line changed after its sale
    ended, or removed, gives back what it counted. Only signed-in customers (``customer``) can
    count; the caller refuses guests before asking.
    """
    after = None
    if sale is not None and customer is not None and quantity > 0:
        after = Counted(sale.sale_id, customer, quantity)
    if (
        before is not None
        and after is not None
        and (before.sale_id, before.customer)
        == (
            after.sale_id,
            after.customer,
        )
    ):
        delta = after.units - before.units
        if delta == 0:
            return after, ()
        limit = sale.per_customer_limit if sale is not None and delta > 0 else None
        ends_at = sale.ends_at if sale is not None and delta > 0 else None
        return after, (CountMove(after.sale_id, after.customer, delta, limit, ends_at),)
    moves: list[CountMove] = []
    if before is not None and before.units > 0:
        moves.append(CountMove(before.sale_id, before.customer, -before.units))
    if after is not None and sale is not None:
        moves.append(
            CountMove(
                after.sale_id, after.customer, after.units, sale.per_customer_limit, sale.ends_at
            )
        )
    return after, tuple(moves)
