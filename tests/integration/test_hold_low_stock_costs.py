"""Low stock settled by a hold without reading on every hold, through the cart handler on moto.

- one shard: the hold's own read has the whole picture, so a hold that crosses below safety
  stock costs its three requests and the flag's conditional UpdateItem, and publishes one
  ``inventory.low_stock`` event; the holds after it cost the three requests alone (the
  instance forgets a meta it wrote, so the next hold's batch reads the raised flag);
- several shards: a hold that leaves its shard far above that shard's share of the safety
  stock reads nothing more; one that takes it down to its share reads every shard (the
  full check), and raises the flag with one event when the SKU's total crossed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from commerce.catalog.low_stock import LOW_STOCK_EVENT
from commerce.domain.reservations import preferred_shard
from commerce.events import MemoryEventPublisher
from commerce.store import inventory
from dynamodb_calls import Sent, inventory_keys, operations
from monotonic_clock import drive
from orders_world import Shop

pytestmark = pytest.mark.integration

ONE = "LOWC-1"  # one shard: 10 units, safety stock 5
WIDE = "LOWC-4"  # four shards, safety stock 8: a shard's share is 2


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((ONE, 10), price=100, safety_stock=5)
    create_product((WIDE, 40), price=100, safety_stock=8)
    inventory.set_shard_count(WIDE, 4)
    inventory.forget_seen()
    return shop


def _low_stock(published: MemoryEventPublisher) -> list[dict[str, Any]]:
    return [e.data for e in published.events if e.type == LOW_STOCK_EVENT]


def _set_shard(shop: Shop, sku: str, shard: int, on_hand: int) -> None:
    """A shard's on-hand stock (nothing reserved): what earlier sales left on it."""
    shop.dynamodb.update_item(
        TableName=os.environ["INVENTORY_TABLE"],
        Key={"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}},
        UpdateExpression="SET on_hand = :n, available = :n, reserved = :z",
        ExpressionAttributeValues={":n": {"N": str(on_hand)}, ":z": {"N": "0"}},
    )


def test_a_one_shard_crossing_costs_the_hold_and_the_flag_update(
    shop: Shop, sent: Sent, events: MemoryEventPublisher
) -> None:
    shop.cart_with({ONE: 5})  # available 5: at safety stock, not below
    assert _low_stock(events) == []
    second, second_token = shop.new_cart()
    sent.clear()
    assert shop.set_line(second, ONE, 1, token=second_token).status == 200
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems", "UpdateItem"]
    assert sent[3][1]["TableName"] == os.environ["INVENTORY_TABLE"]
    assert "ConditionExpression" in sent[3][1]
    assert _low_stock(events) == [{"sku": ONE, "available": 4, "safety_stock": 5}]
    assert inventory.read_shards(ONE).low_stock is True


def test_holds_after_the_crossing_cost_the_hold_alone(
    shop: Shop, sent: Sent, events: MemoryEventPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Time stands still: without the flag's write, every hold would believe the meta the
    # crossing's hold read (flag down) and try to raise the flag again.
    drive(monkeypatch, inventory)
    shop.cart_with({ONE: 6})  # the crossing: the flag is up
    assert len(_low_stock(events)) == 1
    metas = []
    for _ in range(2):
        cart_id, token = shop.new_cart()
        sent.clear()
        assert shop.set_line(cart_id, ONE, 1, token=token).status == 200
        assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems"]
        metas.append(f"SKU#{ONE}" in inventory_keys(sent[0][1]))
    # The instance forgot the meta it wrote: the next hold reads it again in its own batch.
    assert metas == [True, False]
    assert len(_low_stock(events)) == 1


def test_a_release_that_recovers_lowers_the_flag_it_knows_is_up(
    shop: Shop, events: MemoryEventPublisher
) -> None:
    cart_id, token = shop.cart_with({ONE: 6})
    assert shop.set_line(cart_id, ONE, 0, token=token).status == 200
    assert inventory.read_shards(ONE).low_stock is False
    shop.cart_with({ONE: 7})
    assert [e["available"] for e in _low_stock(events)] == [4, 3]  # a new crossing, a new event


def test_a_hold_far_above_its_shards_share_reads_nothing_more(
    shop: Shop, sent: Sent, events: MemoryEventPublisher
) -> None:
    cart_id, token = shop.new_cart()
    inventory.read_shards(WIDE)  # the shard count is known: the hold reads its cart's shard
    sent.clear()
    assert shop.set_line(cart_id, WIDE, 3, token=token).status == 200  # 10 -> 7, share 2
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems"]
    assert _low_stock(events) == []


def test_a_shard_taken_to_its_share_makes_the_full_check(
    shop: Shop, sent: Sent, events: MemoryEventPublisher
) -> None:
    cart_id, token = shop.new_cart()
    inventory.read_shards(WIDE)
    sent.clear()
    assert shop.set_line(cart_id, WIDE, 8, token=token).status == 200  # 10 -> 2: its share
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems", "BatchGetItem"]
    assert len(sent[3][1]["RequestItems"][os.environ["INVENTORY_TABLE"]]["Keys"]) == 5
    assert _low_stock(events) == []  # 32 left of 40: far above the SKU's safety stock


def test_the_full_check_raises_the_flag_once_when_the_total_crosses(
    shop: Shop, sent: Sent, events: MemoryEventPublisher
) -> None:
    cart_id, token = shop.new_cart()
    preferred = preferred_shard(cart_id, 4)
    for shard in range(4):
        _set_shard(shop, WIDE, shard, 5 if shard == preferred else 1)  # 8 in all: not below
    inventory.read_shards(WIDE)
    sent.clear()
    assert shop.set_line(cart_id, WIDE, 3, token=token).status == 200  # 5 -> 2: its share
    assert operations(sent) == [
        "BatchGetItem",
        "Query",
        "TransactWriteItems",
        "BatchGetItem",  # the full check
        "UpdateItem",  # the flag, raised once
    ]
    assert _low_stock(events) == [{"sku": WIDE, "available": 5, "safety_stock": 8}]
