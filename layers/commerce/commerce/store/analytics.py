"""Aggregates of the order stream: applied once per record, read back for the figures.

Layout (AnalyticsTable, keys in ``keys.py``):

- guard: pk=APPLIED#{event id}[#{part}], sk=APPLIED (``ttl``), put with ``attribute_not_exists``
  in the transaction of the plan it guards, so a redelivered or retried record is refused as a
  whole and changes nothing;
- day totals: pk=SALES#{shard}, sk={date}: orders, gmv, units, refunds, customers, carts. A
  record's increments go to the shard its event id picks (``keys.sales_shard``), so a busy
  day's writes spread over ``SALES_SHARDS`` items; a range is read with one Query per shard;
- per SKU: pk=SKUDAY#{date} or SKUMONTH#{month}, sk={sku}: units, revenue;
- per buyer: pk=BUYERDAY#{date} or BUYERMONTH#{month}, sk={buyer key}: orders. A buyer's day
  item is created by the plan that adds the day's distinct customer (``Plan.distinct``);
- customer values: pk=CUSTOMER#{sub}, sk=VALUE: orders, spend, last_order_at, gsi1 by last
  order (VALUES#{bucket});
- campaign results: the campaign item's orders and revenue (``store/campaigns.py``);
- facts: pk=FACTS#{date}: the order facts the Parquet export writes (``FactModel``).

A plan whose items exceed one TransactWriteItems call (an order of many lines) is written in
parts, each with its own guard (``{event id}#{n}``), so each part is applied once and a retry
finishes the parts still missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from commerce.domain.aggregates import (
    Aggregate,
    BuyerDay,
    BuyerMonth,
    Customer,
    Day,
    Increment,
    Plan,
    SkuDay,
    SkuMonth,
)
from commerce.domain.campaigns import Touch
from commerce.domain.figures import DayCounts, RangeReads, summed
from commerce.domain.money import DEFAULT_CURRENCY, Money
from commerce.domain.order_facts import utc_date
from commerce.domain.rfm import CustomerValue
from commerce.domain.segments import Window
from commerce.store import keys, kit
from commerce.store.tables.analytics import (
    AggregateModel,
    AppliedModel,
    CustomerValueModel,
    FactModel,
    RecipientModel,
)
from commerce.store.tables.catalog import SkuRecordModel
from commerce.store.transactions import MAX_ITEMS, LabelledTransaction

#: How long a guard is kept: far past any redelivery (stream records live 24 hours).
GUARD_TTL_SECONDS: Final = 3 * 24 * 3600
#: How long a fact waits for the export (which writes each day's several times).
FACT_TTL_SECONDS: Final = 90 * 24 * 3600
_GUARD: Final = "guard"
_FACT: Final = "fact"
#: Counter names an aggregate item may hold.
COUNTS: Final = ("orders", "gmv", "refunds", "units", "customers", "carts", "revenue", "spend")


@dataclass(frozen=True)
class FactRow:
    """One order fact of a day, as exported: ``kind`` paid | refunded; ``amount`` the order's
    total or the money refunded; ``lines`` [{sku, quantity, amount}] for a paid order."""

    kind: str
    order_id: str
    buyer: str
    signed_in: bool
    at: int
    amount: Money
    units: int
    lines: tuple[tuple[str, int, int], ...] = ()
    event_id: str = ""


# --- Where each aggregate lives --------------------------------------------------------------


def _row(target: Aggregate, spread_by: str) -> Model:
    """The item of ``target`` (key only); day totals on the shard ``spread_by`` picks."""
    if isinstance(target, Day):
        return AggregateModel(keys.sales_pk(keys.sales_shard(spread_by)), target.date)
    if isinstance(target, SkuDay):
        return AggregateModel(keys.sku_day_pk(target.date), target.sku)
    if isinstance(target, SkuMonth):
        return AggregateModel(keys.sku_month_pk(target.month), target.sku)
    if isinstance(target, BuyerDay):
        return AggregateModel(keys.buyer_day_pk(target.date), target.buyer)
    if isinstance(target, BuyerMonth):
        return AggregateModel(keys.buyer_month_pk(target.month), target.buyer)
    if isinstance(target, Customer):
        return CustomerValueModel(keys.value_pk(target.customer_id), keys.VALUE_SK)
    return AggregateModel(keys.campaign_pk(target.campaign_id), keys.CAMPAIGN_SK)


def _actions(target: Aggregate, counts: Mapping[str, int]) -> list[Action]:
    if isinstance(target, Customer):
        actions: list[Action] = [CustomerValueModel.customer_id.set(target.customer_id)]
        for name, value in counts.items():
            actions.append(getattr(CustomerValueModel, name).add(value))
        return actions
    return [getattr(AggregateModel, name).add(value) for name, value in counts.items()]


def _fact_item(row: FactRow, now: int) -> FactModel:
    return FactModel(
        keys.facts_pk(utc_date(row.at)),
        f"{row.kind}#{row.order_id}#{row.event_id}",
        kind=row.kind,
        order_id=row.order_id,
        buyer=row.buyer,
        signed_in=row.signed_in,
        at=row.at,
        amount=row.amount.amount,
        currency=row.amount.currency,
        units=row.units,
        lines=[{"sku": s, "quantity": q, "amount": a} for s, q, a in row.lines] or None,
        ttl=now + FACT_TTL_SECONDS,
    )


# --- Applying a plan, once ------------------------------------------------------------------


def _parts(plan: Plan, with_fact: bool) -> list[list[Increment]]:
    """The plan's increments in parts that fit one transaction beside their guard (and the
    fact, in the first). Every aggregate of a distinct count goes in the first part, so the
    distinct member and the count it adds are written together."""
    bound = {a for rule in plan.distinct for a in (rule.member, rule.within)}
    first = [i for i in plan.increments if i.target in bound]
    rest = [i for i in plan.increments if i.target not in bound]
    room = MAX_ITEMS - 1 - (1 if with_fact else 0) - len(first)
    parts = [first + rest[:room]]
    rest = rest[room:]
    while rest:
        parts.append(rest[: MAX_ITEMS - 1])
        rest = rest[MAX_ITEMS - 1 :]
    return parts


def apply_plan(event_id: str, plan: Plan, fact: FactRow | None = None, *, now: int) -> bool:
    """Apply ``plan`` for the stream record ``event_id`` once: True when (any part of) it was
    written now, False when every part had been applied before. ``fact`` is written with it."""
    if plan.empty and fact is None:
        return False
    parts = _parts(plan, fact is not None)
    written = False
    for number, increments in enumerate(parts):
        key = event_id if number == 0 else f"{event_id}#{number}"
        written |= _apply_part(key, event_id, plan, increments, fact if number == 0 else None, now)
    return written


def _apply_part(
    key: str,
    spread_by: str,
    plan: Plan,
    increments: Sequence[Increment],
    fact: FactRow | None,
    now: int,
) -> bool:
    members = {rule.member for rule in plan.distinct}
    targets = {i.target for i in increments}
    # Assume every distinct member is new; a refusal on one says it exists, and flips it.
    created = {m for m in members if m in targets}

    def attempt(_: int) -> bool | kit.Retry:
        tx = LabelledTransaction()
        tx.put(
            _GUARD,
            AppliedModel(keys.applied_pk(key), keys.APPLIED_SK, ttl=now + GUARD_TTL_SECONDS),
            AppliedModel.pk.does_not_exist(),
        )
        if fact is not None:
            tx.put(_FACT, _fact_item(fact, now))
        labels: dict[str, Aggregate] = {}
        for index, increment in enumerate(increments):
            target = increment.target
            label = f"aggregate:{index}"
            labels[label] = target
            row = _row(target, spread_by)
            actions = _actions(target, plan.counts_for(target, created=created))
            condition = None
            if target in members:
                pk = type(row).pk  # type: ignore[attr-defined]
                condition = pk.does_not_exist() if target in created else pk.exists()
            tx.update(label, row, actions, condition)
        failures = tx.commit()
        if not failures:
            return True
        if any(f.label == _GUARD for f in failures):
            return False  # applied before: the whole part is refused, nothing changed
        flipped = {labels[f.label] for f in failures if labels.get(f.label) in members}
        if not flipped:
            raise RuntimeError(f"plan {key} refused: {[f.label for f in failures]}")
        created.symmetric_difference_update(flipped)
        return kit.RETRY

    return kit.retry_on_conflict(
        attempt, give_up=lambda: RuntimeError(f"plan {key} kept meeting changed members")
    )


def note_last_order(customer_id: str, at: int) -> bool:
    """The customer's last paid order is at ``at`` unless a later one is known: the latest
    wins whatever order the records come in, so this needs no guard. Also files the customer
    in the values index (gsi1) under that time."""
    model = CustomerValueModel
    row = model(keys.value_pk(customer_id), keys.VALUE_SK)
    return kit.applied(
        lambda: row.update(
            actions=[
                model.customer_id.set(customer_id),
                model.last_order_at.set(at),
                model.gsi1pk.set(keys.values_gsi1pk(keys.value_bucket(customer_id))),
                model.gsi1sk.set(keys.epoch_sk(at, customer_id)),
            ],
            condition=model.last_order_at.does_not_exist() | (model.last_order_at < at),
        )
    )


# --- Reading the figures back -----------------------------------------------------------------


def _counts(row: Model) -> dict[str, int]:
    return {name: int(value) for name in COUNTS if (value := getattr(row, name, None)) is not None}


def day_counts(first: str, last: str) -> dict[str, DayCounts]:
    """Each day's totals from ``first`` to ``last`` (dates, both included), shards summed."""
    rows: dict[str, list[dict[str, int]]] = {}
    for shard in range(keys.SALES_SHARDS):
        for row in AggregateModel.query(
            keys.sales_pk(shard), AggregateModel.sk.between(first, last)
        ):
            rows.setdefault(row.sk, []).append(_counts(row))
    return {day: DayCounts.of(summed(parts)) for day, parts in rows.items()}


