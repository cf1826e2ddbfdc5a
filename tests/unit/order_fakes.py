"""A small world of fakes at the order use cases' own seams, for service tests without moto.

- the order and checkout books (``commerce.orders.memory.InMemoryOrderBook``) hold the carts,
  the orders, their stock shelves and their returns, with the conditions of the DynamoDB books;
- the payment port is the sandbox provider over its ``InMemoryLedger``;
- order events go to a ``MemoryEventPublisher``, payment messages to a ``MemoryPaymentQueue``;
- units sold and buyers go to the catalog's ``MemorySalesLedger``.

``world()`` installs them all as the process's own (the use cases ask ``order_book()``,
``checkout_book()``, ``factory.provider()``, ``events.publisher()`` and ``payment_queue()``) and
takes them away again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from commerce import events
from commerce.catalog.sales import MemorySalesLedger, use_sales_ledger
from commerce.domain.money import Money
from commerce.orders.book import use_order_book
from commerce.orders.dispatch import MemoryPaymentQueue, use_payment_queue
from commerce.orders.memory import InMemoryOrderBook
from commerce.orders.placing import use_checkout_book
from commerce.payments import factory
from commerce.payments.sandbox import InMemoryLedger, SandboxProvider
from commerce.store.carts import StoredCart, StoredLine
from commerce.store.orders import StoredOrder
from order_builders import CURRENCY, OWNER, pending_order


@dataclass
class World:
    """The fakes one test works with."""

    book: InMemoryOrderBook = field(default_factory=InMemoryOrderBook)
    ledger: InMemoryLedger = field(default_factory=InMemoryLedger)
    published: events.MemoryEventPublisher = field(default_factory=events.MemoryEventPublisher)
    queue: MemoryPaymentQueue = field(default_factory=MemoryPaymentQueue)
    sales: MemorySalesLedger = field(default_factory=MemorySalesLedger)

    @property
    def provider(self) -> SandboxProvider:
        return SandboxProvider(self.ledger)

    def place(
        self,
        lines: Mapping[str, int],
        *,
        token: str = "tok_ok",  # noqa: S107 - a sandbox payment token
        unit_price: int = 1000,
        owner: str | None = OWNER,
    ) -> StoredOrder:
        """A PENDING_PAYMENT order of ``lines`` whose units are held on shard 0, as a checkout
        leaves it (the shelves must already be stocked)."""
        stored = pending_order(lines, token=token, unit_price=unit_price, owner=owner)
        for sku, qty in lines.items():
            shelf = self.book.shelf(sku)
            assert shelf.available >= qty, f"{sku}: only {shelf.available} available"
            self.book.stock(sku, shelf.on_hand, reserved=shelf.reserved + qty)
        self.book.add(stored)
        return stored

    def order(self, order_id: str) -> StoredOrder:
        found = self.book.load(order_id)
        assert found is not None
        return found

    def net_charged(self, order_id: str) -> int:
        """What the customer is out of pocket at the provider for this order: approved charges
        less every refund of them."""
        total = 0
        for _, record in self.ledger.query(order_id, "charge#"):
            if record["status"] == "approved":
                charge_id = str(record["charge_id"])
                total += int(record["amount"])
                total -= self.provider.refunded_total(charge_id).amount
        return total

    def event_types(self) -> list[str]:
        return [event.type for event in self.published.events]


@contextmanager
def world(stock: Mapping[str, int] | None = None) -> Iterator[World]:
    """The fakes, installed; ``stock`` puts that many units of each SKU on its shelf."""
    fakes = World()
    for sku, units in (stock or {}).items():
        fakes.book.stock(sku, units)
    use_order_book(fakes.book)
    use_checkout_book(fakes.book)
    use_payment_queue(fakes.queue)
    factory.use_provider(fakes.provider)
    events.use_publisher(fakes.published)
    use_sales_ledger(fakes.sales)
    try:
        yield fakes
    finally:
        use_sales_ledger(None)
        use_order_book(None)
        use_checkout_book(None)
        use_payment_queue(None)
        factory.use_provider(None)
        events.use_publisher(None)


#: What a cart line is at checkout: holding live stock, lapsed with its units still held (not
#: yet swept), or lapsed and swept (holding nothing).
LIVE, LAPSED, SWEPT = "live", "lapsed", "swept"


def cart(
    fakes: World,
    lines: Mapping[str, tuple[int, str]],
    *,
    now: int,
    owner: str | None = OWNER,
    token_hash: str | None = None,
    unit_price: int = 1000,
) -> StoredCart:
    """A cart of ``lines`` (sku -> (quantity, LIVE | LAPSED | SWEPT)) as the cart service leaves
    it: live and lapsed lines hold their units on shard 0 of the (already stocked) shelves."""
    stored_lines = []
    for sku, (quantity, state) in sorted(lines.items()):
        holding = state in (LIVE, LAPSED)
        if holding:
            shelf = fakes.book.shelf(sku)
            assert shelf.available >= quantity, f"{sku}: only {shelf.available} available"
            fakes.book.stock(sku, shelf.on_hand, reserved=shelf.reserved + quantity)
        stored_lines.append(
            StoredLine(
                sku=sku,
                quantity=quantity,
                unit_price=Money(unit_price, CURRENCY),
                version=1,
                takes={0: quantity} if holding else {},
                expires_at=(now + 900 if state == LIVE else now - 1) if holding else None,
            )
        )
    stored = StoredCart(
        cart_id=uuid.uuid4().hex,
        owner_sub=owner,
        token_hash=token_hash,
        shipping_address=None,
        coupons=(),
        lines=tuple(stored_lines),
        version=len(stored_lines),
    )
    fakes.book.add_cart(stored)
    return stored
