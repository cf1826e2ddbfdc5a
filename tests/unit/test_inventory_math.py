"""Inventory arithmetic: availability, the on_hand >= reserved invariant, shard sums, and the
pure planners that spread adjustments and reshards over shards and detect low stock."""

from __future__ import annotations

import pytest
from commerce.domain.inventory import (
    MAX_DELTA,
    MAX_SHARDS,
    InventoryError,
    LowStockChange,
    Reshard,
    ReshardRefusal,
    Shortfall,
    StockLevel,
    even_split,
    is_low,
    is_valid_delta,
    low_stock_change,
    plan_adjustment,
    plan_reshard,
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


def test_a_sku_always_has_one_shard() -> None:
    assert list(shard_ids(0)) == [0]


# --- plan_adjustment ---------------------------------------------------------------------------

small = st.integers(min_value=0, max_value=1000)
shard_levels = st.lists(
    st.tuples(small, small).map(lambda t: StockLevel(max(t), min(t))), min_size=1, max_size=12
)
small_deltas = st.integers(min_value=-5000, max_value=5000)


def _after(levels: list[StockLevel], changes: tuple[int, ...]) -> list[StockLevel]:
    return [level.apply(change) for level, change in zip(levels, changes, strict=True)]


@given(shard_levels, small_deltas)
def test_adjustment_plan_sums_to_delta_or_reports_the_total(
    levels: list[StockLevel], delta: int
) -> None:
    plan = plan_adjustment(levels, delta)
    free = sum(level.available for level in levels)
    if isinstance(plan, Shortfall):
        assert delta < 0
        assert free < -delta
        assert plan == Shortfall(requested=-delta, available=free)
        return
    assert len(plan) == len(levels)
    assert sum(plan) == delta
    after = _after(levels, plan)  # apply() refuses anything that breaks on_hand >= reserved
    assert total(after).on_hand == total(levels).on_hand + delta
    assert total(after).reserved == total(levels).reserved


@given(shard_levels, small_deltas)
def test_adjustment_never_takes_more_than_a_shard_has(levels: list[StockLevel], delta: int) -> None:
    plan = plan_adjustment(levels, delta)
    if isinstance(plan, Shortfall):
        return
    for level, change in zip(levels, plan, strict=True):
        assert -level.available <= change
        assert (change >= 0) if delta >= 0 else (change <= 0)


@given(shard_levels, small_deltas)
def test_adjustment_evens_shards_out(levels: list[StockLevel], delta: int) -> None:
    """Units go to the emptiest shards and come from the fullest: a shard that received is never
    left above one that could have received instead, and likewise for removals."""
    plan = plan_adjustment(levels, delta)
    if isinstance(plan, Shortfall) or delta == 0:
        return
    after = [level.available for level in _after(levels, plan)]
    touched = [shard for shard, change in enumerate(plan) if change]
    untouched = [shard for shard, change in enumerate(plan) if not change]
    if delta > 0:
        assert all(after[t] <= after[u] + 1 for t in touched for u in range(len(after)))
        assert all(levels[u].available >= after[t] - 1 for t in touched for u in untouched)
    else:
        assert all(after[t] + 1 >= after[u] for t in touched for u in range(len(after)))
        assert all(levels[u].available <= after[t] + 1 for t in touched for u in untouched)


@given(valid_levels.filter(lambda lv: lv.on_hand <= 10**6), small_deltas)
def test_one_shard_adjustment_equals_unsharded(level: StockLevel, delta: int) -> None:
    plan = plan_adjustment([level], delta)
    if level.can_apply(delta):
        assert plan == (delta,)
    else:
        assert plan == Shortfall(requested=-delta, available=level.available)


def test_adjustment_examples() -> None:
    levels = [StockLevel(5), StockLevel(1), StockLevel(9, 4), StockLevel(0)]
    assert plan_adjustment(levels, 4) == (0, 2, 0, 2)  # emptiest first, lower shard breaks ties
    assert plan_adjustment(levels, -1) == (-1, 0, 0, 0)  # from the fullest (5 and 5 tie)
    assert plan_adjustment(levels, -11) == (-5, -1, -5, 0)
    assert plan_adjustment(levels, -12) == Shortfall(requested=12, available=11)
    with pytest.raises(InventoryError):
        plan_adjustment([], 1)


# --- plan_reshard ------------------------------------------------------------------------------

shard_counts = st.integers(min_value=1, max_value=MAX_SHARDS)


@given(shard_levels, shard_counts)
def test_reshard_moves_stock_without_creating_or_losing_any(
    levels: list[StockLevel], to_count: int
) -> None:
    plan = plan_reshard(levels, to_count)
    removed = levels[to_count:]
    if isinstance(plan, ReshardRefusal):
        assert any(level.reserved for level in removed)
        assert plan.reserved == sum(level.reserved for level in removed)
        assert all(levels[shard].reserved > 0 for shard in plan.shards)
        return
    assert sum(plan.deltas) == 0
    assert len(plan.deltas) == max(len(levels), to_count)
    padded = levels + [StockLevel(0)] * (to_count - len(levels))
    after = [level.apply(change) for level, change in zip(padded, plan.deltas, strict=False)]
    kept = after[:to_count]
    assert all(level == StockLevel(0) for level in after[to_count:])  # removed rows are emptied
    assert total(kept).on_hand == total(levels).on_hand
    assert total(kept).reserved == total(levels).reserved
    spread = [level.available for level in kept]
    assert max(spread) - min(spread) <= 1
    for shard, change in enumerate(plan.deltas):  # sources give at most what they have free
        if shard < len(levels):
            assert -levels[shard].available <= change


@given(shard_levels)
def test_reshard_to_the_same_count_only_evens_out(levels: list[StockLevel]) -> None:
    plan = plan_reshard(levels, len(levels))
    assert isinstance(plan, Reshard)
    assert list(plan.created) == list(plan.removed) == []


def test_reshard_examples() -> None:
    one = [StockLevel(100, 90)]
    assert plan_reshard(one, 4) == Reshard(1, 4, (-7, 3, 2, 2))
    four = [StockLevel(3), StockLevel(3), StockLevel(2, 0), StockLevel(2)]
    merged = plan_reshard(four, 1)
    assert merged == Reshard(4, 1, (7, -3, -2, -2))
    assert list(merged.removed) == [1, 2, 3]
    assert plan_reshard([StockLevel(3), StockLevel(3, 1)], 1) == ReshardRefusal((1,), 1)
    with pytest.raises(InventoryError):
        plan_reshard(one, MAX_SHARDS + 1)
    with pytest.raises(InventoryError):
        plan_reshard([StockLevel(1, 2)], 2)


@given(st.integers(min_value=0, max_value=10**6), shard_counts)
def test_even_split(units: int, count: int) -> None:
    split = even_split(units, count)
    assert sum(split) == units
    assert max(split) - min(split) <= 1
    assert split == sorted(split, reverse=True)


# --- low stock ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "safety", "flagged", "change"),
    [
        (4, 5, False, LowStockChange.CROSSED_BELOW),
        (4, 5, True, LowStockChange.NONE),
        (5, 5, True, LowStockChange.RECOVERED),
        (5, 5, False, LowStockChange.NONE),
        (0, 0, False, LowStockChange.NONE),  # a safety stock of 0 never alerts
        (0, 0, True, LowStockChange.RECOVERED),
    ],
)
def test_low_stock_transitions(
    available: int, safety: int, flagged: bool, change: LowStockChange
) -> None:
    assert low_stock_change(available, safety, flagged) is change


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=40), st.integers(0, 20))
def test_one_alert_per_crossing(series: list[int], safety: int) -> None:
    """Following the flag along any series of availabilities alerts once per fall below."""
    flagged, alerts = False, 0
    for available in series:
        change = low_stock_change(available, safety, flagged)
        if change is LowStockChange.CROSSED_BELOW:
            flagged, alerts = True, alerts + 1
        elif change is LowStockChange.RECOVERED:
            flagged = False
        assert flagged == is_low(available, safety)
    lows = [is_low(a, safety) for a in series]
    falls = sum(1 for i, low in enumerate(lows) if low and (i == 0 or not lows[i - 1]))
    assert alerts == falls