def _range_rows(reads: RangeReads, month_pk: Any, day_pk: Any) -> Iterator[AggregateModel]:
    for month in reads.months:
        yield from AggregateModel.query(month_pk(month))
    for day in reads.days:
        yield from AggregateModel.query(day_pk(day))


def buyer_orders(reads: RangeReads) -> dict[str, int]:
    """Every buyer with paid orders in the range, and how many."""
    found: dict[str, int] = {}
    for row in _range_rows(reads, keys.buyer_month_pk, keys.buyer_day_pk):
        found[row.sk] = found.get(row.sk, 0) + int(row.orders or 0)
    return found


def sku_counts(reads: RangeReads) -> dict[str, dict[str, int]]:
    """Units and revenue of every SKU sold in the range."""
    found: dict[str, list[dict[str, int]]] = {}
    for row in _range_rows(reads, keys.sku_month_pk, keys.sku_day_pk):
        found.setdefault(row.sk, []).append(_counts(row))
    return {sku: summed(parts) for sku, parts in found.items()}


def _value(row: CustomerValueModel) -> CustomerValue:
    return CustomerValue(
        orders=int(row.orders or 0),
        spend=Money(int(row.spend or 0), DEFAULT_CURRENCY),
        last_order_at=int(row.last_order_at) if row.last_order_at is not None else None,
    )


