"""Flash sale storage: the sale items, each SKU's schedule, and the per-customer counts.

Layout (``keys.py``, docs/catalog.md "Flash sales"):

- the sale, pk=FLASHSALE#{id}, sk=FLASHSALE in the Catalog table, in gsi1 ``FLASHSALES#{sku}``
  by start (a SKU's sales, ended ones too);
- the SKU's schedule, on its SKU record (pk=SKU#{sku}, sk=SKU): the sales not long ended and
  ``flash_sales_version``. ``store/products.offers`` reads the record to price a SKU anyway, so
  the live sale costs no extra request;
- one customer's count of one sale, pk=SALECOUNT#{sale_id}#{digest}, sk=SALECOUNT in the
  Inventory table, beside the stock it is held with: units in the customer's live holds plus
  units in their orders of the sale.

Creating a sale is one transaction: the sale item (which must not exist) and the schedule with
it added, conditioned on the schedule's version and on the regular price the sale was checked
against. Two creations racing for overlapping windows cannot both commit: the second's version
condition fails, and it is decided again on the schedule that now holds the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce.domain.flash_sales import CountMove, FlashSale
from commerce.domain.money import Money
from commerce.domain.product import ProductStatus
from commerce.store import keys
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.attributes import money_map, money_of
from commerce.store.tables.catalog import FlashSaleEntry, FlashSaleModel, SkuRecordModel
from commerce.store.tables.inventory import SaleCountModel
from commerce.store.transactions import Failure, LabelledTransaction

#: The label of a hold's count in its transaction: its failure means "over the limit".
SALE_LIMIT_LABEL: Final = "sale-limit"
#: The label of a release's count: its failure means the count holds fewer units than released.
SALE_RELEASE_LABEL: Final = "sale-release"
#: How long a count is kept after its sale's end, before TTL may tidy it away.
COUNT_TTL_SECONDS: Final = 30 * 24 * 3600
#: The most sales one page of ``of_sku`` returns.
LIST_LIMIT: Final = 100


@dataclass(frozen=True)
class Schedule:
    """A SKU's record as a new sale is decided against: its regular price, whether it is sold
    now, its schedule and the schedule's version."""

    sku: str
    product_id: str
    regular: Money
    sellable: bool
    sales: tuple[FlashSale, ...]
    version: int


@dataclass(frozen=True)
class StoredSale:
    """A sale as stored, with who scheduled it and when."""

    sale: FlashSale
    product_id: str
    created_at: str
    created_by: str


# --- The schedule on the SKU record --------------------------------------------------------


def _sale(sku: str, stored: FlashSaleEntry | FlashSaleModel) -> FlashSale:
    """A sale from what both its item and its schedule entry hold."""
    return FlashSale(
        sale_id=stored.sale_id,
        sku=sku,
        price=money_of(stored.price),
        starts_at=int(stored.starts_at),
        ends_at=int(stored.ends_at),
        per_customer_limit=int(stored.per_customer_limit),
    )


def schedule_of(record: SkuRecordModel) -> tuple[FlashSale, ...]:
    """The sales a SKU record's schedule holds (none for a record written before sales)."""
    return tuple(_sale(record.sku, entry) for entry in record.flash_sales or [])


def _entries(sales: Iterable[FlashSale]) -> list[FlashSaleEntry]:
    return [
        FlashSaleEntry(  # type: ignore[no-untyped-call]
            sale_id=s.sale_id,
            price=money_map(s.price),
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            per_customer_limit=s.per_customer_limit,
        )
        for s in sales
    ]


def read_schedule(sku: str) -> Schedule | None:
    """The SKU's record as a new sale is decided against (a consistent read), or None for a SKU
    the catalog does not have."""
    try:
        record = SkuRecordModel.get(keys.sku_pk(sku), keys.SKU_SK, consistent_read=True)
    except SkuRecordModel.DoesNotExist:
        return None
    return Schedule(
        sku=record.sku,
        product_id=record.product_id,
        regular=money_of(record.price),
        sellable=(record.status or ProductStatus.ACTIVE.value) == ProductStatus.ACTIVE.value,
        sales=schedule_of(record),
        version=int(record.flash_sales_version or 0),
    )


def _unchanged(schedule: Schedule) -> Condition:
    """The record still has the schedule and the regular price ``schedule`` was read with."""
    version: Condition = SkuRecordModel.flash_sales_version == schedule.version
    if schedule.version == 0:
        version = version | SkuRecordModel.flash_sales_version.does_not_exist()
    same_price = SkuRecordModel.price.amount == schedule.regular.amount
    condition: Condition = SkuRecordModel.pk.exists() & version & same_price
    return condition


def create(
    sale: FlashSale, schedule: Schedule, kept: Iterable[FlashSale], *, actor: str, at: str
) -> bool:
    """Write ``sale`` and the SKU's schedule ``kept`` (which holds it) in one transaction,
    conditioned on the schedule being the one read. False when it changed since (a sale was
    added, or the regular price moved): read it again and decide afresh."""
    tx = LabelledTransaction()
    item = FlashSaleModel(
        keys.flash_sale_pk(sale.sale_id),
        keys.FLASH_SALE_SK,
        sale_id=sale.sale_id,
        sku=sale.sku,
        product_id=schedule.product_id,
        price=money_map(sale.price),
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        per_customer_limit=sale.per_customer_limit,
        created_at=at,
        created_by=actor,
        gsi1pk=keys.flash_sales_gsi1pk(sale.sku),
        gsi1sk=keys.epoch_sk(sale.starts_at, sale.sale_id),
    )
    tx.put("sale", item, FlashSaleModel.pk.does_not_exist())
    record = SkuRecordModel(keys.sku_pk(sale.sku), keys.SKU_SK)
    actions: list[Action] = [
        SkuRecordModel.flash_sales.set(_entries(kept)),
        SkuRecordModel.flash_sales_version.set(schedule.version + 1),
    ]
    tx.update("schedule", record, actions, _unchanged(schedule))
    failures = tx.commit()
    if not failures:
        return True
    if any(f.label == "schedule" and f.code == CONDITION_FAILED for f in failures):
        return False
    raise RuntimeError(f"flash sale refused: {[(f.label, f.code) for f in failures]}")


