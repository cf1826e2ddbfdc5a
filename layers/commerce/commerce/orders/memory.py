"""The order book and the checkout book in memory: the same conditions, no emulator.

``InMemoryOrderBook`` keeps carts, stock shelves, orders and their returns in dicts under one
lock and answers both ports the way the DynamoDB books do: a move or a placement is written only
if everything it was decided on is still as read, and a stock change only if its condition
holds (``available >= d`` to take, ``reserved >= d`` to release or deduct). Service tests of
checkout, settlement, cancellation and returns run on it (as the payment port's tests run on the
sandbox's ``InMemoryLedger``); the DynamoDB books are tested against DynamoDB Local and moto.

A move that closes an erased customer's order (``Effects.anonymise``) leaves it as the DynamoDB
book does (``book.as_written``): owner, email and address replaced, payment token and tracking
number gone, its ``erase_on_close`` mark cleared; ``mark_erase_on_close`` sets that mark as
erasure does.

It keeps no coupons or points: a checkout that would consume any is refused, so such rules are
never "tested" here by accident (tests/integration/test_coupons_checkout.py has them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from commerce.coupons.consumption import CheckoutPerks
from commerce.domain.inventory import StockLevel
from commerce.domain.orders import Advance, OrderStatus
from commerce.domain.pricing import price
from commerce.errors import NotFound
from commerce.orders.book import Effects, as_written
from commerce.orders.placing import Placement, Raced
from commerce.store.carts import StoredCart, StoredLine
from commerce.store.charge_attempts import OrderForPayment
from commerce.store.holds import LINE_LABEL_PREFIX
from commerce.store.orders import (
    ORDER_LABEL,
    RETURN_RECEIVED,
    RETURN_REQUESTED,
    Reservation,
    StoredOrder,
    StoredReturn,
    stock_label,
)


class Refused(RuntimeError):
    """A write whose condition did not hold; ``label`` names the item, as a transaction does."""

    def __init__(self, label: str, detail: str) -> None:
        super().__init__(f"{label}: {detail}")
        self.label = label


@dataclass
class Shelf:
    """One SKU shard's figures."""

    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def _units(reservation: Reservation) -> Iterator[tuple[tuple[str, int], int]]:
    for sku, shards in reservation.items():
        for shard, units in shards.items():
            if units:
                yield (sku, shard), units


class _Shelves:
    """A working copy of the shelves; each change checks its condition like the store's."""

    def __init__(self, shelves: Mapping[tuple[str, int], Shelf]) -> None:
        self.moved = {key: Shelf(s.on_hand, s.reserved) for key, s in shelves.items()}

    def _get(self, key: tuple[str, int]) -> Shelf:
        shelf = self.moved.get(key)
        if shelf is None:
            raise Refused(stock_label(*key), "no stock row")
        return shelf

    def take(self, key: tuple[str, int], units: int) -> None:
        shelf = self._get(key)
        if shelf.available < units:
            raise Refused(stock_label(*key), f"available {shelf.available} < {units}")
        shelf.reserved += units

    def release(self, key: tuple[str, int], units: int) -> None:
        shelf = self._get(key)
        if shelf.reserved < units:
            raise Refused(stock_label(*key), f"reserved {shelf.reserved} < {units}")
        shelf.reserved -= units

    def deduct(self, key: tuple[str, int], units: int) -> None:
        self.release(key, units)
        self.moved[key].on_hand -= units

    def restock(self, key: tuple[str, int], units: int) -> None:
        self._get(key).on_hand += units


