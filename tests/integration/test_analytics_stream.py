"""The stream consumer on the Analytics table (moto): Lambda-shaped stream events through the
handler as Lambda loads it, figures read back through the insight routes.

moto's DynamoDB does not run streams, so the events are built the way Lambda hands them over
(tests/stream_builders.py, checked against ``sam local generate-event dynamodb update`` by the
invoke test); the pump that reads real streams is tested against DynamoDB Local
(test_stream_pump.py) and the whole path over the local stack (tests/e2e/test_insight.py).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import boto3
import pytest
from commerce.analytics import stream
from commerce.analytics.book import DynamoInsightBook
from commerce.settings import get_settings
from commerce.store import analytics as store
from commerce.store import campaigns as campaign_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orders_world import Context, load_function
from shop_streams import DAY, START, Shop, book_mismatches, deliveries, records_of, shops
from stream_builders import OrderStory, a_campaign, cart_record

from infra.local.resources import CreatedResources, create_queues
from infra.local.stack import REPO_ROOT
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

TEMPLATE = load_template(REPO_ROOT / "template.yaml")

Event = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def insight_module() -> ModuleType:
    return load_function("insight")


@pytest.fixture
def dlq(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The consumer's dead-letter queue on moto, named in its settings."""
    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), boto3.client("sqs", region_name="us-east-1"), created)
    url = created.queues["AnalyticsDLQ"]
    monkeypatch.setattr(
        stream, "get_settings", lambda: replace(get_settings(), analytics_dlq_url=url)
    )
    return url


def consume(module: ModuleType, records: list[dict[str, Any]]) -> dict[str, Any]:
    response: dict[str, Any] = module.lambda_handler({"Records": records}, Context())
    return response


def figures(insight: ModuleType, make_event: Event, first: str, last: str) -> dict[str, Any]:
    event = make_event("insight_sales.json", role="ops", query={"from": first, "to": last})
    reply = insight.lambda_handler(event, Context())
    assert reply["statusCode"] == 200, reply["body"]
    body: dict[str, Any] = json.loads(reply["body"])
    return body


def top(insight: ModuleType, make_event: Event, first: str, last: str) -> list[dict[str, Any]]:
    query = {"from": first, "to": last, "limit": "100"}
    reply = insight.lambda_handler(
        make_event("insight_products.json", role="ops", query=query), Context()
    )
    assert reply["statusCode"] == 200, reply["body"]
    items: list[dict[str, Any]] = json.loads(reply["body"])["items"]
    return items


def test_a_paid_order_counts_once_on_its_day_however_often_its_records_come(
    dynamodb: Any, analytics_module: ModuleType, insight_module: ModuleType, make_event: Event
) -> None:
    lines = (("SKU-A", 2, 1250), ("SKU-B", 1, 800))
    story = OrderStory("order-1", "c-1", "a@example.com", lines, START + 60).pay(START + 3600)
    records = [cart_record("cart-1", START), *story.records()]
    assert consume(analytics_module, records) == {"batchItemFailures": []}
    assert consume(analytics_module, records) == {"batchItemFailures": []}  # a retried batch
    assert consume(analytics_module, records[1:][::-1]) == {"batchItemFailures": []}
    body = figures(insight_module, make_event, "2030-01-01", "2030-01-01")
    (day,) = body["days"]
    assert day == {
        "date": "2030-01-01",
        "orders": 1,
        "gmv": {"amount": 3300, "currency": "CNY"},
        "refunds": {"amount": 0, "currency": "CNY"},
        "net": {"amount": 3300, "currency": "CNY"},
        "aov": {"amount": 3300, "currency": "CNY"},
        "units": 3,
        "customers": 1,
    }
    assert body["totals"]["carts"] == 1
    assert body["totals"]["conversion_rate"] == 1.0
    assert [
        (p["sku"], p["units"], p["revenue"]["amount"])
        for p in top(insight_module, make_event, "2030-01-01", "2030-01-01")
    ] == [("SKU-A", 2, 2500), ("SKU-B", 1, 800)]


def test_a_refund_lowers_net_on_the_day_it_was_made(
    dynamodb: Any, analytics_module: ModuleType, insight_module: ModuleType, make_event: Event
) -> None:
    story = OrderStory("order-1", None, "g@example.com", (("SKU-A", 1, 5000),), START)
    story.pay(START + 60).refund(1500, START + 2 * DAY + 60)
    consume(analytics_module, story.records())
    body = figures(insight_module, make_event, "2030-01-01", "2030-01-03")
    assert [
        (d["gmv"]["amount"], d["refunds"]["amount"], d["net"]["amount"]) for d in body["days"]
    ] == [
        (5000, 0, 5000),
        (0, 0, 0),
        (0, 1500, -1500),
    ]
    assert body["totals"]["net"] == {"amount": 3500, "currency": "CNY"}