# --- The sale items --------------------------------------------------------------------------


def _stored(model: FlashSaleModel) -> StoredSale:
    return StoredSale(
        sale=_sale(model.sku, model),
        product_id=model.product_id,
        created_at=model.created_at,
        created_by=model.created_by,
    )


def get(sale_id: str, *, consistent: bool = False) -> StoredSale | None:
    """The sale with this id, or None."""
    try:
        model = FlashSaleModel.get(
            keys.flash_sale_pk(sale_id), keys.FLASH_SALE_SK, consistent_read=consistent
        )
    except FlashSaleModel.DoesNotExist:
        return None
    return _stored(model)


#: The attributes of a SKU's sales' page key (gsi1: the table's keys and the index's).
PAGE_KEY_NAMES: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


def of_sku(
    sku: str, *, limit: int = LIST_LIMIT, start: dict[str, Any] | None = None
) -> tuple[list[StoredSale], dict[str, Any] | None]:
    """A page of the SKU's sales, latest start first (one Query of gsi1), and the next page's
    key (None after the last)."""
    rows = FlashSaleModel.by_sku.query(
        keys.flash_sales_gsi1pk(sku),
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start,
    )
    found = [_stored(row) for row in rows]
    return found, rows.last_evaluated_key


# --- The per-customer counts, for the hold path's transactions -------------------------------


def _count_item(sale_id: str, customer_sub: str) -> SaleCountModel:
    return SaleCountModel(keys.sale_count_pk(sale_id, customer_sub), keys.SALE_COUNT_SK)


def count_hold(
    tx: LabelledTransaction,
    sale_id: str,
    customer_sub: str,
    units: int,
    limit: int,
    *,
    ends_at: int | None = None,
    label: str = SALE_LIMIT_LABEL,
) -> None:
    """Add to ``tx``: ``units`` (> 0) more of sale ``sale_id`` counted to the customer, on the
    condition that the count stays within ``limit`` (an absent count is 0). Labelled
    ``sale-limit``: a commit that fails there is over the limit, and nothing of ``tx`` is
    written. ``ends_at`` (the sale's end) lets TTL tidy the count away 30 days later."""
    if units <= 0:
        raise ValueError(f"a hold counts a positive number of units, not {units}")
    room = limit - units
    within: Condition = SaleCountModel.units <= room
    if room >= 0:
        within = SaleCountModel.units.does_not_exist() | within
    actions: list[Action] = [
        SaleCountModel.units.add(units),
        SaleCountModel.sale_id.set(sale_id),
    ]
    if ends_at is not None:
        actions.append(SaleCountModel.ttl.set(ends_at + COUNT_TTL_SECONDS))
    tx.update(label, _count_item(sale_id, customer_sub), actions, within)


def count_release(
    tx: LabelledTransaction,
    sale_id: str,
    customer_sub: str,
    units: int,
    *,
    label: str = SALE_RELEASE_LABEL,
) -> None:
    """Add to ``tx``: ``units`` (> 0) of sale ``sale_id`` given back by the customer (a hold
    removed, lowered or expired), on the condition that the count holds at least that many.
    Labelled ``sale-release``."""
    if units <= 0:
        raise ValueError(f"a release gives back a positive number of units, not {units}")
    tx.update(
        label,
        _count_item(sale_id, customer_sub),
        [SaleCountModel.units.add(-units)],
        SaleCountModel.units >= units,
    )


def apply_count_moves(tx: LabelledTransaction, moves: Iterable[CountMove], tag: str) -> None:
    """Add each of ``moves`` to ``tx``, labelled ``sale-limit:{tag}`` (more units) and
    ``sale-release:{tag}`` (given back): ``tag`` names the line (its SKU), so a refusal says
    whose limit it was."""
    for move in moves:
        if move.units > 0:
            if move.limit is None:
                raise ValueError("a count that grows needs its limit")
            count_hold(
                tx,
                move.sale_id,
                move.customer,
                move.units,
                move.limit,
                ends_at=move.ends_at,
                label=f"{SALE_LIMIT_LABEL}:{tag}",
            )
        elif move.units < 0:
            count_release(
                tx, move.sale_id, move.customer, -move.units, label=f"{SALE_RELEASE_LABEL}:{tag}"
            )


def refused_limit(failures: Iterable[Failure]) -> str | None:
    """The tag of the line whose count would pass its limit, if that refused a commit."""
    prefix = f"{SALE_LIMIT_LABEL}:"
    return next(
        (
            f.label[len(prefix) :]
            for f in failures
            if f.label.startswith(prefix) and f.code == CONDITION_FAILED
        ),
        None,
    )


def refused_release(failures: Iterable[Failure]) -> bool:
    """Whether a give-back found less counted than it gives back (a count tidied away)."""
    prefix = f"{SALE_RELEASE_LABEL}:"
    return any(f.label.startswith(prefix) and f.code == CONDITION_FAILED for f in failures)


def count_of(sale_id: str, customer_sub: str) -> int:
    """The customer's count of the sale now (a consistent read; 0 when none)."""
    try:
        item = SaleCountModel.get(
            keys.sale_count_pk(sale_id, customer_sub), keys.SALE_COUNT_SK, consistent_read=True
        )
    except SaleCountModel.DoesNotExist:
        return 0
    return int(item.units or 0)
