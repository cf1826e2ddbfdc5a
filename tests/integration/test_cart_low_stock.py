"""Low stock from carts: a hold that takes a SKU below safety stock sends one
``inventory.low_stock`` event; releases and the sweeper lower the flag again.

Through the cart function's handler, against moto, with the notifications queue built from
template.yaml; the events are read back from that queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from commerce import events
from commerce.catalog.low_stock import LOW_STOCK_EVENT
from commerce.store import inventory
from orders_world import Context
from queue_helpers import events_on

from infra.local.resources import CreatedResources, create_queues
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
SKU = "LOW-CART-1"


@pytest.fixture
def queue(dynamodb: Any) -> Iterator[str]:
    """NotificationsQueue in moto, installed as the domain events' destination."""
    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), boto3.client("sqs", region_name="us-east-1"), created)
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
    create_product((SKU, 10), name="Low stock cart item", price=100, safety_stock=5)
    return SKU


class Guest:
    """One guest cart driven through the cart handler."""

    def __init__(self, module: ModuleType, make_event: Callable[..., Any]) -> None:
        self.module = module
        self.make_event = make_event
        created = self._call("cart_create.json", {})
        assert created["statusCode"] == 201, created
        body = json.loads(created["body"])
        self.cart_id: str = body["cart_id"]
        self.token: str = body["cart_token"]

    def _call(self, sample: str, params: dict[str, str], body: Any = "keep") -> dict[str, Any]:
        event = self.make_event(sample, role=None, body=body, path_params=params or None)
        for headers in (event["headers"], event["multiValueHeaders"]):
            headers.pop("X-Cart-Token", None)
        if params:
            event["headers"]["X-Cart-Token"] = self.token
            event["multiValueHeaders"]["X-Cart-Token"] = [self.token]
        result: dict[str, Any] = self.module.lambda_handler(event, Context())
        return result

    def set(self, sku: str, quantity: int) -> int:
        params = {"cart_id": self.cart_id, "sku": sku}
        reply = self._call("cart_set_item.json", params, body={"quantity": quantity})
        return int(reply["statusCode"])

    def remove(self, sku: str) -> int:
        reply = self._call("cart_remove_item.json", {"cart_id": self.cart_id, "sku": sku})
        return int(reply["statusCode"])


@pytest.fixture
def guest(cart_module: ModuleType, make_event: Callable[..., Any]) -> Callable[[], Guest]:
    return lambda: Guest(cart_module, make_event)


def test_a_hold_crossing_safety_stock_sends_exactly_one_event(
    sku: str, queue: str, guest: Callable[[], Guest]
) -> None:
    first, second, third = guest(), guest(), guest()
    assert first.set(sku, 5) == 200  # available 5: at safety stock, not below
    assert _received(queue) == []
    assert second.set(sku, 1) == 200  # available 4: the crossing
    [message] = _received(queue)
    assert message["type"] == message["_event_type"] == LOW_STOCK_EVENT
    assert message["data"] == {"sku": sku, "available": 4, "safety_stock": 5}
    assert inventory.read_shards(sku).low_stock is True
    assert third.set(sku, 2) == 200  # still below: the same crossing, no second event
    assert second.set(sku, 1) == 200  # a renewal moves no stock
    assert _received(queue) == []


def test_a_release_resets_the_flag_and_the_next_fall_is_a_new_event(
    sku: str, queue: str, guest: Callable[[], Guest]
) -> None:
    first, second = guest(), guest()
    assert first.set(sku, 6) == 200
    [crossed] = _received(queue)
    assert first.remove(sku) == 200  # all 10 free again: recovered, silently
    assert inventory.read_shards(sku).low_stock is False
    assert _received(queue) == []
    assert second.set(sku, 7) == 200
    [again] = _received(queue)
    assert again["data"]["available"] == 3
    assert again["event_id"] != crossed["event_id"]


def test_the_sweeper_resets_the_flag_of_what_it_released(
    sku: str, queue: str, guest: Callable[[], Guest], monkeypatch: pytest.MonkeyPatch
) -> None:
    from commerce import clock
    from commerce.carts import sweeper
    from commerce.settings import get_settings

    assert guest().set(sku, 8) == 200
    assert len(_received(queue)) == 1
    later = clock.now() + get_settings().reservation_ttl_seconds + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    report = sweeper.sweep(later, lambda: 60_000)
    assert (report.released, report.skus) == (1, {sku})
    assert inventory.read_shards(sku).low_stock is False
    assert _received(queue) == []
    assert guest().set(sku, 6) == 200  # a new fall after the sweep: a new event
    assert len(_received(queue)) == 1
