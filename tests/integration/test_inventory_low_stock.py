"""Low-stock events: one per crossing below safety stock, read back from the notifications
queue that moto creates from template.yaml, and the flag's reset when stock recovers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from commerce import events
from commerce.catalog.low_stock import LOW_STOCK_EVENT, check_low_stock
from commerce.domain.inventory import LowStockChange
from commerce.events import DomainEvent, EventPublishError, MemoryEventPublisher
from commerce.store import inventory
from inventory_events import adjust_event
from queue_helpers import events_on

from infra.local.resources import CreatedResources, create_queues
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

Call = Callable[[dict[str, Any]], Any]
SKU = "LOW-1"
TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")


@pytest.fixture
def queue(dynamodb: Any) -> Iterator[str]:
    """The template's queues in moto; domain events go to NotificationsQueue. Yields its URL."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), sqs, created)
    url = created.queues["NotificationsQueue"]
    events.use_publisher(events.SqsEventPublisher(url))
    yield url
    events.use_publisher(None)


def _received(url: str) -> list[dict[str, Any]]:
    """Every message waiting in the queue (bodies decoded, event_type attribute attached)."""
    return events_on(boto3.client("sqs", region_name="us-east-1"), url)


@pytest.fixture
def sku(create_product: Callable[..., Any]) -> str:
    """10 units with a safety stock of 5."""
    create_product((SKU, 10), name="Low stock item", price=100, safety_stock=5)
    return SKU


def _adjust(call: Call, make_event: Callable[..., Any], sku: str, delta: int) -> Any:
    reply = call(adjust_event(make_event, sku, delta, "count"))
    assert reply.status == 200, reply.body
    return reply


def _patch(
    call: Call, make_event: Callable[..., Any], sku: str, body: Any, role: str = "ops"
) -> Any:
    return call(
        make_event(
            "inventory_set_safety_stock.json", role=role, body=body, path_params={"sku": sku}
        )
    )


