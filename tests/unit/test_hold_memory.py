"""What a function instance remembers between holds, on a fake clock, without any table.

- ``carts.sold_out``: a mark stands for exactly ``MARK_SECONDS`` (a read at most a second ago
  said sold out), is forgotten at once by ``unmark``, and the marks never grow past their bound;
- ``store.inventory``'s meta memory: a SKU's shard count is remembered; its meta (shard count,
  safety stock, flag) is believed for ``META_SECONDS``, so a hold asks for it at most once a
  second and otherwise reads one shard alone; the levels a hold sees name only the shard read
  (``complete`` only for a one-shard SKU); the memory is bounded and forgotten on demand.
"""

from __future__ import annotations

from typing import Any

import pytest
from commerce.carts import sold_out
from commerce.domain.inventory import DEFAULT_SHARD_COUNT, StockLevel
from commerce.store import batch_reads, inventory, keys
from commerce.store.tables.inventory import SkuMetaModel, StockShardModel
from monotonic_clock import MonotonicClock, drive


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> MonotonicClock:
    return drive(monkeypatch, sold_out, inventory)


# --- sold-out marks --------------------------------------------------------------------------


def test_a_mark_stands_for_exactly_its_second(clock: MonotonicClock) -> None:
    assert not sold_out.marked("SO-1")
    sold_out.mark("SO-1")
    assert sold_out.marked("SO-1")
    clock.now += sold_out.MARK_SECONDS
    assert sold_out.marked("SO-1")
    clock.now += 0.001
    assert not sold_out.marked("SO-1")
    clock.now -= 0.5  # an expired mark is dropped, not revived by a clock read again
    assert not sold_out.marked("SO-1")


def test_a_new_mark_restarts_the_second(clock: MonotonicClock) -> None:
    sold_out.mark("SO-2")
    clock.now += 0.75
    sold_out.mark("SO-2")
    clock.now += 0.75
    assert sold_out.marked("SO-2")


def test_unmark_forgets_at_once_and_only_that_sku(clock: MonotonicClock) -> None:
    sold_out.mark("SO-3")
    sold_out.mark("SO-4")
    sold_out.unmark("SO-3")
    sold_out.unmark("SO-never-marked")
    assert not sold_out.marked("SO-3")
    assert sold_out.marked("SO-4")


def test_marks_are_bounded(clock: MonotonicClock) -> None:
    bound = sold_out._MAX_MARKS
    for n in range(bound):
        sold_out.mark(f"SO-MANY-{n}")
    assert len(sold_out._marks) == bound
    sold_out.mark("SO-ONE-MORE")
    assert len(sold_out._marks) <= bound
    assert sold_out.marked("SO-ONE-MORE")


def test_forget_drops_every_mark(clock: MonotonicClock) -> None:
    sold_out.mark("SO-5")
    sold_out.forget()
    assert not sold_out.marked("SO-5")


# --- the meta memory -------------------------------------------------------------------------


def _meta(sku: str, shard_count: int, safety_stock: int = 3, low: bool = False) -> dict[str, Any]:
    return {
        "pk": {"S": keys.sku_pk(sku)},
        "sk": {"S": keys.META_SK},
        "sku": {"S": sku},
        "shard_count": {"N": str(shard_count)},
        "safety_stock": {"N": str(safety_stock)},
        "low_stock": {"BOOL": low},
    }


def _shard(sku: str, shard: int, on_hand: int, reserved: int) -> dict[str, Any]:
    return {
        "pk": {"S": keys.stock_pk(sku, shard)},
        "sk": {"S": keys.STOCK_SK},
        "sku": {"S": sku},
        "shard": {"N": str(shard)},
        "on_hand": {"N": str(on_hand)},
        "reserved": {"N": str(reserved)},
        "available": {"N": str(on_hand - reserved)},
    }


def _found(*items: dict[str, Any]) -> batch_reads.Found:
    """What a BatchGetItem of the inventory table answered."""
    table = str(StockShardModel.Meta.table_name)
    assert table == str(SkuMetaModel.Meta.table_name)
    return batch_reads.Found({(table, i["pk"]["S"], i["sk"]["S"]): i for i in items})


