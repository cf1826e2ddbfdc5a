"""Stock arithmetic: what is available, and which adjustments keep the books straight.

A SKU's stock may be split over several shards (rows) so a hot SKU can take more writes than
one DynamoDB item allows. Each shard keeps ``available = on_hand - reserved`` as a stored number
because DynamoDB conditions cannot do arithmetic; these functions are the rules those stored
numbers must follow, and the pure planners that decide how a change spreads over shards
(``plan_adjustment``, ``plan_reshard``) and when a SKU crosses its safety stock
(``low_stock_change``). The store turns a plan into one conditional transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

#: Largest change a single adjustment may make, either way.
MAX_DELTA: Final = 10**7
#: Shards a new SKU gets. Splitting a hot SKU raises it later; readers always sum over shards.
DEFAULT_SHARD_COUNT: Final = 1
#: Most shards a SKU may be split over: 32 shards carry ~16,000 transactional writes/s, and a
#: reshard (one row per shard plus the meta) stays far inside a transaction's 100 items.
MAX_SHARDS: Final = 32


class InventoryError(ValueError):
    """An adjustment the invariant forbids."""


@dataclass(frozen=True)
class StockLevel:
    """Units on hand and units held by carts, for one shard or summed over a SKU's shards."""

    on_hand: int
    reserved: int = 0

    @property
    def available(self) -> int:
        """What may still be sold: on hand minus held, never negative."""
        return max(0, self.on_hand - self.reserved)

    def __add__(self, other: StockLevel) -> StockLevel:
        return StockLevel(self.on_hand + other.on_hand, self.reserved + other.reserved)

    def can_apply(self, delta: int) -> bool:
        """True when ``on_hand + delta`` stays at or above ``reserved`` (and above zero)."""
        return self.on_hand + delta >= max(self.reserved, 0)

    def apply(self, delta: int) -> StockLevel:
        """The level after adding ``delta`` to on-hand stock, or InventoryError."""
        if not self.can_apply(delta):
            raise InventoryError(
                f"on_hand {self.on_hand} {delta:+d} would fall below reserved {self.reserved}"
            )
        return StockLevel(self.on_hand + delta, self.reserved)


@dataclass(frozen=True)
class InventoryView:
    """A SKU's stock as operators read it."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    safety_stock: int


def total(levels: Iterable[StockLevel]) -> StockLevel:
    """Sum of a SKU's shards (an empty SKU has nothing)."""
    result = StockLevel(0, 0)
    for level in levels:
        result = result + level
    return result


def shard_ids(shard_count: int) -> range:
    """Every shard number a SKU with ``shard_count`` shards has."""
    return range(max(1, shard_count))


def is_valid_delta(delta: int) -> bool:
    """A non-zero whole change within ``MAX_DELTA`` either way."""
    return not isinstance(delta, bool) and delta != 0 and abs(delta) <= MAX_DELTA


# --- Spreading a change over shards ----------------------------------------------------------


def _free(levels: Sequence[StockLevel]) -> list[int]:
    return [level.available for level in levels]


def _fill_up(free: Sequence[int], units: int) -> list[int]:
    """Split ``units`` over shards so the emptiest rise first (water-filling).

    Finds the lowest level every shard below it is raised to; the few units that overshoot come
    off the highest-numbered of the raised shards, so the split is deterministic.
    """
    adds = [0] * len(free)
    if units == 0:
        return adds
    low, high = min(free), min(free) + units
    while low < high:  # smallest water line that holds all the units
        line = (low + high) // 2
        if sum(max(0, line - f) for f in free) >= units:
            high = line
        else:
            low = line + 1
    adds = [max(0, low - f) for f in free]
    excess = sum(adds) - units
    for shard in reversed(range(len(free))):
        if excess == 0:
            break
        if adds[shard] > 0:
            adds[shard] -= 1
            excess -= 1
    return adds


def _drain(free: Sequence[int], units: int) -> list[int]:
    """Take ``units`` (at most ``sum(free)``) from the fullest shards first (water-draining)."""
    takes = [0] * len(free)
    if units == 0:
        return takes
    low, high = 0, max(free)
    while low < high:  # highest water line that still yields all the units
        line = (low + high + 1) // 2
        if sum(max(0, f - line) for f in free) >= units:
            low = line
        else:
            high = line - 1
    takes = [max(0, f - low) for f in free]
    excess = sum(takes) - units
    for shard in reversed(range(len(free))):
        if excess == 0:
            break
        if takes[shard] > 0:
            takes[shard] -= 1
            excess -= 1
    return takes


