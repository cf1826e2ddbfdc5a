"""Stock holds: a cart line and its SKU's stock shards, changed together in one transaction.

A hold is a cart line carrying ``takes`` (units taken per shard) and ``expires_at``. Every change
is ONE TransactWriteItems call whose conditions state the invariant, never a read followed by
an unconditional write:

- each shard that gives units: ``available >= :d`` (the stock is there);
- each shard that takes units back: ``reserved >= :d`` (they were held);
- the line: exactly the version (and expiry) the plan was computed from, or absent for a new
  line; a live hold that is extended must still be live (``expires_at > :now``);
- the cart header: the caller's write right still holds.

A release by the sweeper is conditioned on the hold being unchanged and expired
(``expires_at <= :now``), so it can pass only once, whoever else races it; a checkout hands a
live line's units over to the order (``hand_over_line``) on the same kind of condition. Expiry
is never left to TTL deletion: neither emulator deletes expired items and DynamoDB may take
hours to.

A hold's shard updates are ``stock_moves.take`` and ``stock_moves.release``, the only place
their expressions are written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce.domain.flash_sales import Counted, CountMove
from commerce.domain.money import Money
from commerce.domain.reservations import Hold, Plan
from commerce.store import carts, flash_sales, keys, stock_moves
from commerce.store.carts import StoredCart, StoredLine
from commerce.store.kit import CONDITION_FAILED, THROTTLED
from commerce.store.tables.attributes import MoneyMap
from commerce.store.tables.carts import CartLineModel
from commerce.store.transactions import Failure, LabelledTransaction

_LINE = "line"


def apply_plan(tx: LabelledTransaction, sku: str, plan: Plan) -> None:
    """Add a plan's shard updates to ``tx`` (positive deltas take, negative give back)."""
    for shard, delta in enumerate(plan.deltas):
        if delta > 0:
            stock_moves.take(tx, sku, shard, delta)
        elif delta < 0:
            stock_moves.release(tx, sku, shard, -delta)


# --- Changing a line and its hold ----------------------------------------------------------------


class LineOutcome(Enum):
    """What a line write did; everything but APPLIED changed nothing."""

    APPLIED = "applied"
    LINE_CHANGED = "line-changed"  # a concurrent change of the same line: re-read, re-plan
    CART_CHANGED = "cart-changed"  # the caller's write right is gone (the cart was claimed)
    SHORT = "short"  # a shard no longer had the units the plan took from it
    THROTTLED = "throttled"  # DynamoDB throttled an item (a hot shard): nothing was written
    OVER_LIMIT = "over-limit"  # the owner's flash-sale count would pass the sale's limit
    COUNT_GONE = "count-gone"  # a give-back found less counted than the line says it counted


@dataclass(frozen=True)
class LineWrite:
    """A line write's outcome; for THROTTLED, the shards DynamoDB throttled (empty when it
    was the line or the cart)."""

    outcome: LineOutcome
    throttled_shards: frozenset[int] = frozenset()


@dataclass(frozen=True)
class LineChange:
    """One line set to ``quantity`` (0 removes it) with its hold moved by ``plan``.

    ``hold_after`` is the hold the line carries afterwards (None: the line holds nothing).
    """

    cart: StoredCart
    sku: str
    expected: StoredLine | None
    quantity: int
    unit_price: Money
    plan: Plan
    hold_after: Hold | None
    now: int
    at: str
    #: What the line counts against its owner's flash-sale limit afterwards, and the count
    #: changes that takes (``domain.flash_sales.count_moves``).
    counted_after: Counted | None = None
    count_moves: tuple[CountMove, ...] = ()


def _as_read(expected: StoredLine | None, now: int, extends_live_hold: bool) -> Condition:
    """The line is exactly as the plan saw it (and, for a live hold extended, still live).

    The expiry is compared as well as the version: a line removed and set again restarts its
    version, but never with the same hold expiry.
    """
    if expected is None:
        return CartLineModel.pk.does_not_exist()
    condition: Condition = CartLineModel.version == expected.version
    if expected.expires_at is None:
        condition &= CartLineModel.expires_at.does_not_exist()
    else:
        condition &= CartLineModel.expires_at == expected.expires_at
        if extends_live_hold:
            condition &= CartLineModel.expires_at > now
    return condition


