"""Flash sale storage on moto: the schedule's conditional creation, and the per-customer counts
as the hold path's transactions use them."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog, new_sku
from commerce import clock
from commerce.domain.flash_sales import FlashSale, schedule_with
from commerce.domain.money import Money
from commerce.store import flash_sales, keys
from commerce.store.transactions import LabelledTransaction

pytestmark = pytest.mark.integration

SALE = "5a1e" * 8
ALICE = "c0000000-0000-4000-8000-000000000001"
BOB = "c0000000-0000-4000-8000-0000000000ff"


@pytest.fixture
def sku(dynamodb: Any, catalog_module: ModuleType) -> str:
    code = new_sku("SALE")
    Catalog(catalog_module).create(skus=[code], prices=(1000,))
    return code


def _sale(sku: str, sale_id: str, start: int, end: int) -> FlashSale:
    return FlashSale(sale_id, sku, Money(600), start, end, 2)


def _create(sale: FlashSale, schedule: flash_sales.Schedule) -> bool:
    plan = schedule_with(sale, schedule.sales, clock.now())
    assert isinstance(plan, tuple)
    return flash_sales.create(sale, schedule, plan, actor="ops", at=clock.now_iso())


# --- the schedule --------------------------------------------------------------------------


def test_a_sale_is_written_with_its_skus_schedule(sku: str) -> None:
    now = clock.now()
    before = flash_sales.read_schedule(sku)
    assert before is not None
    assert (before.sales, before.version, before.regular) == ((), 0, Money(1000))
    sale = _sale(sku, "a" * 32, now, now + 60)
    assert _create(sale, before)
    after = flash_sales.read_schedule(sku)
    assert after is not None
    assert after.sales == (sale,)
    assert after.version == 1
    stored = flash_sales.get(sale.sale_id)
    assert stored is not None
    assert stored.sale == sale
    assert stored.created_by == "ops"


def test_two_creations_decided_on_the_same_schedule_cannot_both_commit(sku: str) -> None:
    """The race of two ops scheduling overlapping sales at once, interleaved by hand: both read
    the empty schedule and both decide there is no overlap; the version condition lets only the
    first write, and the second, decided again, sees the overlap."""
    now = clock.now()
    read_by_first = flash_sales.read_schedule(sku)
    read_by_second = flash_sales.read_schedule(sku)
    assert read_by_first is not None
    assert read_by_second is not None
    first = _sale(sku, "1" * 32, now, now + 600)
    second = _sale(sku, "2" * 32, now + 300, now + 900)
    assert _create(first, read_by_first)
    assert not _create(second, read_by_second)
    assert flash_sales.get(second.sale_id) is None
    fresh = flash_sales.read_schedule(sku)
    assert fresh is not None
    assert fresh.sales == (first,)
    assert not isinstance(schedule_with(second, fresh.sales, now), tuple)


def test_a_creation_decided_on_an_old_regular_price_is_refused(sku: str) -> None:
    from commerce.store.tables.attributes import money_map
    from commerce.store.tables.catalog import SkuRecordModel

    schedule = flash_sales.read_schedule(sku)
    assert schedule is not None
    record = SkuRecordModel(keys.sku_pk(sku), keys.SKU_SK)
    record.update([SkuRecordModel.price.set(money_map(Money(500)))])
    now = clock.now()
    assert not _create(_sale(sku, "3" * 32, now, now + 60), schedule)


def test_ended_sales_leave_the_schedule_but_stay_listed(sku: str) -> None:
    now = clock.now()
    old = _sale(sku, "4" * 32, now - 7200, now - 3600)
    schedule = flash_sales.read_schedule(sku)
    assert schedule is not None
    assert flash_sales.create(old, schedule, (old,), actor="ops", at=clock.now_iso())
    schedule = flash_sales.read_schedule(sku)
    assert schedule is not None
    new = _sale(sku, "5" * 32, now, now + 60)
    assert _create(new, schedule)
    current = flash_sales.read_schedule(sku)
    assert current is not None
    assert current.sales == (new,)
    listed, last = flash_sales.of_sku(sku)
    assert [s.sale.sale_id for s in listed] == [new.sale_id, old.sale_id]
    assert last is None


# --- the per-customer counts ---------------------------------------------------------------


def _hold(customer: str, units: int, limit: int = 3) -> list[Any]:
    tx = LabelledTransaction()
    flash_sales.count_hold(tx, SALE, customer, units, limit, ends_at=clock.now() + 60)
    return tx.commit()


def _release(customer: str, units: int) -> list[Any]:
    tx = LabelledTransaction()
    flash_sales.count_release(tx, SALE, customer, units)
    return tx.commit()


def test_holds_count_up_to_the_limit_and_no_further(dynamodb: Any) -> None:
    assert flash_sales.count_of(SALE, ALICE) == 0
    assert _hold(ALICE, 2) == []
    assert _hold(ALICE, 1) == []
    assert flash_sales.count_of(SALE, ALICE) == 3
    [failure] = _hold(ALICE, 1)
    assert failure.label == flash_sales.SALE_LIMIT_LABEL == "sale-limit"
    assert failure.code == "ConditionalCheckFailed"
    assert flash_sales.count_of(SALE, ALICE) == 3
    # Another customer's count is their own.
    assert _hold(BOB, 3) == []
    assert flash_sales.count_of(SALE, BOB) == 3


def test_a_first_hold_over_the_limit_is_refused_and_writes_nothing(
    dynamodb: Any, scan_all: Any
) -> None:
    before = scan_all()
    [failure] = _hold(ALICE, 4)
    assert failure.label == "sale-limit"
    assert scan_all() == before


def test_a_refused_count_cancels_the_whole_transaction(dynamodb: Any, sku: str) -> None:
    """The count rides in the hold's transaction: over the limit, the hold's other writes (here
    a stand-in put) are not made either."""
    from commerce.store.tables.catalog import CategoryNameModel

    assert _hold(ALICE, 3) == []
    tx = LabelledTransaction()
    marker = CategoryNameModel("CATEGORY_NAME#TEST", keys.CATEGORY_NAME_SK, category_id="x")
    tx.put("other", marker)
    flash_sales.count_hold(tx, SALE, ALICE, 1, 3)
    assert [f.label for f in tx.commit()] == ["sale-limit"]
    with pytest.raises(CategoryNameModel.DoesNotExist):
        CategoryNameModel.get("CATEGORY_NAME#TEST", keys.CATEGORY_NAME_SK)


def test_a_release_gives_units_back_and_never_below_zero(dynamodb: Any) -> None:
    assert _hold(ALICE, 3) == []
    assert _release(ALICE, 2) == []
    assert flash_sales.count_of(SALE, ALICE) == 1
    assert _hold(ALICE, 2) == []
    [failure] = _release(ALICE, 4)
    assert failure.label == "sale-release"
    assert flash_sales.count_of(SALE, ALICE) == 3
    [failure] = _release(BOB, 1)
    assert failure.label == "sale-release"
    assert flash_sales.count_of(SALE, BOB) == 0


def test_the_count_item_names_no_customer(dynamodb: Any, scan_all: Any) -> None:
    assert _hold(ALICE, 1) == []
    items = [i for items in scan_all().values() for i in items if "SALECOUNT" in i["pk"]["S"]]
    assert len(items) == 1
    assert ALICE not in str(items[0])
    assert items[0]["pk"]["S"].startswith(f"SALECOUNT#{SALE}#")
    assert int(items[0]["ttl"]["N"]) > clock.now() + 29 * 24 * 3600


def test_counts_of_zero_or_fewer_units_are_a_programming_error(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="positive number"):
        flash_sales.count_hold(LabelledTransaction(), SALE, ALICE, 0, 3)
    with pytest.raises(ValueError, match="positive number"):
        flash_sales.count_release(LabelledTransaction(), SALE, ALICE, -1)