def test_a_poison_record_is_dead_lettered_with_its_reason_and_the_batch_goes_on(
    dynamodb: Any,
    dlq: str,
    analytics_module: ModuleType,
    insight_module: ModuleType,
    make_event: Event,
) -> None:
    story = OrderStory("order-1", "c-1", "a@example.com", (("SKU-A", 1, 700),), START)
    placed, paid = story.pay(START + 60).records()
    poison = json.loads(json.dumps(paid))
    poison["eventID"] = "poison-1"
    poison["dynamodb"]["NewImage"] = {"pk": paid["dynamodb"]["Keys"]["pk"], "status": {"S": "PAID"}}
    answer = consume(analytics_module, [placed, poison, paid])
    assert answer == {"batchItemFailures": []}
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["eventID"] == "poison-1"
    assert messages[0]["MessageAttributes"]["error"]["StringValue"] == "PoisonRecord"
    assert figures(insight_module, make_event, "2030-01-01", "2030-01-01")["totals"]["orders"] == 1


def test_a_record_that_fails_for_now_is_reported_and_counts_once_when_retried(
    dynamodb: Any,
    analytics_module: ModuleType,
    insight_module: ModuleType,
    make_event: Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = OrderStory("order-1", "c-1", "a@example.com", (("SKU-A", 1, 700),), START)
    second = OrderStory("order-2", "c-2", "b@example.com", (("SKU-B", 1, 900),), START)
    records = [first.pay(START + 60).records()[1], second.pay(START + 90).records()[1]]
    real = store.apply_plan
    calls = {"n": 0}

    def throttled(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "apply_plan", throttled)
    answer = consume(analytics_module, records)
    assert answer == {
        "batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]
    }
    assert consume(analytics_module, records[1:]) == {"batchItemFailures": []}  # Lambda's retry
    totals = figures(insight_module, make_event, "2030-01-01", "2030-01-01")["totals"]
    assert (totals["orders"], totals["gmv"]["amount"]) == (2, 1600)


def test_an_order_of_fifty_lines_is_applied_in_parts_each_once(
    dynamodb: Any, analytics_module: ModuleType, insight_module: ModuleType, make_event: Event
) -> None:
    lines = tuple((f"SKU-{n:02d}", 1, 100 + n) for n in range(50))
    records = (
        OrderStory("order-big", "c-1", "a@example.com", lines, START).pay(START + 60).records()
    )
    consume(analytics_module, records)
    consume(analytics_module, records)
    found = top(insight_module, make_event, "2030-01-01", "2030-01-01")
    assert sorted(p["sku"] for p in found) == sorted(sku for sku, _, _ in lines)
    assert [p["units"] for p in found] == [1] * 50, found
    guards = dynamodb.scan(
        TableName=get_settings().analytics_table,
        FilterExpression="begins_with(pk, :applied)",
        ExpressionAttributeValues={":applied": {"S": "APPLIED#"}},
    )["Items"]
    assert len(guards) == 2  # the plan took two transactions, each guarded


def test_orders_paid_by_a_recipient_within_seven_days_count_for_the_campaign(
    dynamodb: Any, analytics_module: ModuleType
) -> None:
    campaign = a_campaign()
    campaign_store.create_campaign(campaign)
    campaign_store.add_recipients(campaign.campaign_id, ["c-1", "c-2"])
    assert campaign_store.finish_recipient(
        campaign.campaign_id, "c-1", {"email": "sent"}, now=START
    )
    assert campaign_store.finish_recipient(
        campaign.campaign_id, "c-2", {"email": "skipped"}, now=START
    )
    within = OrderStory("o-1", "c-1", "a@example.com", (("SKU-A", 1, 1000),), START + DAY)
    late = OrderStory("o-2", "c-1", "a@example.com", (("SKU-A", 1, 2000),), START + 8 * DAY)
    not_reached = OrderStory("o-3", "c-2", "b@example.com", (("SKU-A", 1, 4000),), START + DAY)
    for story in (within, late, not_reached):
        records = story.pay(story.placed_at + 60).records()
        consume(analytics_module, records)
        consume(analytics_module, records)
    result = campaign_store.load_campaign(campaign.campaign_id)
    assert result is not None
    counts = result.counts
    assert (counts.recipients, counts.sent, counts.skipped, counts.done) == (2, 1, 1, 2)
    assert (counts.orders, counts.revenue) == (1, 1000)


# --- The property, on the Analytics table -----------------------------------------------------


@pytest.fixture
def fresh_analytics(dynamodb: Any) -> Callable[[], None]:
    """Empties the Analytics table (each Hypothesis example starts from nothing)."""
    table = get_settings().analytics_table

    def clear() -> None:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    return clear


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shop=shops(), seed=st.integers(0, 2**32 - 1))
def test_the_tables_equal_a_recomputation_from_the_orders(
    fresh_analytics: Callable[[], None], analytics_module: ModuleType, shop: Shop, seed: int
) -> None:
    fresh_analytics()
    orders, carts = shop
    batch = deliveries(records_of(orders, carts), random.Random(seed))
    for start in range(0, len(batch), 7):  # Lambda-sized batches, in the shuffled order
        assert consume(analytics_module, batch[start : start + 7]) == {"batchItemFailures": []}
    assert book_mismatches(DynamoInsightBook(), orders, carts) == []
