"""Returns: which lines and quantities may come back, and what exactly is refunded for them.

A return names SKUs and quantities of a delivered order. Each must be a line of the order, and
no more units than were bought minus those already returned. Several partial returns may follow
one another inside the window.

The money refunded for a return is the returned units' share of what the customer was charged
for merchandise, so discounts are shared out in proportion to each line's amount. In integer fen:

1. The refundable pool is ``total - shipping`` (never below 0): shipping is not refunded, and
   loyalty points redeemed are not paid back as money.
2. The pool is split over the lines in proportion to ``quantity x unit_price`` by largest
   remainder (ties to the earlier line), so the line shares add up to the pool exactly.
3. A line's share is split over its units: each unit gets ``share // quantity`` and the last
   ``share % quantity`` units one fen more. Units come back in order, so the first returns of a
   line are refunded the smaller unit shares.

A return refunds the shares of exactly the units it brings back. Whatever the sequence of
partial returns, each line's refunds add up to at most its share, all of them to at most the
pool, and returning everything refunds the pool to the fen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from commerce.domain.money import Money
from commerce.domain.orders import OrderLine
from commerce.domain.pricing import Totals
from commerce.errors import FieldError

#: Longest free-text reason kept with a return.
MAX_REASON_CHARS: Final = 500


@dataclass(frozen=True)
class ReturnLine:
    """``quantity`` units of ``sku`` coming back."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class Return:
    """A return request as kept with the order: its id, lines, reason and refund."""

    return_id: str
    lines: tuple[ReturnLine, ...]
    reason: str
    refund: Money
    requested_at: int

    def to_dict(self) -> dict[str, object]:
        return {
            "return_id": self.return_id,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in self.lines],
            "reason": self.reason,
            "refund": self.refund.to_dict(),
        }


def returned_quantities(returns: Iterable[Return]) -> dict[str, int]:
    """Units already returned per SKU over ``returns``."""
    counts: dict[str, int] = {}
    for done in returns:
        for line in done.lines:
            counts[line.sku] = counts.get(line.sku, 0) + line.quantity
    return counts


def returnable_quantities(
    order_lines: Sequence[OrderLine], already_returned: Mapping[str, int]
) -> dict[str, int]:
    """Units per SKU that may still come back (zeros included)."""
    return {
        line.sku: max(0, line.quantity - already_returned.get(line.sku, 0)) for line in order_lines
    }


def validate_return(
    order_lines: Sequence[OrderLine],
    already_returned: Mapping[str, int],
    requested: Sequence[ReturnLine],
    reason: str = "",
) -> list[FieldError]:
    """Every rule the requested return breaks, named as the client sent it (``lines[0].sku``)."""
    errors: list[FieldError] = []
    if not requested:
        errors.append(FieldError("lines", "must name at least one line"))
    if len(reason) > MAX_REASON_CHARS:
        errors.append(FieldError("reason", f"must be at most {MAX_REASON_CHARS} characters"))
    left = returnable_quantities(order_lines, already_returned)
    seen: set[str] = set()
    for index, line in enumerate(requested):
        where = f"lines[{index}]"
        if line.sku not in left:
            errors.append(FieldError(f"{where}.sku", "is not a line of this order"))
            continue
        if line.sku in seen:
            errors.append(FieldError(f"{where}.sku", "appears more than once"))
            continue
        seen.add(line.sku)
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            errors.append(FieldError(f"{where}.quantity", "must be a whole number of at least 1"))
        elif quantity > left[line.sku]:
            errors.append(
                FieldError(f"{where}.quantity", f"at most {left[line.sku]} may still be returned")
            )
    return errors


def refundable_pool(totals: Totals) -> int:
    """Fen the customer paid for merchandise: ``total - shipping``, never below 0."""
    return max(0, totals.total.amount - totals.shipping.amount)


def line_shares(order_lines: Sequence[OrderLine], totals: Totals) -> dict[str, int]:
    """Each line's share of the refundable pool, by largest remainder; they add up exactly."""
    pool = refundable_pool(totals)
    gross = [line.amount.amount for line in order_lines]
    base = sum(gross)
    if base == 0 or pool == 0:
        return {line.sku: 0 for line in order_lines}
    pool = min(pool, base)  # a discount never makes merchandise dearer than its prices
    shares = [pool * g // base for g in gross]
    remainders = [pool * g % base for g in gross]
    short = pool - sum(shares)
    for index in sorted(range(len(gross)), key=lambda i: (-remainders[i], i))[:short]:
        shares[index] += 1
    return {line.sku: share for line, share in zip(order_lines, shares, strict=True)}


def units_share(share: int, quantity: int, first: int, count: int) -> int:
    """Fen of a line's ``share`` for its units ``first .. first + count - 1`` (0-based).

    Unit ``i`` of ``quantity`` gets ``share // quantity``, plus one fen for the last
    ``share % quantity`` units; so all ``quantity`` units add up to ``share`` exactly.
    """
    if not 0 <= first <= first + count <= quantity:
        raise ValueError("units outside the line")
    base, extra = divmod(share, quantity)

    def upto(n: int) -> int:  # the first n units together
        return n * base + max(0, n - (quantity - extra))

    return upto(first + count) - upto(first)


def refund_for(
    order_lines: Sequence[OrderLine],
    totals: Totals,
    already_returned: Mapping[str, int],
    requested: Sequence[ReturnLine],
) -> Money:
    """Fen refunded for ``requested`` after ``already_returned``; validate the return first."""
    shares = line_shares(order_lines, totals)
    bought = {line.sku: line.quantity for line in order_lines}
    amount = 0
    for line in requested:
        amount += units_share(
            shares[line.sku], bought[line.sku], already_returned.get(line.sku, 0), line.quantity
        )
    return Money(amount, totals.total.currency)


def plan_return(
    order_lines: Sequence[OrderLine],
    totals: Totals,
    previous: Sequence[Return],
    requested: Sequence[ReturnLine],
    *,
    reason: str,
    return_id: str,
    requested_at: int,
) -> Return | list[FieldError]:
    """A valid return after ``previous`` ones, with its refund; or every field error found.

    The return window is the order state machine's to judge (``orders.advance``).
    """
    already = returned_quantities(previous)
    errors = validate_return(order_lines, already, requested, reason)
    if errors:
        return errors
    refund = refund_for(order_lines, totals, already, requested)
    return Return(return_id, tuple(requested), reason, refund, requested_at)
