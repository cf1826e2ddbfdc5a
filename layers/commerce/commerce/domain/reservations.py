"""Stock holds over a SKU's inventory shards: which shards a change takes from or gives back to.

A hold is one cart's claim on one SKU. It records how many units it took from each shard, so a
release gives back exactly to the shards it took from. A hold is live while ``expires_at > now``
(epoch seconds); every change renews it to ``now + ttl``. An expired hold still counts in its
shards' ``reserved`` until it is released (by its cart or the sweeper), so changing an expired
hold first gives its stale units back and then takes the new quantity afresh.

Planning rule (docs/pricing.md, "Shard planning"): a change takes from the preferred shard (the
store picks it, e.g. ``preferred_shard(cart_id, n)``) when that shard alone suffices, else from
the first shard in rotation order after it that suffices alone, else greedily from the shards
with the most available (ties in rotation order), touching as few shards as it can. Releases give
back to the hold's non-preferred shards first, smallest first, so holds drift home. With one
shard every rule reduces to the unsharded one: take if ``available >= delta``, else refuse.

Key names, conditions and transactions are the store's; this module is only the arithmetic, the
plan, and a reference model (``Book``) with its invariant checker for tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from commerce.domain.inventory import InventoryError, StockLevel

#: How long a hold lasts after its last change, unless settings say otherwise (API.md).
DEFAULT_TTL_SECONDS: Final = 900


class ReservationError(ValueError):
    """A request the rules cannot even plan (negative quantities, shapes that do not fit)."""


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReservationError(f"{name} must be an integer")
    if value < 0:
        raise ReservationError(f"{name} must not be negative")
    return value


def preferred_shard(cart_id: str, shard_count: int) -> int:
    """A shard for ``cart_id`` that is stable across processes and spreads carts evenly."""
    if shard_count <= 1:
        return 0
    digest = hashlib.sha256(cart_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shard_count


def new_expiry(now: int, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> int:
    """When a hold changed at ``now`` expires."""
    if ttl_seconds <= 0:
        raise ReservationError("ttl_seconds must be positive")
    return now + ttl_seconds


def is_live(expires_at: int, now: int) -> bool:
    """The one expiry rule, the same one the store's conditions state: ``expires_at > now``."""
    return expires_at > now


def _available(level: StockLevel) -> int:
    """Units a plan may take from a shard: on_hand - reserved, never below zero."""
    return max(0, level.on_hand - level.reserved)


def _rotation(preferred: int, shard_count: int) -> list[int]:
    return [(preferred + step) % shard_count for step in range(shard_count)]


def _padded(takes: Sequence[int], shard_count: int) -> tuple[int, ...]:
    """A hold's per-shard takes widened to ``shard_count`` (a SKU may gain shards, never lose)."""
    if len(takes) > shard_count and any(takes[shard_count:]):
        raise ReservationError("a hold names a shard the SKU does not have")
    for take in takes:
        _check_count(take, "a hold's take")
    return tuple(takes[:shard_count]) + (0,) * max(0, shard_count - len(takes))


@dataclass(frozen=True)
class Plan:
    """Per-shard changes to ``reserved``: positive takes stock, negative gives it back.

    The store applies it as one transaction: on shard ``i``, ``reserved += deltas[i]`` and
    ``available -= deltas[i]``, conditioned on ``available >= deltas[i]`` where it is positive.
    """

    deltas: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.deltas)

    @property
    def shards(self) -> tuple[int, ...]:
        """The shards this plan writes to."""
        return tuple(i for i, d in enumerate(self.deltas) if d)


@dataclass(frozen=True)
class Refusal:
    """Not enough stock: ``available`` is what the SKU has free (this hold's stale units included).

    ``max_quantity`` is the most this hold could be set to right now.
    """

    requested: int
    available: int
    max_quantity: int


