"""The order stream added up: whatever the interleaving of orders' writes and however often a
record is delivered again, the aggregates equal a recomputation from the orders themselves.

Orders are generated as stories (placed, maybe paid, then refunds in parts or a cancel), each
write one stream record in Lambda's shape; the records of all orders and some carts are
shuffled, some delivered twice or more, and fed through the consumer into the in-memory book,
which keeps the DynamoDB book's rules (tests/integration/test_analytics_stream.py runs the same
property against the Analytics table on moto).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pytest
from commerce.analytics.memory import MemoryInsightBook
from commerce.analytics.stream import Result, handle_record
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
from commerce.domain.order_facts import buyer_key, utc_date
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_builders import OrderStory, cart_record, line_record

pytestmark = pytest.mark.unit

DAY = 86_400
START = 1_893_456_000  # 2030-01-01T00:00:00Z
CUSTOMERS = ("c-1", "c-2", "c-3")
EMAILS = ("guest-a@example.com", "Guest-A@Example.com", "guest-b@example.com")
SKUS = ("SKU-A", "SKU-B", "SKU-C", "SKU-D")


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
def shops(draw: st.DrawFn) -> tuple[list[OrderStory], list[tuple[str, int]]]:
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
    return _nonzero(table)


def _nonzero(counts: dict[Aggregate, dict[str, int]]) -> dict[Aggregate, dict[str, int]]:
    cleaned = {t: {k: v for k, v in row.items() if v} for t, row in counts.items()}
    return {t: row for t, row in cleaned.items() if row}


def _records(orders: list[OrderStory], carts: list[tuple[str, int]]) -> list[dict[str, Any]]:
    records = [record for story in orders for record in story.records()]
    records += [cart_record(cart_id, at) for cart_id, at in carts]
    records += [line_record(cart_id, "SKU-A", at) for cart_id, at in carts]
    return records


@settings(max_examples=100, deadline=None)
@given(shop=shops(), seed=st.integers(0, 2**32 - 1))
def test_aggregates_equal_a_recomputation_from_the_orders(
    shop: tuple[list[OrderStory], list[tuple[str, int]]], seed: int
) -> None:
    orders, carts = shop
    book = MemoryInsightBook()
    for record in deliveries(_records(orders, carts), random.Random(seed)):
        handle_record(record, book=book, now=lambda: START + 60 * DAY)
    assert _nonzero(book.tally.counts) == recompute(orders, carts)
    # Last orders move forward only: each customer's is their latest payment.
    latest: dict[str, int] = {}
    for story in orders:
        paid_at = next((at for s, at in story.versions if s.order.payment.charge_id), None)
        if story.owner and paid_at is not None:
            latest[story.owner] = max(latest.get(story.owner, 0), paid_at)
    assert book.last_orders == latest


def test_a_record_delivered_twice_counts_once_and_says_so() -> None:
    story = OrderStory("order-1", "c-1", "a@example.com", (("SKU-A", 2, 500),), START).pay(
        START + 10
    )
    paid = story.records()[1]
    book = MemoryInsightBook()
    assert handle_record(paid, book=book) is Result.APPLIED
    assert handle_record(paid, book=book) is Result.DUPLICATE
    assert book.tally.of(Day("2030-01-01")) == {
        "orders": 1,
        "gmv": 1000,
        "units": 2,
        "customers": 1,
    }


def test_records_of_other_items_and_pending_orders_are_ignored() -> None:
    story = OrderStory("order-1", None, "a@example.com", (("SKU-A", 1, 500),), START)
    book = MemoryInsightBook()
    assert handle_record(story.records()[0], book=book) is Result.IGNORED
    assert handle_record(line_record("cart-1", "SKU-A", START), book=book) is Result.IGNORED
    assert book.tally.counts == {}