def _pks(wanted: list[Any]) -> list[str]:
    return [key.hash_key for key in wanted]


def test_before_any_read_a_hold_asks_for_shard_zero_and_the_meta(clock: MonotonicClock) -> None:
    assert inventory.known_shard_count("MM-1") == DEFAULT_SHARD_COUNT
    assert _pks(inventory.hold_keys("MM-1", 0)) == [keys.stock_pk("MM-1", 0), keys.sku_pk("MM-1")]


def test_the_meta_is_believed_for_exactly_its_second(clock: MonotonicClock) -> None:
    found = _found(_meta("MM-2", 4), _shard("MM-2", 2, 9, 4))
    stock = inventory.hold_stock_from("MM-2", found, 2)
    assert stock is not None
    assert inventory.known_shard_count("MM-2") == 4
    assert _pks(inventory.hold_keys("MM-2", 1)) == [keys.stock_pk("MM-2", 1)]
    clock.now += inventory.META_SECONDS
    assert _pks(inventory.hold_keys("MM-2", 1)) == [keys.stock_pk("MM-2", 1)]
    clock.now += 0.001
    assert _pks(inventory.hold_keys("MM-2", 1)) == [keys.stock_pk("MM-2", 1), keys.sku_pk("MM-2")]
    assert inventory.known_shard_count("MM-2") == 4  # the count outlives the meta's second


def test_a_hold_sees_the_shard_it_read_and_knows_it_is_not_the_whole_sku(
    clock: MonotonicClock,
) -> None:
    found = _found(_meta("MM-3", 4, safety_stock=6, low=True), _shard("MM-3", 2, 9, 4))
    stock = inventory.hold_stock_from("MM-3", found, 2)
    assert stock is not None
    expected = (StockLevel(0, 0), StockLevel(0, 0), StockLevel(9, 4), StockLevel(0, 0))
    assert stock.levels == expected
    assert (stock.shard_count, stock.safety_stock, stock.low_stock) == (4, 6, True)
    assert stock.complete is False


def test_a_one_shard_sku_read_whole_is_complete(clock: MonotonicClock) -> None:
    stock = inventory.hold_stock_from("MM-4", _found(_meta("MM-4", 1), _shard("MM-4", 0, 5, 1)), 0)
    assert stock is not None
    assert stock.levels == (StockLevel(5, 1),)
    assert stock.complete is True


def test_a_remembered_meta_stands_in_for_one_not_read(clock: MonotonicClock) -> None:
    inventory.hold_stock_from("MM-5", _found(_meta("MM-5", 2, safety_stock=4)), 0)
    clock.now += 0.5
    stock = inventory.hold_stock_from("MM-5", _found(_shard("MM-5", 1, 7, 0)), 1)
    assert stock is not None
    assert (stock.shard_count, stock.safety_stock) == (2, 4)
    assert stock.levels == (StockLevel(0, 0), StockLevel(7, 0))


def test_without_a_meta_read_or_remembered_the_sku_has_no_inventory(clock: MonotonicClock) -> None:
    assert inventory.hold_stock_from("MM-6", _found(_shard("MM-6", 0, 5, 0)), 0) is None
    inventory.hold_stock_from("MM-6", _found(_meta("MM-6", 1)), 0)
    clock.now += inventory.META_SECONDS + 0.001
    assert inventory.hold_stock_from("MM-6", _found(_shard("MM-6", 0, 5, 0)), 0) is None


def test_the_meta_memory_is_bounded_and_forgotten_on_demand(clock: MonotonicClock) -> None:
    bound = inventory._REMEMBERED
    for n in range(bound + 1):
        inventory.hold_stock_from(f"MM-MANY-{n}", _found(_meta(f"MM-MANY-{n}", 2)), 0)
    assert len(inventory._metas_seen) <= bound
    assert len(inventory._shard_counts) <= bound
    assert _pks(inventory.hold_keys(f"MM-MANY-{bound}", 0)) == [
        keys.stock_pk(f"MM-MANY-{bound}", 0)
    ]
    inventory.forget_seen()
    assert inventory.known_shard_count(f"MM-MANY-{bound}") == DEFAULT_SHARD_COUNT
    assert len(inventory.hold_keys(f"MM-MANY-{bound}", 0)) == 2
