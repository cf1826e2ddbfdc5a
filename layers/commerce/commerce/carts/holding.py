"""Setting a cart line and its stock hold together: read, plan, one transaction, bounded retry.

What a line change needs to know is read in ONE request (``look``: the SKU's offer, its stock
meta and every shard, the cart's line, the shipping zones), so a refusal for a SKU that has
nothing left costs that request alone, and nothing while a sold-out mark from the last second
says so (``carts.sold_out``). The plan comes from the pure reservation rules (``plan_set``);
the store's transaction then states, as conditions, exactly the state the plan was made from.
If another request changed the same line meanwhile, or a shard ran dry under the plan, nothing
was written: read again and re-plan, a few times, with jitter so racing requests spread out.

A shard DynamoDB throttles (its partition is at its ceiling) is treated like a dry one: the
plan is made again at once without it, from the same read, so a hot SKU spread over shards
keeps selling while one of them is busy; only when every shard that has the units is
throttled does the customer get 429 with Retry-After.

Once a commit has moved stock, the SKU's low-stock flag is settled from the read and what the
plan moved (outside the transaction, and without another read: an alert that cannot be sent
never undoes a hold).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from commerce import clock
from commerce.carts import sold_out
from commerce.catalog.low_stock import settle_low_stock
from commerce.clock import now_iso
from commerce.domain.inventory import StockLevel
from commerce.domain.money import Money
from commerce.domain.reservations import (
    Plan,
    Refusal,
    apply_to_hold,
    new_expiry,
    plan_set,
    preferred_shard,
)
from commerce.domain.shipping import ZoneTable
from commerce.errors import Conflict, NotFound, OutOfStock, TooManyRequests
from commerce.settings import get_settings
from commerce.store import batch_reads, carts, holds, inventory, kit, products
from commerce.store import shipping_zones as zone_store
from commerce.store.carts import StoredCart, StoredLine
from commerce.store.holds import LineChange, LineOutcome
from commerce.store.inventory import SkuShards
from commerce.store.products import SkuOffer

ATTEMPTS: Final = 6
#: The first pause's ceiling before a line is planned again (each later one may double).
_BACKOFF_SECONDS: Final = 0.02


@dataclass(frozen=True)
class Seen:
    """What one read found for a change of ``sku``'s line in a cart."""

    sku: str
    offer: SkuOffer | None
    stock: SkuShards | None
    zones: ZoneTable
    line: StoredLine | None


def look(cart_id: str, sku: str) -> Seen:
    """The SKU's offer and stock, the cart's line for it and the zone table: one BatchGetItem.

    The cart's line is read consistently; the rest eventually consistently, at half the read
    units: the SKU's meta and shards are read by every buyer of a hot SKU, and DynamoDB caps
    the reads of one key at 3,000 units a second. A stale read can only refuse a unit that came
    back an instant ago or plan a take that its conditional write then refuses (and the next
    plan reads consistently): it never oversells.
    """
    line_key = replace(carts.line_key(cart_id, sku), consistent=True)
    offer_key = products.offer_key(sku)
    zones_key = zone_store.table_key()
    found = batch_reads.read(
        [offer_key, *inventory.stock_keys(sku), zones_key, line_key], consistent=False
    )
    line = found.get(line_key)
    return Seen(
        sku=sku,
        offer=products.offer_from(found.get(offer_key)),
        stock=inventory.shards_from(sku, found),
        zones=zone_store.table_from(found.get(zones_key)),
        line=carts.line_from_model(line) if line is not None else None,
    )


def refusal(seen: Seen, cart_id: str, quantity: int) -> OutOfStock | None:
    """The out-of-stock answer when ``seen`` already shows the line cannot be set to
    ``quantity`` (None when it may be: the write decides). A SKU found with nothing available
    is marked sold out for this instance (``carts.sold_out``)."""
    stock = seen.stock
    if quantity == 0 or stock is None:
        return None
    count = stock.shard_count
    hold = seen.line.hold(count) if seen.line is not None else None
    plan = plan_set(stock.levels, hold, quantity, clock.now(), preferred_shard(cart_id, count))
    if not isinstance(plan, Refusal):
        return None
    if stock.level.available <= 0:
        sold_out.mark(seen.sku)
    return OutOfStock(seen.sku, stock.level.available)


def _out_of_stock(sku: str) -> OutOfStock:
    return OutOfStock(sku, inventory.read_shards(sku).level.available)


def _without(levels: tuple[StockLevel, ...], busy: set[int]) -> tuple[StockLevel, ...]:
    """The levels with the ``busy`` shards showing nothing available (a plan takes elsewhere)."""
    return tuple(
        StockLevel(level.reserved, level.reserved) if shard in busy else level
        for shard, level in enumerate(levels)
    )


