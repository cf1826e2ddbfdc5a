"""Placing an order: the port checkout reads carts and stock through and writes one placement by.

Checkout decides (``orders.checkout``): which lines' holds are still live, how a lapsed line's
stock is taken again, what the order costs. A ``Placement`` is everything that decision writes
at once: the new order, each line handed over to it, the stock taken afresh for lapsed lines,
the cart checked out, the coupon uses and points consumed. The book writes it all or nothing,
conditioned on everything being as read; ``Raced`` says something changed, so checkout reads
again and decides afresh.

``DynamoCheckoutBook`` writes a placement as one TransactWriteItems call; the in-memory book
(``orders.memory``) keeps the same conditions in dicts, for service tests without an emulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from commerce.coupons import consumption
from commerce.coupons.consumption import CheckoutPerks
from commerce.domain.flash_sales import CountMove
from commerce.domain.inventory import StockLevel
from commerce.domain.pricing import price
from commerce.errors import Conflict, PurchaseLimit
from commerce.ports import Adapter
from commerce.shipping.zones import rule_for
from commerce.store import carts, flash_sales, holds, inventory, stock_moves
from commerce.store import orders as store
from commerce.store.carts import StoredCart
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import StoredOrder
from commerce.store.transactions import MAX_ITEMS, LabelledTransaction


@dataclass(frozen=True)
class Placement:
    """One checkout's writes, decided on ``cart`` as read (every condition is on that read).

    ``retakes`` are the shard deltas of lapsed lines (``{sku: {shard: delta}}``: a positive
    delta takes stock, a negative one gives back units an unswept hold still keeps).
    """

    order: StoredOrder
    cart: StoredCart
    retakes: Mapping[str, Mapping[int, int]]
    perks: CheckoutPerks
    sub: str | None
    now: int
    at: str
    #: Per SKU, the flash-sale units the order counts to its customer beyond what the cart's
    #: holds already counted (a lapsed line taken afresh): each bounded by the sale's limit.
    counts: Mapping[str, tuple[CountMove, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Raced:
    """Something the placement was conditioned on changed: the labels that refused it."""

    labels: tuple[str, ...]


class CheckoutBook(Protocol):
    """What checkout reads and writes."""

    def load_cart(self, cart_id: str) -> StoredCart | None:
        """The cart, each line at its SKU's current price (and marked when no longer sold)."""
        ...

    def levels(self, sku: str) -> tuple[StockLevel, ...]:
        """Each shard's stock of ``sku``, in shard order; ``NotFound`` without inventory."""
        ...

    def perks(self, cart: StoredCart, sub: str | None, redeem: int, now: int) -> CheckoutPerks:
        """The cart's coupons checked again and ``redeem`` points planned for customer ``sub``:
        the totals the order carries."""
        ...

    def place(self, placement: Placement) -> Raced | None:
        """Write the placement; None when placed, ``Raced`` when a condition refused it. A
        coupon or points refusal raises its own problem (422, 409)."""
        ...


class DynamoCheckoutBook:
    """Carts, stock, coupons and points in DynamoDB; a placement is one transaction."""

    def load_cart(self, cart_id: str) -> StoredCart | None:
        cart = carts.load(cart_id)
        return carts.with_current_prices(cart) if cart is not None else None

    def levels(self, sku: str) -> tuple[StockLevel, ...]:
        return inventory.read_shards(sku).levels

    def perks(self, cart: StoredCart, sub: str | None, redeem: int, now: int) -> CheckoutPerks:
        domain = cart.to_domain(now)
        shipping = rule_for(domain.shipping_address)
        return consumption.prepare(domain.price_lines(), cart.coupons, sub, redeem, now, shipping)

    def place(self, placement: Placement) -> Raced | None:
        order_id = placement.order.order_id
        tx = LabelledTransaction()
        for line in placement.cart.lines:
            holds.hand_over_line(
                tx, placement.cart.cart_id, line, at=placement.at, now=placement.now
            )
        for sku, deltas in placement.retakes.items():
            for shard, delta in sorted(deltas.items()):
                label = store.stock_label(sku, shard)
                if delta > 0:
                    stock_moves.take(tx, sku, shard, delta, label=label)
                elif delta < 0:
                    stock_moves.release(tx, sku, shard, -delta, label=label)
        for sku, moves in placement.counts.items():
            flash_sales.apply_count_moves(tx, moves, sku)
        store.put_new_order(tx, placement.order, updated_at=placement.at)
        carts.check_out(tx, placement.cart, order_id, at=placement.at, now=placement.now)
        consumption.add_to_checkout(tx, placement.perks, order_id, placement.sub, placement.now)
        if tx.size > MAX_ITEMS:
            raise Conflict("This cart is too large to check out at once; split the order")
        failures = tx.commit()
        if not failures:
            return None
        plain = price(placement.order.order.price_lines()).totals
        refused = consumption.explain(
            failures, placement.perks, placement.sub, placement.now, plain
        )
        if refused is not None:
            raise refused
        over = flash_sales.refused_limit(failures)
        if over is not None:
            limits = [m.limit for m in placement.counts.get(over, ()) if m.limit is not None]
            raise PurchaseLimit(over, min(limits, default=0))
        failed = tuple(sorted(f.label for f in failures if f.code == CONDITION_FAILED))
        if not failed:
            raise RuntimeError(f"checkout cancelled: {[(f.label, f.code) for f in failures]}")
        return Raced(failed)


#: The process's checkout book: DynamoDB unless a test installed another (``use_checkout_book``).
checkout_book: Final = Adapter[CheckoutBook](DynamoCheckoutBook)
use_checkout_book: Final = checkout_book.use