def plan_take(levels: Sequence[StockLevel], quantity: int, preferred: int = 0) -> Plan | Refusal:
    """Plan to take ``quantity`` more units over ``levels`` (one per shard), or refuse."""
    _check_count(quantity, "quantity")
    count = len(levels)
    if count == 0:
        raise ReservationError("a SKU has at least one shard")
    if not 0 <= preferred < count:
        raise ReservationError(f"preferred shard {preferred} out of range 0..{count - 1}")
    free = [_available(level) for level in levels]
    deltas = [0] * count
    if quantity == 0:
        return Plan(tuple(deltas))
    total_free = sum(free)
    if total_free < quantity:
        return Refusal(quantity, total_free, total_free)
    order = _rotation(preferred, count)
    alone = next((i for i in order if free[i] >= quantity), None)
    if alone is not None:
        deltas[alone] = quantity
        return Plan(tuple(deltas))
    rank = {shard: position for position, shard in enumerate(order)}
    remaining = quantity
    for shard in sorted(order, key=lambda i: (-free[i], rank[i])):
        take = min(free[shard], remaining)
        deltas[shard] = take
        remaining -= take
        if remaining == 0:
            break
    return Plan(tuple(deltas))


def plan_release(takes: Sequence[int], quantity: int, preferred: int = 0) -> Plan:
    """Plan to give back ``quantity`` of a hold's ``takes`` (negative deltas), shard by shard."""
    _check_count(quantity, "quantity")
    count = len(takes)
    held = _padded(takes, count)
    if quantity > sum(held):
        raise ReservationError(f"cannot give back {quantity}, the hold has {sum(held)}")
    deltas = [0] * count
    remaining = quantity
    home_last = sorted(range(count), key=lambda i: (i == preferred, held[i], i))
    for shard in home_last:
        give = min(held[shard], remaining)
        deltas[shard] = -give
        remaining -= give
    return Plan(tuple(deltas))


@dataclass(frozen=True)
class Hold:
    """One cart's hold on one SKU: units taken per shard, and when it lapses."""

    takes: tuple[int, ...]
    expires_at: int

    def __post_init__(self) -> None:
        for take in self.takes:
            _check_count(take, "a hold's take")

    @property
    def quantity(self) -> int:
        return sum(self.takes)

    def is_live(self, now: int) -> bool:
        return is_live(self.expires_at, now)

    def live_quantity(self, now: int) -> int:
        """What this hold guarantees its cart at ``now``: all of it, or nothing once expired."""
        return self.quantity if self.is_live(now) else 0


def plan_set(
    levels: Sequence[StockLevel],
    hold: Hold | None,
    quantity: int,
    now: int,
    preferred: int = 0,
) -> Plan | Refusal:
    """Plan to make a cart's hold exactly ``quantity`` units at ``now``.

    A live hold moves by the difference (taking more, or giving back from its own shards). An
    expired, unreleased hold gives back all its stale units and takes ``quantity`` afresh; the
    plan nets both per shard. The sum of the plan is ``quantity - hold.quantity``.
    """
    _check_count(quantity, "quantity")
    count = len(levels)
    if count == 0:
        raise ReservationError("a SKU has at least one shard")
    takes = _padded(hold.takes if hold else (), count)
    if hold is None or not hold.is_live(now):
        freed = [
            replace(level, reserved=level.reserved - t)
            for level, t in zip(levels, takes, strict=True)
        ]
        fresh = plan_take(freed, quantity, preferred)
        if isinstance(fresh, Refusal):
            return fresh
        return Plan(tuple(d - t for d, t in zip(fresh.deltas, takes, strict=True)))
    current = sum(takes)
    if quantity <= current:
        return plan_release(takes, current - quantity, preferred)
    more = plan_take(levels, quantity - current, preferred)
    if isinstance(more, Refusal):
        return Refusal(quantity - current, more.available, current + more.available)
    return more


def apply_to_levels(levels: Sequence[StockLevel], plan: Plan) -> tuple[StockLevel, ...]:
    """Shard levels after ``plan`` (what the store's transaction leaves behind)."""
    if len(plan.deltas) != len(levels):
        raise ReservationError("the plan and the levels name different shards")
    result = []
    for level, delta in zip(levels, plan.deltas, strict=True):
        reserved = level.reserved + delta
        if reserved < 0 or (delta > 0 and delta > _available(level)):
            raise ReservationError("the plan breaks 0 <= reserved <= on_hand")
        result.append(StockLevel(level.on_hand, reserved))
    return tuple(result)


def apply_to_hold(hold: Hold | None, plan: Plan, expires_at: int) -> Hold | None:
    """The hold after ``plan``, renewed to ``expires_at``; None once it holds nothing."""
    takes = _padded(hold.takes if hold else (), len(plan.deltas))
    after = tuple(t + d for t, d in zip(takes, plan.deltas, strict=True))
    if any(t < 0 for t in after):
        raise ReservationError("the plan gives back more than the hold took")
    return Hold(after, expires_at) if any(after) else None