class InMemoryOrderBook:
    """An ``OrderBook`` and a ``CheckoutBook`` in dicts, safe across threads.

    Seed it with ``stock``, ``add_cart`` and ``add``. ``before_write`` runs once, inside the next
    write and before its condition is checked, so a test can change what a writer read the way
    a concurrent request would.
    """

    def __init__(self) -> None:
        self.carts: dict[str, StoredCart] = {}
        self.orders: dict[str, StoredOrder] = {}
        self.returns: dict[tuple[str, str], StoredReturn] = {}
        self.shelves: dict[tuple[str, int], Shelf] = {}
        self.charge_attempted: dict[str, int] = {}
        self.unpaid_listed: dict[str, int] = {}
        self.perks_returned: list[str] = []
        self.writes = 0
        self.before_write: Callable[[StoredOrder | StoredCart], None] | None = None
        self._lock = threading.RLock()

    # -- seeding and reading back --------------------------------------------------------------

    def stock(self, sku: str, on_hand: int, *, reserved: int = 0, shard: int = 0) -> None:
        with self._lock:
            self.shelves[(sku, shard)] = Shelf(on_hand, reserved)

    def shelf(self, sku: str, shard: int = 0) -> Shelf:
        with self._lock:
            found = self.shelves.get((sku, shard), Shelf())
            return Shelf(found.on_hand, found.reserved)

    def add(self, stored: StoredOrder) -> None:
        """A placed order (its reservation must already be held on the shelves)."""
        with self._lock:
            self.orders[stored.order_id] = stored

    def add_cart(self, cart: StoredCart) -> None:
        """A cart as the cart service leaves it (its live holds already held on the shelves)."""
        with self._lock:
            self.carts[cart.cart_id] = cart

    def mark_erase_on_close(self, order_id: str) -> None:
        """What erasure does to an open order (``store.orders.settle_for_erasure``): marked to
        be anonymised by the move that closes it, its version moved on, so a move decided on
        the order as read before is decided again."""
        with self._lock:
            current = self.orders[order_id]
            order = replace(current.order, version=current.order.version + 1)
            self.orders[order_id] = replace(current, order=order, erase_on_close=True)

    def _hook(self, target: StoredOrder | StoredCart) -> None:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook(target)

    # -- OrderBook -----------------------------------------------------------------------------

    def load(self, order_id: str) -> StoredOrder | None:
        with self._lock:
            return self.orders.get(order_id)

    def write(
        self, before: StoredOrder, advance: Advance, effects: Effects, *, at: str
    ) -> StoredOrder | None:
        self._hook(before)
        with self._lock:
            current = self.orders.get(before.order_id)
            if (
                current is None
                or current.version != before.version
                or current.status is not advance.previous
            ):
                return None
            shelves = _Shelves(self.shelves)
            try:
                for key, units in _units(effects.deduct_stock):
                    shelves.deduct(key, units)
                for key, units in _units(effects.release_stock):
                    shelves.release(key, units)
                for key, units in _units(effects.restock):
                    shelves.restock(key, units)
            except Refused as refused:
                raise RuntimeError(f"order move refused: {refused}") from refused
            returns = self._moved_returns(before.order_id, effects, at)
            self.shelves = shelves.moved
            self.returns.update(returns)
            if effects.return_perks and before.order_id not in self.perks_returned:
                self.perks_returned.append(before.order_id)
            written = as_written(before, advance, effects)
            self.orders[before.order_id] = written
            self.writes += 1
            return written

    def _moved_returns(
        self, order_id: str, effects: Effects, at: str
    ) -> dict[tuple[str, str], StoredReturn]:
        changed: dict[tuple[str, str], StoredReturn] = {}
        if effects.new_return is not None:
            key = (order_id, effects.new_return.return_id)
            if key in self.returns:
                raise RuntimeError(f"order move refused: return {key} exists")
            changed[key] = StoredReturn(order_id, effects.new_return, RETURN_REQUESTED, at)
        receipt = effects.return_receipt
        if receipt is not None:
            key = (order_id, receipt.return_id)
            found = self.returns.get(key)
            if found is None or found.status != RETURN_REQUESTED:
                raise RuntimeError(f"order move refused: return {key} is not awaited")
            changed[key] = replace(
                found,
                status=RETURN_RECEIVED,
                received_at=at,
                refund_id=receipt.refund_id,
                reversal=receipt.reversal,
            )
        return changed

    def begin_charge(self, order_id: str, at: int) -> StoredOrder | None:
        with self._lock:
            current = self.orders.get(order_id)
            if current is None or current.status is not OrderStatus.PENDING_PAYMENT:
                return None
            self.charge_attempted.setdefault(order_id, at)
            return current

    def load_for_payment(self, order_id: str) -> OrderForPayment | None:
        with self._lock:
            current = self.orders.get(order_id)
            if current is None:
                return None
            return OrderForPayment(current, order_id in self.charge_attempted)

    def load_return(self, order_id: str, return_id: str) -> StoredReturn | None:
        with self._lock:
            return self.returns.get((order_id, return_id))

    def load_returns(self, order_id: str) -> list[StoredReturn]:
        with self._lock:
            found = [r for (oid, _), r in self.returns.items() if oid == order_id]
        return sorted(found, key=lambda r: (r.value.requested_at, r.created_at))

    def clear_dispatch_marker(self, order_id: str) -> bool:
        with self._lock:
            current = self.orders.get(order_id)
            if current is None or not current.dispatch_pending:
                return False
            self.orders[order_id] = replace(current, dispatch_pending=False)
            return True

    def _listed_at(self, stored: StoredOrder) -> int:
        return self.unpaid_listed.get(stored.order_id, stored.order.created_at)

    def unpaid(self, listed_before: int) -> Iterator[StoredOrder]:
        with self._lock:
            found = [
                stored
                for stored in self.orders.values()
                if stored.status is OrderStatus.PENDING_PAYMENT
                and self._listed_at(stored) < listed_before
            ]
        yield from sorted(found, key=self._listed_at)

    def relist(self, order_id: str, listed_at: int) -> bool:
        with self._lock:
            current = self.orders.get(order_id)
            if current is None or current.status is not OrderStatus.PENDING_PAYMENT:
                return False
            self.unpaid_listed[order_id] = listed_at
            return True

    # -- CheckoutBook --------------------------------------------------------------------------

    def load_cart(self, cart_id: str) -> StoredCart | None:
        with self._lock:
            return self.carts.get(cart_id)

    def levels(self, sku: str) -> tuple[StockLevel, ...]:
        with self._lock:
            shards = sorted(shard for (s, shard) in self.shelves if s == sku)
            if not shards:
                raise NotFound(f"No inventory for SKU {sku}")
            return tuple(
                StockLevel(self.shelves[(sku, n)].on_hand, self.shelves[(sku, n)].reserved)
                for n in range(shards[-1] + 1)
                if (sku, n) in self.shelves
            )

    def perks(self, cart: StoredCart, sub: str | None, redeem: int, now: int) -> CheckoutPerks:
        del sub
        if cart.coupons or redeem:
            raise ValueError("the in-memory book keeps no coupons or points")
        return CheckoutPerks((), price(cart.to_domain(now).price_lines()).totals, 0, 0)

    def place(self, placement: Placement) -> Raced | None:
        self._hook(placement.cart)
        with self._lock:
            refusals = self._placement_refusals(placement)
            if refusals:
                return Raced(tuple(sorted(refusals)))
            shelves = _Shelves(self.shelves)
            try:
                for sku, deltas in placement.retakes.items():
                    for shard, delta in deltas.items():
                        if delta > 0:
                            shelves.take((sku, shard), delta)
                        elif delta < 0:
                            shelves.release((sku, shard), -delta)
            except Refused as refused:
                return Raced((refused.label,))
            self.shelves = shelves.moved
            cart = placement.cart
            self.carts[cart.cart_id] = replace(
                cart,
                lines=tuple(_handed_over(line) for line in cart.lines),
                order_id=placement.order.order_id,
                version=cart.version + 1,
            )
            self.orders[placement.order.order_id] = placement.order
            self.writes += 1
            return None

    def _placement_refusals(self, placement: Placement) -> list[str]:
        """The labels whose conditions a placement of the cart as read fails now."""
        read = placement.cart
        current = self.carts.get(read.cart_id)
        refusals: list[str] = []
        if (
            current is None
            or current.checked_out
            or current.version != read.version
            or current.owner_sub != read.owner_sub
            or current.token_hash != read.token_hash
        ):
            refusals.append("cart")
        for line in read.lines:
            now_line = current.line(line.sku) if current is not None else None
            live = line.reserved_until(placement.now) is not None
            if (
                now_line is None
                or now_line.version != line.version
                or now_line.expires_at != line.expires_at
                or (live and (now_line.expires_at or 0) <= placement.now)
            ):
                refusals.append(f"{LINE_LABEL_PREFIX}{line.sku}")
        if placement.order.order_id in self.orders:
            refusals.append(ORDER_LABEL)
        return refusals


def _handed_over(line: StoredLine) -> StoredLine:
    """A line after checkout: no hold of its own any more (its units are the order's)."""
    return replace(line, takes={}, expires_at=None, version=line.version + 1)