def _settle_low_stock(sku: str, stock: SkuShards, plan: Plan) -> None:
    """The low-stock flag after ``plan`` was written over ``stock``: from the figures, no read."""
    available = stock.level.available - plan.total
    settle_low_stock(sku, available, stock.safety_stock, stock.low_stock)


def _busy(sku: str) -> TooManyRequests:
    return TooManyRequests(1, f"Every shard of {sku} with units left is busy; retry shortly")


def set_line(
    cart: StoredCart,
    sku: str,
    quantity: int,
    unit_price: Money | None,
    *,
    stock: SkuShards | None = None,
) -> StoredCart:
    """Make ``cart``'s line for ``sku`` exactly ``quantity`` units, held from now for the TTL.

    ``quantity`` 0 removes the line and releases what it holds; ``unit_price`` (the catalog's
    price now) is required otherwise. ``stock`` is the SKU's stock as the caller just read it
    (the first plan is made from it; later ones read again). Returns the cart as written.
    Raises OutOfStock, NotFound (the cart changed hands or vanished), the domain's CartError,
    or TooManyRequests when the line stays contended, or every shard with units is throttled.
    """
    ttl = get_settings().reservation_ttl_seconds
    short = False
    unread = [stock] if stock is not None else []

    def attempt(n: int) -> StoredCart | kit.Retry:
        nonlocal cart, short
        if n:
            reread = carts.load(cart.cart_id)
            if reread is None:
                raise NotFound("No such cart")
            cart = reread
        now = clock.now()
        old = cart.line(sku)
        if quantity == 0 and old is None:
            return cart
        price = unit_price if unit_price is not None else (old.unit_price if old else None)
        if price is None:
            raise ValueError("a unit price is needed to add a line")
        if quantity > 0:
            # The cart's own rules (line count, quantity bounds) before any stock moves.
            cart.to_domain(now).set_quantity(sku, quantity, price, new_expiry(now, ttl))
        read = unread.pop() if unread else inventory.read_shards(sku)  # NotFound if none
        count = read.shard_count
        hold = old.hold(count) if old else None
        preferred = preferred_shard(cart.cart_id, count)
        busy: set[int] = set()
        while True:
            plan = plan_set(_without(read.levels, busy), hold, quantity, now, preferred)
            if isinstance(plan, Refusal):
                if busy:
                    raise _busy(sku)
                if read.level.available <= 0:
                    sold_out.mark(sku)
                raise OutOfStock(sku, read.level.available)
            after = apply_to_hold(hold, plan, new_expiry(now, ttl)) if quantity else None
            change = LineChange(
                cart=cart,
                sku=sku,
                expected=old,
                quantity=quantity,
                unit_price=price,
                plan=plan,
                hold_after=after,
                now=now,
                at=now_iso(),
            )
            written = holds.write_line(change)
            if written.outcome is not LineOutcome.THROTTLED:
                break
            if not written.throttled_shards or written.throttled_shards <= busy:
                return kit.RETRY  # the line or the cart is busy, or no other shard helps
            busy |= written.throttled_shards
        outcome = written.outcome
        if outcome is LineOutcome.APPLIED:
            if plan.shards:  # stock moved: a take may cross below safety stock, a release back
                _settle_low_stock(sku, read, plan)
                if plan.total < 0:
                    sold_out.unmark(sku)
            return carts.with_line(cart, sku, _line_after(change))
        if outcome is LineOutcome.CART_CHANGED:
            current = carts.load(cart.cart_id)
            if current is not None and current.checked_out:
                raise Conflict("This cart has been checked out; it can no longer change")
            raise NotFound("No such cart")
        short = outcome is LineOutcome.SHORT
        return kit.RETRY

    def give_up() -> Exception:
        if short:
            return _out_of_stock(sku)
        return TooManyRequests(1, "This cart line is being changed concurrently; retry shortly")

    return kit.retry_on_conflict(
        attempt, give_up=give_up, attempts=ATTEMPTS, base_seconds=_BACKOFF_SECONDS
    )


def _line_after(change: LineChange) -> StoredLine | None:
    """The line as ``change`` wrote it (None: removed)."""
    if change.quantity == 0:
        return None
    hold = change.hold_after
    return StoredLine(
        sku=change.sku,
        quantity=change.quantity,
        unit_price=change.unit_price,
        version=(change.expected.version + 1) if change.expected else 1,
        takes={shard: units for shard, units in enumerate(hold.takes) if units} if hold else {},
        expires_at=hold.expires_at if hold else None,
    )
