"""The order book: the one port every order use case reads and moves orders through.

A use case decides a move on the order as read (``commerce.domain.orders.advance``) and says
what else the move obliges (``Effects``: stock deducted, released or restocked, perks returned,
a shipment, a delivery, a carrier event on the tracking trail, a return opened or received). The
book writes the move and its effects together, conditioned on the order still standing where it
was read, and answers None when it no longer does, so the use case decides again on a fresh read
(``orders.moves``).

Two books keep that promise: ``DynamoOrderBook`` writes each move as one DynamoDB transaction
through the order store; ``orders.memory.InMemoryOrderBook`` keeps orders, their stock and their
returns in dicts under one lock with the same conditions, so the rules of settlement,
cancellation and returns are tested without an emulator (as the payment port's
``InMemoryLedger`` is).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from commerce.clock import epoch, iso_us
from commerce.coupons.consumption import return_perks
from commerce.domain.orders import Advance
from commerce.domain.returns import Return
from commerce.domain.tracking import TrackingEvent
from commerce.ports import Adapter
from commerce.store import charge_attempts, keys
from commerce.store import orders as store
from commerce.store.charge_attempts import OrderForPayment
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import (
    ORDER_LABEL,
    PendingReversal,
    Reservation,
    StoredOrder,
    StoredReturn,
)
from commerce.store.transactions import LabelledTransaction


@dataclass(frozen=True)
class Shipment:
    """The parcel a SHIP move hands to a carrier."""

    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class Delivery:
    """A carrier's report that a DELIVER move records: when, and which event said so."""

    at: int
    carrier_event_id: str


@dataclass(frozen=True)
class ReturnReceipt:
    """A return received and refunded by a REFUND_COMPLETED move, and the points it un-earns."""

    return_id: str
    refund_id: str
    reversal: PendingReversal | None = None


@dataclass(frozen=True)
class Effects:
    """What a move writes besides the order, in the same transaction as the order."""

    #: Reserved units leave stock (on_hand and reserved fall): the order was paid.
    deduct_stock: Reservation = field(default_factory=dict)
    #: Reserved units go back to available: payment failed, or a pending order was cancelled.
    release_stock: Reservation = field(default_factory=dict)
    #: Deducted units come back to on_hand: a paid order cancelled, a return received.
    restock: Reservation = field(default_factory=dict)
    #: The order's coupon uses and redeemed points go back (once per order).
    return_perks: bool = False
    shipment: Shipment | None = None
    delivery: Delivery | None = None
    new_return: Return | None = None
    return_receipt: ReturnReceipt | None = None
    #: The carrier events' trail as this move leaves it (a new event placed by its time).
    tracking: tuple[TrackingEvent, ...] | None = None
    #: The move closes an order whose customer asked to be erased: its personal fields are
    #: replaced and it leaves the customer's index and the search by email, in this write.
    anonymise: bool = False


NO_EFFECTS = Effects()


def as_written(before: StoredOrder, advance: Advance, effects: Effects) -> StoredOrder:
    """The order as a successful write of ``advance`` with ``effects`` leaves it."""
    written = replace(before, order=advance.order)
    if effects.shipment is not None:
        written = replace(
            written,
            carrier=effects.shipment.carrier,
            tracking_number=effects.shipment.tracking_number,
        )
    if effects.delivery is not None:
        written = replace(written, carrier_event_id=effects.delivery.carrier_event_id)
    if effects.tracking is not None:
        written = replace(written, tracking=effects.tracking)
    if effects.anonymise:
        written = replace(written, payment_token=None, tracking_number=None, erase_on_close=False)
    return written