# --- A reference model of one SKU: shards and holds together ----------------------------------


@dataclass(frozen=True)
class Book:
    """One SKU's shards and every unreleased hold on it, keyed by cart id. Immutable."""

    levels: tuple[StockLevel, ...]
    holds: Mapping[str, Hold] = field(default_factory=dict)

    @classmethod
    def opening(cls, on_hand: Sequence[int]) -> Book:
        return cls(tuple(StockLevel(_check_count(units, "on_hand")) for units in on_hand))

    @property
    def total(self) -> StockLevel:
        return StockLevel(
            sum(level.on_hand for level in self.levels),
            sum(level.reserved for level in self.levels),
        )

    def set_hold(
        self, cart_id: str, quantity: int, now: int, ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> Book | Refusal:
        """Hold exactly ``quantity`` for ``cart_id`` until ``now + ttl``; 0 releases the hold."""
        hold = self.holds.get(cart_id)
        preferred = preferred_shard(cart_id, len(self.levels))
        plan = plan_set(self.levels, hold, quantity, now, preferred)
        if isinstance(plan, Refusal):
            return plan
        after = apply_to_hold(hold, plan, new_expiry(now, ttl_seconds))
        holds = {k: v for k, v in self.holds.items() if k != cart_id}
        if after is not None:
            holds[cart_id] = after
        return Book(apply_to_levels(self.levels, plan), holds)

    def release(self, cart_id: str) -> Book:
        """Give a hold's units back to the shards it took them from (no hold: nothing changes)."""
        hold = self.holds.get(cart_id)
        if hold is None:
            return self
        plan = Plan(tuple(-t for t in _padded(hold.takes, len(self.levels))))
        holds = {k: v for k, v in self.holds.items() if k != cart_id}
        return Book(apply_to_levels(self.levels, plan), holds)

    def sweep(self, now: int) -> Book:
        """Release every hold that is no longer live at ``now``."""
        book = self
        for cart_id, hold in self.holds.items():
            if not hold.is_live(now):
                book = book.release(cart_id)
        return book

    def adjust(self, shard: int, delta: int) -> Book:
        """Add ``delta`` to a shard's on-hand stock; InventoryError if it would drop below held."""
        levels = list(self.levels)
        levels[shard] = levels[shard].apply(delta)
        return Book(tuple(levels), self.holds)

    def deduct(self, cart_id: str, now: int) -> Book:
        """Checkout: a live hold's units leave stock (on_hand and reserved both drop by them)."""
        hold = self.holds.get(cart_id)
        if hold is None or not hold.is_live(now):
            raise InventoryError(f"no live hold for {cart_id!r} to commit")
        takes = _padded(hold.takes, len(self.levels))
        levels = tuple(
            StockLevel(level.on_hand - t, level.reserved - t)
            for level, t in zip(self.levels, takes, strict=True)
        )
        return Book(levels, {k: v for k, v in self.holds.items() if k != cart_id})


def violations(book: Book, now: int | None = None) -> list[str]:
    """Every broken invariant of ``book``; empty when the books are straight.

    Always: per shard ``0 <= reserved <= on_hand`` and ``reserved`` equals the units the
    unreleased holds took from it (so no unit is held twice). With ``now`` (checked after a
    sweep): every unreleased hold is live, so ``reserved`` equals the sum of live holds.
    """
    found: list[str] = []
    count = len(book.levels)
    held = [0] * count
    for cart_id, hold in book.holds.items():
        if hold.quantity == 0:
            found.append(f"hold {cart_id!r} holds nothing but was kept")
        if len(hold.takes) > count and any(hold.takes[count:]):
            found.append(f"hold {cart_id!r} names a shard the SKU does not have")
        for shard, take in enumerate(hold.takes[:count]):
            held[shard] += take
        if now is not None and not hold.is_live(now):
            found.append(f"hold {cart_id!r} expired at {hold.expires_at} but is unreleased")
    for shard, level in enumerate(book.levels):
        if not 0 <= level.reserved <= level.on_hand:
            found.append(f"shard {shard}: reserved {level.reserved}, on_hand {level.on_hand}")
        if level.reserved != held[shard]:
            found.append(f"shard {shard}: reserved {level.reserved}, holds took {held[shard]}")
        if level.on_hand - level.reserved != level.available:
            found.append(f"shard {shard}: available != on_hand - reserved")
    return found