def test_falling_below_safety_stock_emits_one_event(
    sku: str,
    queue: str,
    call_inventory: Call,
    make_event: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _adjust(call_inventory, make_event, sku, -5).body["low_stock"] is False  # 5: not below
    assert _received(queue) == []
    capsys.readouterr()
    low = _adjust(call_inventory, make_event, sku, -1)
    assert (low.body["available"], low.body["low_stock"]) == (4, True)
    [message] = _received(queue)
    assert message["type"] == message["_event_type"] == LOW_STOCK_EVENT
    assert message["data"] == {"sku": sku, "available": 4, "safety_stock": 5}
    assert len(message["event_id"]) == 64
    assert message["occurred_at"].endswith("Z")
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    low_stock_metrics = [m for m in emf if "LowStock" in m]
    assert len(low_stock_metrics) == 1
    assert low_stock_metrics[0]["sku"] == sku  # metadata, not a dimension
    assert ["service"] in low_stock_metrics[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    # Still below: no second event for the same crossing.
    _adjust(call_inventory, make_event, sku, -2)
    assert _received(queue) == []


def test_recovery_resets_the_flag_and_the_next_fall_is_a_new_event(
    sku: str, queue: str, call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    _adjust(call_inventory, make_event, sku, -8)
    [first] = _received(queue)
    up = _adjust(call_inventory, make_event, sku, 3)  # exactly the safety stock: recovered
    assert (up.body["available"], up.body["low_stock"]) == (5, False)
    assert _received(queue) == []  # recovery emits nothing
    _adjust(call_inventory, make_event, sku, -1)
    [second] = _received(queue)
    assert second["data"]["available"] == 4
    assert second["event_id"] != first["event_id"]


def test_patching_safety_stock_reevaluates_at_once(
    sku: str, queue: str, call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    sample = call_inventory(make_event("inventory_set_safety_stock.json", path_params={"sku": sku}))
    assert sample.status == 200, sample.body  # the sample sets 20 on a SKU with 10
    assert (sample.body["safety_stock"], sample.body["low_stock"]) == (20, True)
    [message] = _received(queue)
    assert message["data"] == {"sku": sku, "available": 10, "safety_stock": 20}
    lowered = _patch(call_inventory, make_event, sku, {"safety_stock": 0})
    assert (lowered.status, lowered.body["low_stock"]) == (200, False)
    assert _received(queue) == []


@pytest.mark.parametrize(
    "body",
    [{"safety_stock": -1}, {"safety_stock": "3"}, {"safety_stock": 1.0}, {}, {"stock": 3}],
)
def test_bad_safety_stock_is_400(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], scan_all: Any, body: Any
) -> None:
    before = scan_all()
    reply = _patch(call_inventory, make_event, sku, body)
    assert reply.status == 400
    assert reply.body["type"] == "validation-error"
    assert scan_all() == before


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("customer", 403), ("support", 403), ("admin", 200)]
)
def test_only_ops_sets_safety_stock(
    sku: str,
    queue: str,
    call_inventory: Call,
    make_event: Callable[..., Any],
    role: Any,
    status: int,
) -> None:
    assert _patch(call_inventory, make_event, sku, {"safety_stock": 3}, role=role).status == status


def test_unknown_sku_is_404(
    dynamodb: Any, call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    reply = _patch(call_inventory, make_event, "NOPE-1", {"safety_stock": 3})
    assert reply.status == 404
    assert reply.body["type"] == "not-found"


def test_low_stock_on_a_sharded_sku_uses_the_sum(
    sku: str, queue: str, call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    inventory.set_shard_count(sku, 4)
    _adjust(call_inventory, make_event, sku, -5)
    assert _received(queue) == []
    _adjust(call_inventory, make_event, sku, -1)
    [message] = _received(queue)
    assert message["data"]["available"] == 4


# --- the check itself, below the handler ------------------------------------------------------


def test_repeated_checks_publish_once(sku: str, dynamodb: Any) -> None:
    recorded = MemoryEventPublisher()
    events.use_publisher(recorded)
    try:
        inventory.set_safety_stock(sku, 11)
        results = [check_low_stock(sku) for _ in range(5)]
    finally:
        events.use_publisher(None)
    assert results.count(LowStockChange.CROSSED_BELOW) == 1
    assert results.count(LowStockChange.NONE) == 4
    assert len(recorded.events) == 1


class _Failing:
    def __init__(self) -> None:
        self.attempts = 0

    def publish(self, event: DomainEvent) -> None:
        self.attempts += 1
        raise EventPublishError("queue unavailable")


def test_a_failed_send_is_retried_by_the_next_check_with_the_same_id(
    sku: str, dynamodb: Any
) -> None:
    failing = _Failing()
    events.use_publisher(failing)
    try:
        inventory.set_safety_stock(sku, 11)
        assert check_low_stock(sku) is LowStockChange.NONE  # never raises into the write path
        assert failing.attempts == 1
        assert inventory.read_shards(sku).low_stock is False  # flag lowered again
        recorded = MemoryEventPublisher()
        events.use_publisher(recorded)
        assert check_low_stock(sku) is LowStockChange.CROSSED_BELOW
    finally:
        events.use_publisher(None)
    [event] = recorded.events
    expected = events.stable_event_id(LOW_STOCK_EVENT, sku, "1")
    assert event.event_id == expected  # the first crossing, as the failed send would have been


def test_safety_stock_of_zero_never_alerts(sku: str, dynamodb: Any) -> None:
    recorded = MemoryEventPublisher()
    events.use_publisher(recorded)
    try:
        inventory.set_safety_stock(sku, 0)
        inventory.adjust(sku, -10, reason="r", actor="a", at="2026-01-01T00:00:00.000000Z")
        assert check_low_stock(sku) is LowStockChange.NONE
    finally:
        events.use_publisher(None)
    assert recorded.events == []


def test_check_of_an_unknown_sku_is_quiet(dynamodb: Any) -> None:
    assert check_low_stock("GHOST") is LowStockChange.NONE