class OrderBook(Protocol):
    """Where orders are read and moved. Every write is conditioned on the order as read."""

    def load(self, order_id: str) -> StoredOrder | None:
        """The order, read consistently; None when there is none with this id."""
        ...

    def write(
        self, before: StoredOrder, advance: Advance, effects: Effects, *, at: str
    ) -> StoredOrder | None:
        """Write ``advance`` and ``effects`` if the order still has the version and status of
        ``before``: the order as written, or None when it moved meanwhile. ``at`` is the stored
        time stamp (``clock.now_iso``). Any other refusal (stock that is not there) raises."""
        ...

    def begin_charge(self, order_id: str, at: int) -> StoredOrder | None:
        """Mark that a charge is about to be attempted, if the order is PENDING_PAYMENT: the
        order as it now is, or None (not pending, or absent). See ``store.charge_attempts``."""
        ...

    def load_for_payment(self, order_id: str) -> OrderForPayment | None:
        """The order and whether a charge was ever attempted for it."""
        ...

    def load_return(self, order_id: str, return_id: str) -> StoredReturn | None: ...

    def load_returns(self, order_id: str) -> list[StoredReturn]:
        """Every return of the order, oldest first."""
        ...

    def clear_dispatch_marker(self, order_id: str) -> bool:
        """The order's payment message was sent: it leaves the reconciler's index (False when
        another sender cleared it first)."""
        ...

    def unpaid(self, listed_before: int) -> Iterator[StoredOrder]:
        """Orders still PENDING_PAYMENT (as last indexed: possibly stale, so every move on one
        is decided on a fresh read) whose place in the unpaid list is before ``listed_before``
        (epoch s): their placing time, until ``relist`` moves them on."""
        ...

    def relist(self, order_id: str, listed_at: int) -> bool:
        """Move a pending order's place in the unpaid list to ``listed_at`` (epoch s), so it is
        looked at again only then; False when it is no longer pending."""
        ...


class DynamoOrderBook:
    """The order book over the Orders and Inventory tables: one transaction per move."""

    def load(self, order_id: str) -> StoredOrder | None:
        return store.load_order(order_id)

    def write(
        self, before: StoredOrder, advance: Advance, effects: Effects, *, at: str
    ) -> StoredOrder | None:
        order_id = before.order_id
        tx = LabelledTransaction()
        extra = []
        if effects.shipment is not None:
            extra += store.shipment_actions(
                effects.shipment.carrier, effects.shipment.tracking_number
            )
        if effects.delivery is not None:
            extra += store.delivery_actions(effects.delivery.at, effects.delivery.carrier_event_id)
        if effects.tracking is not None:
            extra += store.tracking_actions(effects.tracking)
        if effects.anonymise:
            extra += store.anonymise_in_move(tx, before)
        store.order_transition_update(tx, before, advance, extra, at=at)
        store.deduct_stock(tx, effects.deduct_stock)
        store.release_stock(tx, effects.release_stock)
        store.restock(tx, effects.restock)
        if effects.return_perks:
            return_perks(tx, before, epoch(at))
        if effects.new_return is not None:
            store.put_return(tx, order_id, effects.new_return, at=at)
        receipt = effects.return_receipt
        if receipt is not None:
            store.mark_return_received(
                tx,
                order_id,
                receipt.return_id,
                refund_id=receipt.refund_id,
                at=at,
                reversal=receipt.reversal,
            )
        failures = tx.commit()
        if not failures:
            return as_written(before, advance, effects)
        if any(f.label == ORDER_LABEL and f.code == CONDITION_FAILED for f in failures):
            return None
        raise RuntimeError(f"order move refused: {[(f.label, f.code) for f in failures]}")

    def begin_charge(self, order_id: str, at: int) -> StoredOrder | None:
        return charge_attempts.begin_charge(order_id, at)

    def load_for_payment(self, order_id: str) -> OrderForPayment | None:
        return charge_attempts.load_for_payment(order_id)

    def load_return(self, order_id: str, return_id: str) -> StoredReturn | None:
        return store.load_return(order_id, return_id)

    def load_returns(self, order_id: str) -> list[StoredReturn]:
        return store.load_returns(order_id)

    def clear_dispatch_marker(self, order_id: str) -> bool:
        return store.clear_dispatch_marker(order_id)

    def unpaid(self, listed_before: int) -> Iterator[StoredOrder]:
        cutoff = iso_us(listed_before)
        for bucket in range(keys.ORDER_STATUS_BUCKETS):
            for order_id in store.unpaid(bucket, cutoff):
                stored = store.load_order(order_id)
                if stored is not None:
                    yield stored

    def relist(self, order_id: str, listed_at: int) -> bool:
        return store.relist_unpaid(order_id, iso_us(listed_at))


# --- The process's book -------------------------------------------------------------------------

#: The process's order book: DynamoDB unless a test installed another (``use_order_book``).
order_book: Final = Adapter[OrderBook](DynamoOrderBook)
use_order_book: Final = order_book.use
