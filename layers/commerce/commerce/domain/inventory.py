"""Stock arithmetic: what is available, and which adjustments keep the books straight.

A SKU's stock may be split over several shards (rows) so a hot SKU can take more writes than
one DynamoDB item allows. Each shard keeps ``available = on_hand - reserved`` as a stored number
because DynamoDB conditions cannot do arithmetic; these functions are the rules those stored
numbers must follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

#: Largest change a single adjustment may make, either way.
MAX_DELTA: Final = 10**7
#: Shards a new SKU gets. Splitting a hot SKU raises it later; readers always sum over shards.
DEFAULT_SHARD_COUNT: Final = 1


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


def adjustment_shard(shard_count: int) -> int:
    """The shard an operator's adjustment goes to.

    With one shard there is no choice. When hot SKUs are split, this is where the choice
    (e.g. the shard with the most available for a negative delta) is made, and only here.
    """
    del shard_count
    return 0


def is_valid_delta(delta: int) -> bool:
    """A non-zero whole change within ``MAX_DELTA`` either way."""
    return not isinstance(delta, bool) and delta != 0 and abs(delta) <= MAX_DELTA