def customer_value(customer_id: str) -> CustomerValue | None:
    """What the stream consumer keeps about the customer; None when it saw no paid order."""
    try:
        row = CustomerValueModel.get(keys.value_pk(customer_id), keys.VALUE_SK)
    except CustomerValueModel.DoesNotExist:
        return None
    return _value(row)


@dataclass(frozen=True)
class ValuedCustomer:
    """A customer found in the values index, with the key to resume the index after it."""

    customer_id: str
    value: CustomerValue
    key: dict[str, Any]


#: The attributes of a values-index key (page tokens of segment members).
VALUES_PAGE_KEYS: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


def customer_values(
    bucket: int, window: Window, start_key: dict[str, Any] | None, page_size: int
) -> Iterator[ValuedCustomer]:
    """Customers of one index bucket whose last paid order is in ``window``, oldest first,
    after ``start_key``: read a page at a time as consumed."""
    since = keys.epoch_sk(window.since, "") if window.since is not None else None
    before = keys.epoch_sk(window.before, "") if window.before is not None else None
    sort = CustomerValueModel.gsi1sk
    condition: Condition | None
    if since is not None and before is not None:
        condition = sort.between(since, before)
    elif since is not None:
        condition = sort >= since
    elif before is not None:
        condition = sort < before
    else:
        condition = None
    rows = CustomerValueModel.gsi1.query(
        keys.values_gsi1pk(bucket),
        condition,
        last_evaluated_key=start_key,
        page_size=page_size,
    )
    for row in rows:
        if before is not None and str(row.gsi1sk) >= before:
            continue  # ``between`` includes its upper end; the window does not
        yield ValuedCustomer(
            customer_id=str(row.customer_id),
            value=_value(row),
            key={
                "pk": {"S": row.pk},
                "sk": {"S": row.sk},
                "gsi1pk": {"S": row.gsi1pk},
                "gsi1sk": {"S": row.gsi1sk},
            },
        )


