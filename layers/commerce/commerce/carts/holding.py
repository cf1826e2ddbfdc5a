"""Setting a cart line and its stock hold together: read, plan, one transaction, bounded retry.

What a line change needs to know is read in ONE request (``look``: the SKU's offer, the stock
shard the cart prefers and the SKU's meta, the cart's line, the shipping zones), so a refusal
for a SKU that has nothing left costs that request alone (a second one when the SKU has other
shards to look at), and nothing while a sold-out mark from the last second says so
(``carts.sold_out``). The plan comes from the pure reservation rules (``plan_set``);
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
from typing import Any, Final

from commerce import clock
from commerce.carts import sold_out
from commerce.catalog.low_stock import check_low_stock, settle_low_stock
from commerce.clock import now_iso
from commerce.domain.flash_sales import FlashSale, count_moves
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
from commerce.errors import Conflict, NotFound, OutOfStock, PurchaseLimit, TooManyRequests
from commerce.settings import get_settings
from commerce.store import batch_reads, carts, erasures, holds, inventory, kit, products
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
    #: The caller's subject asked to be erased (their tombstone was in the batch).
    erased: bool = False


def look(cart_id: str, sku: str, subject: str | None = None) -> Seen:
    """The SKU's offer, the shard the cart prefers (and the SKU's meta unless it was read in
    the last second), the cart's line and the zone table: one BatchGetItem.

    The cart's line is read consistently; the rest eventually consistently, at half the read
    units: every buyer of a hot SKU reads its offer and a shard, and DynamoDB caps the reads of
    one key at 3,000 units a second. A stale read can only refuse a unit that came back an
    instant ago or plan a take that its conditional write then refuses (and the next plan
    reads consistently): it never oversells. With ``subject`` (a signed-in caller) their
    erasure tombstone is read in the same batch (the route's entrypoint leaves it to this).
    """
    shard = preferred_shard(cart_id, inventory.known_shard_count(sku))
    line_key = replace(carts.line_key(cart_id, sku), consistent=True)
    offer_key = products.offer_key(sku)
    zones_key = zone_store.table_key()
    wanted: list[batch_reads.Key[Any]] = [
        offer_key,
        *inventory.hold_keys(sku, shard),
        zones_key,
        line_key,
    ]
    tombstone = erasures.tombstone_key(subject) if subject is not None else None
    if tombstone is not None:
        wanted.append(tombstone)
    found = batch_reads.read(wanted, consistent=False)
    line = found.get(line_key)
    return Seen(
        sku=sku,
        offer=products.offer_from(found.get(offer_key)),
        stock=inventory.hold_stock_from(sku, found, shard),
        zones=zone_store.table_from(found.get(zones_key)),
        line=carts.line_from_model(line) if line is not None else None,
        erased=tombstone is not None and found.get(tombstone) is not None,
    )


def _plan(stock: SkuShards, line: StoredLine | None, cart_id: str, quantity: int) -> Plan | Refusal:
    count = stock.shard_count
    hold = line.hold(count) if line is not None else None
    return plan_set(stock.levels, hold, quantity, clock.now(), preferred_shard(cart_id, count))


def stock_for(seen: Seen, cart_id: str, quantity: int) -> SkuShards | None:
    """The stock to plan the change from: what ``look`` read, or every shard (a second read)
    when the one shard read cannot cover it. Raises OutOfStock when the SKU cannot; a SKU found
    with nothing available is marked sold out for this instance (``carts.sold_out``)."""
    stock = seen.stock
    if quantity == 0 or stock is None:
        return stock
    if isinstance(_plan(stock, seen.line, cart_id, quantity), Refusal) and not stock.complete:
        stock = inventory.read_shards(seen.sku, consistent=False)
    if isinstance(_plan(stock, seen.line, cart_id, quantity), Refusal):
        if stock.level.available <= 0:
            sold_out.mark(seen.sku)
        raise OutOfStock(seen.sku, stock.level.available)
    return stock


def _out_of_stock(sku: str) -> OutOfStock:
    return OutOfStock(sku, inventory.read_shards(sku).level.available)


def _without(levels: tuple[StockLevel, ...], busy: set[int]) -> tuple[StockLevel, ...]:
    """The levels with the ``busy`` shards showing nothing available (a plan takes elsewhere)."""
    return tuple(
        StockLevel(level.reserved, level.reserved) if shard in busy else level
        for shard, level in enumerate(levels)
    )


def _settle_low_stock(sku: str, stock: SkuShards, plan: Plan) -> None:
    """The low-stock flag after ``plan`` was written over ``stock``: from the figures when every
    shard was read. From one shard's figures only when they say it matters: a shard taken down
    to its share of the safety stock, or a release while the flag is up, asks for the whole
    picture (``check_low_stock`` reads every shard); otherwise nothing is read."""
    if stock.complete:
        available = stock.level.available - plan.total
        settle_low_stock(sku, available, stock.safety_stock, stock.low_stock)
        return
    share = -(-stock.safety_stock // max(1, stock.shard_count))
    taken_low = any(
        stock.levels[shard].available - plan.deltas[shard] <= share
        for shard in plan.shards
        if plan.deltas[shard] > 0
    )
    if taken_low or (stock.low_stock and plan.total < 0):
        check_low_stock(sku)


def _busy(sku: str) -> TooManyRequests:
    return TooManyRequests(1, f"Every shard of {sku} with units left is busy; retry shortly")


def set_line(
    cart: StoredCart,
    sku: str,
    quantity: int,
    unit_price: Money | None,
    *,
    stock: SkuShards | None = None,
    sale: FlashSale | None = None,
) -> StoredCart:
    """Make ``cart``'s line for ``sku`` exactly ``quantity`` units, held from now for the TTL.

    ``quantity`` 0 removes the line and releases what it holds; ``unit_price`` (the catalog's
    price now) is required otherwise. ``stock`` is the SKU's stock as the caller just read it
    (the first plan is made from it; later ones read again). ``sale`` is the flash sale live
    on the SKU: the line then counts its units against the cart owner's limit in the same
    transaction (``domain.flash_sales.count_moves``). Returns the cart as written.
    Raises OutOfStock, PurchaseLimit, NotFound (the cart changed hands or vanished), the
    domain's CartError, or TooManyRequests when the line stays contended, or every shard with
    units is throttled.
    """
    ttl = get_settings().reservation_ttl_seconds
    short = False
    unread = [stock] if stock is not None else []
    give_back_count = True  # False once a give-back found its count tidied away

    def attempt(n: int) -> StoredCart | kit.Retry:
        nonlocal cart, short, give_back_count
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
        counted = old.counted if old is not None and give_back_count else None
        counted_after, moves = count_moves(counted, sale, cart.owner_sub, quantity)
        busy: set[int] = set()
        while True:
            plan = plan_set(_without(read.levels, busy), hold, quantity, now, preferred)
            if isinstance(plan, Refusal) and not read.complete:
                read = inventory.read_shards(sku)  # one shard was read: look at them all
                continue
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
                counted_after=counted_after,
                count_moves=moves,
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
        if outcome is LineOutcome.OVER_LIMIT and sale is not None:
            raise PurchaseLimit(sku, sale.per_customer_limit)
        if outcome is LineOutcome.COUNT_GONE:
            give_back_count = False
            return kit.RETRY
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
        counted=change.counted_after,
    )
