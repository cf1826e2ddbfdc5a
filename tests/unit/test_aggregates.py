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

import pytest
from commerce.analytics.memory import MemoryInsightBook
from commerce.analytics.stream import Result, handle_record
from commerce.domain.aggregates import Day
from hypothesis import given, settings
from hypothesis import strategies as st
from shop_streams import (
    DAY,
    START,
    Shop,
    deliveries,
    latest_orders,
    nonzero,
    recompute,
    records_of,
    shops,
)
from stream_builders import OrderStory, line_record

pytestmark = pytest.mark.unit


@settings(max_examples=100, deadline=None)
@given(shop=shops(), seed=st.integers(0, 2**32 - 1))
def test_aggregates_equal_a_recomputation_from_the_orders(shop: Shop, seed: int) -> None:
    orders, carts = shop
    book = MemoryInsightBook()
    for record in deliveries(records_of(orders, carts), random.Random(seed)):
        handle_record(record, book=book, now=lambda: START + 60 * DAY)
    assert nonzero(book.tally.counts) == recompute(orders, carts)
    # Last orders move forward only: each customer's is their latest payment.
    assert book.last_orders == latest_orders(orders)


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