def touches(customer_id: str, since: int, until: int) -> list[Touch]:
    """The campaigns whose first message reached the customer from ``since`` to ``until``."""
    rows = RecipientModel.gsi1.query(
        keys.member_gsi1pk(customer_id),
        RecipientModel.gsi1sk.between(keys.epoch_sk(since, ""), keys.epoch_sk(until, "~")),
    )
    return [Touch(str(row.campaign_id), int(row.sent_at or 0)) for row in rows if row.sent_at]


# --- The export's facts -----------------------------------------------------------------------


def facts_of(date: str) -> Iterator[FactRow]:
    """Every order fact of one UTC day, read a page at a time as consumed."""
    for row in FactModel.query(keys.facts_pk(date)):
        lines = tuple(
            (str(line["sku"]), int(line["quantity"]), int(line["amount"]))
            for line in (row.lines or [])
        )
        yield FactRow(
            kind=row.kind,
            order_id=row.order_id,
            buyer=row.buyer,
            signed_in=bool(row.signed_in),
            at=int(row.at),
            amount=Money(int(row.amount), row.currency),
            units=int(row.units),
            lines=lines,
            event_id=row.sk.rsplit("#", 1)[-1],
        )


# --- Erasure -----------------------------------------------------------------------------------


def delete_customer_records(customer_id: str) -> int:
    """Forget the customer's value and their campaign memberships (erasure); safe to repeat.
    Aggregates keep their counts: buyers are counted under a pseudonymous key."""
    deleted = 0
    for row in list(RecipientModel.gsi1.query(keys.member_gsi1pk(customer_id))):
        RecipientModel(row.pk, row.sk).delete()
        deleted += 1
    if kit.applied(
        lambda: CustomerValueModel(keys.value_pk(customer_id), keys.VALUE_SK).delete(
            condition=CustomerValueModel.pk.exists()
        )
    ):
        deleted += 1
    return deleted


def product_ids(skus: Sequence[str]) -> dict[str, str]:
    """The product each SKU belongs to, from the catalog's SKU records (missing ones left out)."""
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(skus))
    for start in range(0, len(wanted), 100):
        batch = [(keys.sku_pk(sku), keys.SKU_SK) for sku in wanted[start : start + 100]]
        for record in SkuRecordModel.batch_get(batch):
            found[record.sku] = record.product_id
    return found
