"""Inventory arithmetic: availability, the on_hand >= reserved invariant, shard sums."""

from __future__ import annotations

import pytest
from commerce.domain.inventory import (
    MAX_DELTA,
    InventoryError,
    StockLevel,
    adjustment_shard,
    is_valid_delta,
    shard_ids,
    total,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

counts = st.integers(min_value=0, max_value=10**7)
levels = st.builds(StockLevel, counts, counts)
valid_levels = st.tuples(counts, counts).map(lambda t: StockLevel(max(t), min(t)))
deltas = st.integers(min_value=-MAX_DELTA, max_value=MAX_DELTA)


@given(levels)
def test_available_is_never_negative(level: StockLevel) -> None:
    assert level.available >= 0
    assert level.available == max(0, level.on_hand - level.reserved)


@given(valid_levels, deltas)
def test_apply_keeps_invariant_or_refuses(level: StockLevel, delta: int) -> None:
    if level.on_hand + delta >= level.reserved:
        after = level.apply(delta)
        assert after.on_hand == level.on_hand + delta
        assert after.reserved == level.reserved
        assert after.on_hand >= after.reserved
        assert after.available == level.available + delta
    else:
        with pytest.raises(InventoryError):
            level.apply(delta)


@given(valid_levels)
def test_can_remove_exactly_the_available_amount(level: StockLevel) -> None:
    assert level.can_apply(-level.available)
    assert not level.can_apply(-level.available - 1)


@given(valid_levels, deltas)
def test_apply_then_reverse_round_trips(level: StockLevel, delta: int) -> None:
    if level.can_apply(delta):
        after = level.apply(delta)
        assert after.can_apply(-delta)
        assert after.apply(-delta) == level


@given(st.lists(levels, max_size=8))
def test_total_sums_shards(shards: list[StockLevel]) -> None:
    summed = total(shards)
    assert summed.on_hand == sum(s.on_hand for s in shards)
    assert summed.reserved == sum(s.reserved for s in shards)


def test_total_of_no_shards_is_empty() -> None:
    assert total([]) == StockLevel(0, 0)


@pytest.mark.parametrize(
    ("delta", "valid"),
    [
        (1, True),
        (-1, True),
        (MAX_DELTA, True),
        (-MAX_DELTA, True),
        (0, False),
        (MAX_DELTA + 1, False),
        (-MAX_DELTA - 1, False),
        (True, False),
    ],
)
def test_delta_rules(delta: int, valid: bool) -> None:
    assert is_valid_delta(delta) is valid


@given(st.integers(min_value=1, max_value=64))
def test_adjustment_goes_to_an_existing_shard(shard_count: int) -> None:
    assert adjustment_shard(shard_count) in shard_ids(shard_count)
    assert len(shard_ids(shard_count)) == shard_count


def test_a_sku_always_has_one_shard() -> None:
    assert list(shard_ids(0)) == [0]