def _line_item(change: LineChange) -> CartLineModel:
    cart_id = change.cart.cart_id
    hold = change.hold_after
    item = CartLineModel(
        keys.cart_pk(cart_id),
        keys.line_sk(change.sku),
        cart_id=cart_id,
        sku=change.sku,
        quantity=change.quantity,
        unit_price=MoneyMap(  # type: ignore[no-untyped-call]
            amount=change.unit_price.amount, currency=change.unit_price.currency
        ),
        version=(change.expected.version + 1) if change.expected else 1,
        updated_at=change.at,
    )
    counted = change.counted_after
    if counted is not None:
        item.sale_id = counted.sale_id
        item.sale_customer = counted.customer
        item.sale_units = counted.units
    if hold is not None:
        item.takes = {str(shard): units for shard, units in enumerate(hold.takes) if units}
        item.expires_at = hold.expires_at
        item.gsi1pk = keys.holds_gsi1pk(keys.hold_bucket(cart_id))
        item.gsi1sk = keys.holds_gsi1sk(hold.expires_at, cart_id, change.sku)
    return item


def write_line(change: LineChange) -> LineWrite:
    """Commit the line, its shard updates and the cart's touch as one transaction. A
    throttled item is reported at once (not retried here): the caller may take from another
    shard."""
    expected = change.expected
    live = expected is not None and expected.reserved_until(change.now) is not None
    condition = _as_read(expected, change.now, extends_live_hold=live)
    tx = LabelledTransaction()
    if change.quantity == 0:
        tx.delete(
            _LINE,
            CartLineModel(keys.cart_pk(change.cart.cart_id), keys.line_sk(change.sku)),
            condition,
        )
    else:
        tx.put(_LINE, _line_item(change), condition)
    apply_plan(tx, change.sku, change.plan)
    flash_sales.apply_count_moves(tx, change.count_moves, change.sku)
    carts.touch(tx, change.cart, at=change.at, now=change.now)
    return _outcome(tx.commit(throttling_fails=True))


def _outcome(failures: list[Failure]) -> LineWrite:
    if not failures:
        return LineWrite(LineOutcome.APPLIED)
    failed = {f.label for f in failures if f.code == CONDITION_FAILED}
    if _LINE in failed:
        return LineWrite(LineOutcome.LINE_CHANGED)
    if "cart" in failed:
        return LineWrite(LineOutcome.CART_CHANGED)
    if flash_sales.refused_limit(failures) is not None:
        return LineWrite(LineOutcome.OVER_LIMIT)
    if flash_sales.refused_release(failures):
        return LineWrite(LineOutcome.COUNT_GONE)
    if any(stock_moves.shard_of(label) is not None for label in failed):
        return LineWrite(LineOutcome.SHORT)
    throttled = {f.label for f in failures if f.code in THROTTLED}
    if throttled:
        shards = frozenset(
            shard for shard in map(stock_moves.shard_of, throttled) if shard is not None
        )
        return LineWrite(LineOutcome.THROTTLED, shards)
    raise RuntimeError(f"hold change cancelled: {[(f.label, f.code) for f in failures]}")


# --- Expired holds: the sweeper's side -----------------------------------------------------------


@dataclass(frozen=True)
class ExpiredHold:
    """A hold found through the index: enough to release it, and to state what was found."""

    cart_id: str
    line: StoredLine


def expired_holds(bucket: int, now: int, page_size: int = 100) -> Iterator[ExpiredHold]:
    """Holds of one index bucket with ``expires_at <= now``, oldest first, page by page.

    The index is eventually consistent; the release's condition, not this read, decides.
    """
    rows = CartLineModel.gsi1.query(
        keys.holds_gsi1pk(bucket),
        CartLineModel.gsi1sk < keys.holds_expired_before(now),
        page_size=page_size,
    )
    for row in rows:
        yield ExpiredHold(row.cart_id, carts.line_from_model(row))