@dataclass(frozen=True)
class Shortfall:
    """A removal larger than what the SKU has available over all its shards."""

    requested: int
    available: int


def plan_adjustment(levels: Sequence[StockLevel], delta: int) -> tuple[int, ...] | Shortfall:
    """Per-shard changes of on-hand stock that add up to ``delta``, or a Shortfall.

    A positive delta fills the shards with the least available first; a negative one takes from
    the shards with the most available first, never more than a shard has available, so every
    shard keeps ``on_hand >= reserved`` and the shards drift towards even. With one shard the
    whole delta lands on it, exactly as unsharded stock.
    """
    if not levels:
        raise InventoryError("a SKU has at least one shard")
    free = _free(levels)
    if delta >= 0:
        return tuple(_fill_up(free, delta))
    if sum(free) < -delta:
        return Shortfall(requested=-delta, available=sum(free))
    return tuple(-take for take in _drain(free, -delta))


@dataclass(frozen=True)
class Reshard:
    """How on-hand stock moves when a SKU goes from ``from_count`` to ``to_count`` shards.

    ``deltas[i]`` is the change of shard ``i``'s on-hand stock, for every shard that exists
    before or after. Shards ``from_count..to_count-1`` are new rows holding ``deltas[i]``; shards
    ``to_count..from_count-1`` are removed (their delta is minus all they hold). The deltas add
    up to zero: resharding moves stock, it never creates or destroys it.
    """

    from_count: int
    to_count: int
    deltas: tuple[int, ...]

    @property
    def created(self) -> range:
        return range(self.from_count, self.to_count)

    @property
    def removed(self) -> range:
        return range(self.to_count, self.from_count)


@dataclass(frozen=True)
class ReshardRefusal:
    """Shards that would be removed still hold reserved units (carts' holds point at them)."""

    shards: tuple[int, ...]
    reserved: int


def even_split(units: int, count: int) -> list[int]:
    """``units`` over ``count`` shards as evenly as whole units allow, lower shards first."""
    base, extra = divmod(units, count)
    return [base + (1 if shard < extra else 0) for shard in range(count)]


def plan_reshard(levels: Sequence[StockLevel], to_count: int) -> Reshard | ReshardRefusal:
    """Plan to split (or merge) a SKU's shards into ``to_count`` with available spread evenly.

    Reserved units stay on the shard that holds them (holds record where they took from), so
    only available units move. Removing shards is refused while any of them holds reserved
    units.
    """
    from_count = len(levels)
    if from_count == 0:
        raise InventoryError("a SKU has at least one shard")
    if not 1 <= to_count <= MAX_SHARDS:
        raise InventoryError(f"a SKU has 1..{MAX_SHARDS} shards, not {to_count}")
    for level in levels:
        if level.on_hand < level.reserved:
            raise InventoryError("a shard holds more reserved than on hand")
    held = [(shard, levels[shard].reserved) for shard in range(to_count, from_count)]
    blocked = tuple(shard for shard, reserved in held if reserved > 0)
    if blocked:
        return ReshardRefusal(shards=blocked, reserved=sum(reserved for _, reserved in held))
    free = _free(levels)
    target = even_split(sum(free), to_count)
    deltas = [
        (target[shard] if shard < to_count else 0) - (free[shard] if shard < from_count else 0)
        for shard in range(max(from_count, to_count))
    ]
    return Reshard(from_count=from_count, to_count=to_count, deltas=tuple(deltas))


# --- Low stock ---------------------------------------------------------------------------------


class LowStockChange(Enum):
    """What a low-stock check found, given the SKU's flag."""

    NONE = "none"
    CROSSED_BELOW = "crossed_below"  # available fell below safety stock: flag it, emit once
    RECOVERED = "recovered"  # available is back at or above safety stock: clear the flag


def is_low(available: int, safety_stock: int) -> bool:
    """Low stock is strictly below the safety stock, so a safety stock of 0 never alerts."""
    return available < safety_stock


def low_stock_change(available: int, safety_stock: int, flagged: bool) -> LowStockChange:
    """The transition a check should make: one per crossing, in either direction."""
    low = is_low(available, safety_stock)
    if low and not flagged:
        return LowStockChange.CROSSED_BELOW
    if flagged and not low:
        return LowStockChange.RECOVERED
    return LowStockChange.NONE
