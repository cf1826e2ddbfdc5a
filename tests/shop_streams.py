"""Generated shops for the stream consumer's properties: orders' lives, their stream records
delivered in any order and more than once, and every aggregate recomputed from the orders.

The unit property runs the consumer over the in-memory book (tests/unit/test_aggregates.py),
the integration one over the Analytics table on moto (tests/integration/test_analytics_stream.py);
both hold the book to ``recompute``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from commerce.analytics.book import InsightBook
from commerce.domain.aggregates import (
    Aggregate,
    BuyerDay,
    BuyerMonth,
    Customer,
    Day,
    SkuDay,
    SkuMonth,
    month_of,
)
from commerce.domain.figures import DateRange, DayCounts, plan_range
from commerce.domain.order_facts import buyer_key, utc_date
from hypothesis import strategies as st
from stream_builders import OrderStory, cart_record, line_record

DAY = 86_400
START = 1_893_456_000  # 2030-01-01T00:00:00Z
CUSTOMERS = ("c-1", "c-2", "c-3")
EMAILS = ("guest-a@example.com", "Guest-A@Example.com", "guest-b@example.com")
SKUS = ("SKU-A", "SKU-B", "SKU-C", "SKU-D")

Shop = tuple[list[OrderStory], list[tuple[str, int]]]


@st.composite
def stories(draw: st.DrawFn, index: int) -> OrderStory:
    """One order's life over a few days around a month's end."""
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
    lines = tuple(
        (sku, draw(st.integers(1, 3)), draw(st.integers(1, 50_000))) for sku in sorted(skus)
    )
    owner = draw(st.sampled_from((*CUSTOMERS, None)))
    story = OrderStory(
        order_id=f"order-{index:03d}",
        owner=owner,
        email=draw(st.sampled_from(EMAILS)),
        lines=lines,
        placed_at=START + draw(st.integers(0, 40 * DAY)),
    )
    at = story.placed_at
    fate = draw(st.sampled_from(("pending", "paid", "refunded", "cancelled")))
    if fate == "pending":
        return story
    at += draw(st.integers(0, 2 * DAY))
    if fate == "cancelled" and draw(st.booleans()):
        return story.cancel(at)  # cancelled before payment: never counts
    story.pay(at)
    if fate == "refunded":
        left = story.total
        for _ in range(draw(st.integers(1, 3))):
            if left <= 0:
                break
            amount = draw(st.integers(1, left))
            left -= amount
            at += draw(st.integers(0, 3 * DAY))
            story.refund(amount, at)
    if fate == "cancelled":
        story.cancel(at + draw(st.integers(0, DAY)))
    return story


@st.composite
def shops(draw: st.DrawFn) -> Shop:
    count = draw(st.integers(1, 8))
    orders = [draw(stories(i)) for i in range(count)]
    carts = [
        (f"cart-{i}", START + draw(st.integers(0, 40 * DAY)))
        for i in range(draw(st.integers(0, 5)))
    ]
    return orders, carts


def deliveries(records: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The records interleaved at random, a third of them delivered again (a retried batch, a
    bisected one, a redelivery)."""
    again = [r for r in records if rng.random() < 0.33]
    stream = records + again + again[: len(again) // 2]
    rng.shuffle(stream)
    return stream


def _bump(table: dict[Aggregate, dict[str, int]], target: Aggregate, **counts: int) -> None:
    row = table[target]
    for name, value in counts.items():
        row[name] = row.get(name, 0) + value


def recompute(
    orders: Iterable[OrderStory], carts: Iterable[tuple[str, int]]
) -> dict[Aggregate, dict[str, int]]:
    """Every aggregate from the orders' writes, by the rules of API.md, without the consumer."""
    table: dict[Aggregate, dict[str, int]] = defaultdict(dict)
    buyers_by_day: dict[str, set[str]] = defaultdict(set)
    for story in orders:
        paid_at = next(
            (at for stored, at in story.versions if stored.order.payment.charge_id), None
        )
        if paid_at is None:
            continue
        order = story.current.order
        date, buyer = utc_date(paid_at), buyer_key(order)
        units = sum(line.quantity for line in order.lines)
        _bump(table, Day(date), orders=1, gmv=story.total, units=units)
        buyers_by_day[date].add(buyer)
        _bump(table, BuyerDay(date, buyer), orders=1)
        _bump(table, BuyerMonth(month_of(date), buyer), orders=1)
        for line in order.lines:
            for target in (SkuDay(date, line.sku), SkuMonth(month_of(date), line.sku)):
                _bump(table, target, units=line.quantity, revenue=line.amount.amount)
        if order.owner:
            _bump(table, Customer(order.owner), orders=1, spend=story.total)
        refunded = 0
        for stored, at in story.versions:
            now_refunded = stored.order.payment.refunded.amount
            if now_refunded > refunded:
                _bump(table, Day(utc_date(at)), refunds=now_refunded - refunded)
                if order.owner:
                    _bump(table, Customer(order.owner), spend=refunded - now_refunded)
                refunded = now_refunded
    for date, buyers in buyers_by_day.items():
        _bump(table, Day(date), customers=len(buyers))
    for _, at in carts:
        _bump(table, Day(utc_date(at)), carts=1)
    return nonzero(table)


def nonzero(counts: dict[Aggregate, dict[str, int]]) -> dict[Aggregate, dict[str, int]]:
    cleaned = {t: {k: v for k, v in row.items() if v} for t, row in counts.items()}
    return {t: row for t, row in cleaned.items() if row}


def records_of(orders: list[OrderStory], carts: list[tuple[str, int]]) -> list[dict[str, Any]]:
    records = [record for story in orders for record in story.records()]
    records += [cart_record(cart_id, at) for cart_id, at in carts]
    records += [line_record(cart_id, "SKU-A", at) for cart_id, at in carts]
    return records


def latest_orders(orders: Iterable[OrderStory]) -> dict[str, int]:
    """Each signed-in customer's last payment: where their last-order time must end."""
    latest: dict[str, int] = {}
    for story in orders:
        paid_at = next((at for s, at in story.versions if s.order.payment.charge_id), None)
        if story.owner and paid_at is not None:
            latest[story.owner] = max(latest.get(story.owner, 0), paid_at)
    return latest


def book_mismatches(
    book: InsightBook, orders: list[OrderStory], carts: list[tuple[str, int]]
) -> list[str]:
    """Where ``book``'s figures differ from a recomputation from the orders (empty: nowhere),
    read as the figures read them: day totals, buyers and SKUs over the range, customer
    values with their last orders."""
    truth = recompute(orders, carts)
    wrong: list[str] = []
    days = book.day_counts("2030-01-01", "2030-03-31")
    for target, counts in truth.items():
        if isinstance(target, Day):
            stored = days.get(target.date, DayCounts())
            if {k: getattr(stored, k) for k in counts} != counts:
                wrong.append(f"{target}: {stored} != {counts}")
    written = sum(c.get("orders", 0) for t, c in truth.items() if isinstance(t, Day))
    if sum(d.orders for d in days.values()) != written:
        wrong.append(f"orders {sum(d.orders for d in days.values())} != {written}")
    reads = plan_range(DateRange(date(2030, 1, 1), date(2030, 3, 31)))
    buyers: dict[str, int] = {}
    skus: dict[str, dict[str, int]] = {}
    for target, counts in truth.items():
        if isinstance(target, BuyerMonth):
            buyers[target.buyer] = buyers.get(target.buyer, 0) + counts["orders"]
        if isinstance(target, SkuMonth):
            row = skus.setdefault(target.sku, {})
            for name, value in counts.items():
                row[name] = row.get(name, 0) + value
    if book.buyer_orders(reads) != buyers:
        wrong.append(f"buyers {book.buyer_orders(reads)} != {buyers}")
    stored_skus = {s: {k: v for k, v in c.items() if v} for s, c in book.sku_counts(reads).items()}
    if stored_skus != {s: {k: v for k, v in c.items() if v} for s, c in skus.items()}:
        wrong.append(f"skus {stored_skus} != {skus}")
    latest = latest_orders(orders)
    for target, counts in truth.items():
        if isinstance(target, Customer):
            value = book.customer_value(target.customer_id)
            expected = (counts.get("orders", 0), counts.get("spend", 0))
            found = (value.orders, value.spend.amount, value.last_order_at) if value else None
            if found != (*expected, latest[target.customer_id]):
                wrong.append(f"{target}: {found} != {expected}")
    return wrong
