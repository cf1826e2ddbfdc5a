"""Setting a cart line and its stock hold together: read, plan, one transaction, bounded retry.

The plan comes from the pure reservation rules (``plan_set``) over a consistent read of the
line and every shard of the SKU; the store's transaction then states, as conditions, exactly the
state the plan was made from. If another request changed the same line meanwhile, or a shard
ran dry under the plan, nothing was written: read again and re-plan, a few times, with jitter so
racing requests spread out. A refusal by the rules is the 409 out-of-stock. Once a commit has
moved stock, the SKU's low-stock flag is re-evaluated (outside the transaction: an alert that
cannot be sent never undoes a hold).
"""

from __future__ import annotations

from typing import Final

from commerce import clock
from commerce.catalog.low_stock import check_low_stock
from commerce.clock import now_iso
from commerce.domain.money import Money
from commerce.domain.reservations import (
    Refusal,
    apply_to_hold,
    new_expiry,
    plan_set,
    preferred_shard,
)
from commerce.errors import Conflict, NotFound, OutOfStock, TooManyRequests
from commerce.settings import get_settings
from commerce.store import carts, holds, inventory, kit
from commerce.store.carts import StoredCart
from commerce.store.holds import LineChange, LineOutcome

ATTEMPTS: Final = 6
#: The first pause's ceiling before a line is planned again (each later one may double).
_BACKOFF_SECONDS: Final = 0.02


def _out_of_stock(sku: str) -> OutOfStock:
    return OutOfStock(sku, inventory.read_shards(sku).level.available)


def set_line(cart: StoredCart, sku: str, quantity: int, unit_price: Money | None) -> StoredCart:
    """Make ``cart``'s line for ``sku`` exactly ``quantity`` units, held from now for the TTL.

    ``quantity`` 0 removes the line and releases what it holds; ``unit_price`` (the catalog's
    price now) is required otherwise. Returns the cart as read before the final attempt.
    Raises OutOfStock, NotFound (the cart changed hands or vanished), the domain's CartError,
    or TooManyRequests when the line stays contended past the retries.
    """
    ttl = get_settings().reservation_ttl_seconds
    short = False

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
        stock = inventory.read_shards(sku)  # every shard, consistently; NotFound if none
        count = len(stock.levels)
        hold = old.hold(count) if old else None
        plan = plan_set(stock.levels, hold, quantity, now, preferred_shard(cart.cart_id, count))
        if isinstance(plan, Refusal):
            raise OutOfStock(sku, stock.level.available)
        change = LineChange(
            cart=cart,
            sku=sku,
            expected=old,
            quantity=quantity,
            unit_price=price,
            plan=plan,
            hold_after=apply_to_hold(hold, plan, new_expiry(now, ttl)) if quantity else None,
            now=now,
            at=now_iso(),
        )
        outcome = holds.write_line(change)
        if outcome is LineOutcome.APPLIED:
            if plan.shards:  # stock moved: a take may cross below safety stock, a release back
                check_low_stock(sku)  # after the commit, never inside it; it never raises
            return cart
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
