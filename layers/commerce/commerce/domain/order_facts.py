"""What the order stream says happened: an order paid, money refunded, a cart opened.

A stream record carries one write of one item: the item before and after it. Facts are read
from that pair alone, so a record means the same thing however late, often or out of turn it is
delivered, and a record of a write that changed nothing the figures count (an address, a
tracking number, an anonymisation) yields no fact at all:

- **paid**: the PAID entry is in the order's history after the write and was not before it. It
  counts on the UTC day of that entry, at the order's total, its lines at their line amounts;
- **refunded**: ``payment.refunded`` grew. The order item keeps there the sum of every refund
  that succeeded (a cancel of a paid order, a return received, a staff or provider-reported
  refund), so the growth is the money that went back in this write, counted on the day of the
  write (its ``updated_at``). Refunds of an order that was never paid (a charge that arrived
  after a cancel and was returned at once) count nothing: that money was never in the figures;
- **cart opened**: a cart header was created, on the day of its ``created_at``.

Buyers are counted by a pseudonymous key (``buyer_key``): the customer's id when signed in, the
order's email for a guest (API.md: "guests by email"), hashed so that no figure stores either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from commerce.domain.money import Money
from commerce.domain.orders import Order, OrderStatus
from commerce.domain.privacy import ERASED_OWNER

#: Hex digits of a buyer key: 128 bits, far past any shop's number of buyers.
_BUYER_KEY_HEX: Final = 32


def buyer_key(order: Order) -> str:
    """The pseudonymous key a buyer is counted under: the signed-in customer's id, else the
    order's email (case-insensitive), hashed."""
    source = f"sub:{order.owner}" if order.owner else f"email:{order.email.strip().casefold()}"
    return hashlib.sha256(source.encode()).hexdigest()[:_BUYER_KEY_HEX]


def customer_of(order: Order) -> str | None:
    """The signed-in customer the order belongs to (their value and campaign results follow
    it); None for a guest, and for an order anonymised by erasure."""
    if order.owner is None or order.owner == ERASED_OWNER:
        return None
    return order.owner


def utc_date(epoch_seconds: int) -> str:
    """The UTC calendar day of an epoch time: ``2026-11-11``."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class SoldLine:
    """Units of one SKU in a paid order, at the line's amount (unit price x quantity)."""

    sku: str
    quantity: int
    amount: Money


@dataclass(frozen=True)
class Paid:
    """An order was paid at ``at`` (epoch s): it counts once, on that UTC day."""

    order_id: str
    buyer: str
    customer_id: str | None
    at: int
    total: Money
    lines: tuple[SoldLine, ...]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class Refunded:
    """``amount`` of a paid order's money went back at ``at`` (epoch s)."""

    order_id: str
    buyer: str
    customer_id: str | None
    at: int
    amount: Money


@dataclass(frozen=True)
class CartOpened:
    """A cart was created at ``at`` (epoch s): the denominator of the conversion rate."""

    cart_id: str
    at: int


Fact = Paid | Refunded | CartOpened


def paid_at(order: Order) -> int | None:
    """When the order entered PAID (its first PAID history entry); None if it never did."""
    return next((e.at for e in order.history if e.status is OrderStatus.PAID), None)


def order_facts(before: Order | None, after: Order, written_at: int) -> list[Fact]:
    """The facts of one write of an order: ``before`` is None for the write that created it;
    ``written_at`` (epoch s) is when the write was made."""
    facts: list[Fact] = []
    paid = paid_at(after)
    buyer, customer = buyer_key(after), customer_of(after)
    if paid is not None and (before is None or paid_at(before) is None):
        lines = tuple(SoldLine(line.sku, line.quantity, line.amount) for line in after.lines)
        facts.append(Paid(after.order_id, buyer, customer, paid, after.totals.total, lines))
    was = before.payment.refunded.amount if before is not None else 0
    grown = after.payment.refunded.amount - was
    if paid is not None and grown > 0:
        amount = Money(grown, after.payment.refunded.currency)
        facts.append(Refunded(after.order_id, buyer, customer, written_at, amount))
    return facts