def _no_longer_holding(at: str, *, uncounted: bool = False) -> list[Action]:
    """A line's hold attributes gone (and out of the expiry index), its version moved on; with
    ``uncounted``, what it counted against a flash-sale limit too (given back in the same
    transaction)."""
    actions: list[Action] = [
        CartLineModel.takes.remove(),
        CartLineModel.expires_at.remove(),
        CartLineModel.gsi1pk.remove(),
        CartLineModel.gsi1sk.remove(),
        CartLineModel.version.set(CartLineModel.version + 1),
        CartLineModel.updated_at.set(at),
    ]
    if uncounted:
        actions += [
            CartLineModel.sale_id.remove(),
            CartLineModel.sale_customer.remove(),
            CartLineModel.sale_units.remove(),
        ]
    return actions


#: The transaction label of a cart line handed over to an order (``hand_over_line``).
LINE_LABEL_PREFIX: Final = "line:"


def _as_read_at_checkout(line: StoredLine, now: int) -> Condition:
    """The line is exactly the version read, with the expiry read, and a hold that was live
    when read is live still."""
    condition: Condition = CartLineModel.version == line.version
    if line.expires_at is None:
        absent: Condition = condition & CartLineModel.expires_at.does_not_exist()
        return absent
    condition = condition & (CartLineModel.expires_at == line.expires_at)
    if line.reserved_until(now) is not None:
        condition = condition & (CartLineModel.expires_at > now)
    return condition


def hand_over_line(
    tx: LabelledTransaction, cart_id: str, line: StoredLine, *, at: str, now: int
) -> None:
    """Add to ``tx`` (a checkout): the line stops being a hold (label ``line:<sku>``). Its units
    stay reserved on the same shards, now the order's, and never expire: the sweeper cannot see
    the line any more."""
    tx.update(
        f"{LINE_LABEL_PREFIX}{line.sku}",
        CartLineModel(keys.cart_pk(cart_id), keys.line_sk(line.sku)),
        _no_longer_holding(at),
        _as_read_at_checkout(line, now),
    )


def _release_condition(line: StoredLine, now: int) -> Condition:
    expires_at = line.expires_at if line.expires_at is not None else 0
    condition: Condition = (
        (CartLineModel.version == line.version)
        & (CartLineModel.expires_at == expires_at)
        & (CartLineModel.expires_at <= now)
    )
    return condition


def release_expired(hold: ExpiredHold, now: int, at: str) -> bool:
    """Give an expired hold's units back and lapse its line; False if the line moved on.

    Exactly once: the line's condition (this version, this expiry, expired) can pass only once,
    and the customer's own change or a checkout moves the version first when it wins the race.
    """
    return _release(hold, _release_condition(hold.line, now), at)


def release_now(hold: ExpiredHold, at: str) -> bool:
    """Give a hold's units back now, live or not (its customer's erasure); False if the line
    moved on. Conditioned on the version and expiry read, so it passes at most once."""
    line = hold.line
    expires_at = line.expires_at if line.expires_at is not None else 0
    condition: Condition = (CartLineModel.version == line.version) & (
        CartLineModel.expires_at == expires_at
    )
    return _release(hold, condition, at)


def _release(hold: ExpiredHold, condition: Condition, at: str, *, give_count: bool = True) -> bool:
    """The hold's units back to their shards and, in the same transaction, what it counted
    against a flash-sale limit back to its customer (``give_count``: once that count is found
    tidied away, the hold is released without it rather than never)."""
    line = hold.line
    tx = LabelledTransaction()
    row = CartLineModel(keys.cart_pk(hold.cart_id), keys.line_sk(line.sku))
    tx.update(_LINE, row, _no_longer_holding(at, uncounted=True), condition)
    for shard, units in sorted(line.takes.items()):
        if units:
            stock_moves.release(tx, line.sku, shard, units)
    counted = line.counted
    if give_count and counted is not None:
        move = CountMove(counted.sale_id, counted.customer, -counted.units)
        flash_sales.apply_count_moves(tx, (move,), line.sku)
    failures = tx.commit()
    if not failures:
        return True
    if any(f.label == _LINE and f.code == CONDITION_FAILED for f in failures):
        return False
    if give_count and flash_sales.refused_release(failures):
        return _release(hold, condition, at, give_count=False)
    raise RuntimeError(f"hold release cancelled: {[(f.label, f.code) for f in failures]}")
