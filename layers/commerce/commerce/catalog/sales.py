"""What orders tell the catalog: units sold (and taken back), and who received which product.

A product's ``sold`` is the units paid for less the units returned. Orders report each event
that moves it through this module: an order paid (``count_payment``), a paid order cancelled
(``count_cancellation``), a return received (``count_return``). Each event moves the counters
once per order (``SALE#{order_id}#{event}`` markers in ``store/sales.py``), so the same event
reported again by a redelivered message, a retried webhook or a retried request moves nothing
more: orders call these after every attempt, not only the first. A delivered order records its
owner as a buyer of each product in it (``record_delivery``), which is what lets them review it.

The port, ``SalesLedger``, has a DynamoDB adapter and an in-memory one for service tests of the
order use cases (tests/unit/order_fakes.py installs it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from commerce.clock import now_iso
from commerce.domain.orders import Order, OrderStatus
from commerce.domain.privacy import ERASED_OWNER
from commerce.domain.returns import Return
from commerce.observability import logger
from commerce.ports import Adapter
from commerce.store import products, reviews, sales
from commerce.store.orders import StoredOrder

PAID: Final = "paid"
CANCELLED: Final = "cancelled"
#: How long a process trusts what it read of a SKU's product and lists.
OWNERS_SECONDS: Final = 60.0


def return_event(return_id: str) -> str:
    return f"return#{return_id}"


class SalesLedger(Protocol):
    def count(self, order_id: str, event: str, units: Mapping[str, int]) -> None:
        """Move the sold counters of the SKUs' products by ``units`` (negative: take back),
        once per ``(order_id, event)``."""
        ...

    def record_buyers(self, order_id: str, owner: str, skus: Collection[str]) -> None:
        """``owner`` received the products of ``skus`` in ``order_id``: they may review them."""
        ...


@dataclass(frozen=True)
class _Owner:
    product_id: str
    lists: tuple[str, ...]
    read_at: float


class DynamoSalesLedger:
    """Counters and buyer records in the Catalog table.

    A SKU's product never changes, and its lists rarely do: both are kept per process for
    ``OWNERS_SECONDS``, so a flash sale's payments cost one transaction each and no read. Lists
    that went stale meanwhile fail that transaction's conditions, and the count reads the
    product afresh (``store.sales.count``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._owners: dict[str, _Owner] = {}

    def _owners_of(self, skus: Collection[str]) -> dict[str, _Owner]:
        now = self._clock()
        stale = [
            s
            for s in skus
            if s not in self._owners or self._owners[s].read_at < now - OWNERS_SECONDS
        ]
        if stale:
            for sku, offer in products.offers(stale).items():
                self._owners[sku] = _Owner(offer.product_id, offer.lists, now)
        return {sku: self._owners[sku] for sku in skus if sku in self._owners}

    def count(self, order_id: str, event: str, units: Mapping[str, int]) -> None:
        by_product: dict[str, int] = {}
        lists: dict[str, tuple[str, ...]] = {}
        for sku, owner in self._owners_of(list(units)).items():
            by_product[owner.product_id] = by_product.get(owner.product_id, 0) + units[sku]
            lists[owner.product_id] = owner.lists
        at = now_iso()
        for product_id, moved in sorted(by_product.items()):
            if moved:
                outcome = sales.count(
                    product_id, order_id, event, moved, at=at, lists=lists[product_id]
                )
                logger.debug(
                    "sold counted",
                    extra={
                        "product_id": product_id,
                        "order_id": order_id,
                        "event": event,
                        "units": moved,
                        "outcome": outcome.value,
                    },
                )

    def record_buyers(self, order_id: str, owner: str, skus: Collection[str]) -> None:
        at = now_iso()
        for product_id in sorted({offer.product_id for offer in products.offers(skus).values()}):
            reviews.record_buyer(product_id, owner, order_id, at=at)


@dataclass
class MemorySalesLedger:
    """The same in dicts: sold units per SKU, the events counted, buyers by (owner, SKU)."""

    sold: dict[str, int] = field(default_factory=dict)
    events: set[tuple[str, str]] = field(default_factory=set)
    buyers: set[tuple[str, str]] = field(default_factory=set)

    def count(self, order_id: str, event: str, units: Mapping[str, int]) -> None:
        if (order_id, event) in self.events:
            return
        self.events.add((order_id, event))
        for sku, moved in units.items():
            self.sold[sku] = self.sold.get(sku, 0) + moved

    def record_buyers(self, order_id: str, owner: str, skus: Collection[str]) -> None:
        del order_id
        self.buyers |= {(owner, sku) for sku in skus}


#: The process's sales ledger: DynamoDB unless a test installed another (``use_sales_ledger``).
sales_ledger: Final = Adapter[SalesLedger](DynamoSalesLedger)
use_sales_ledger: Final = sales_ledger.use


def _reached(order: Order, status: OrderStatus) -> bool:
    return any(entry.status is status for entry in order.history)


def count_payment(stored: StoredOrder) -> None:
    """The order's units count as sold once it has been paid (whatever it became since)."""
    order = stored.order
    if _reached(order, OrderStatus.PAID):
        sales_ledger().count(order.order_id, PAID, order.units())


def count_cancellation(stored: StoredOrder) -> None:
    """A paid order cancelled before shipment: its units no longer count."""
    order = stored.order
    if order.status is OrderStatus.CANCELLED and _reached(order, OrderStatus.PAID):
        count_payment(stored)  # first, in case that count was lost: each is counted once
        taken_back = {sku: -units for sku, units in order.units().items()}
        sales_ledger().count(order.order_id, CANCELLED, taken_back)


def count_return(stored: StoredOrder, received: Return) -> None:
    """A received return's units no longer count."""
    count_payment(stored)  # first, in case that count was lost: each is counted once
    taken_back: dict[str, int] = {}
    for line in received.lines:
        taken_back[line.sku] = taken_back.get(line.sku, 0) - line.quantity
    sales_ledger().count(stored.order_id, return_event(received.return_id), taken_back)


def record_delivery(stored: StoredOrder) -> None:
    """A customer's delivered order makes them a buyer of each product in it (guests have no
    account to review with, nor has an erased customer, whose order is delivered anonymised)."""
    order, owner = stored.order, stored.order.owner
    if owner is None or owner == ERASED_OWNER:
        return
    if _reached(order, OrderStatus.DELIVERED):
        sales_ledger().record_buyers(order.order_id, owner, order.units())
