"""Splitting a SKU's stock over shards, and adjusting it across them, through the handler (moto).

The rules checked: totals never change when shards change; available is spread evenly; every
row keeps available = on_hand - reserved; shards that hold reserved units are never removed; an
adjustment sees the sum of the shards; a shard that changes between the read and the write
makes the write retry from a fresh read, never write a stale plan.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from commerce.store import inventory
from commerce.store.transactions import LabelledTransaction
from inventory_events import adjust_event

pytestmark = pytest.mark.integration

Call = Callable[[dict[str, Any]], Any]
SKU = "HOT-1"


def _hold(dynamodb: Any, sku: str, shard: int, units: int) -> None:
    """What a cart's take does to a shard (the cart feature's write, done by hand)."""
    dynamodb.update_item(
        TableName=os.environ["INVENTORY_TABLE"],
        Key={"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}},
        UpdateExpression="SET reserved = reserved + :u, available = available - :u",
        ConditionExpression="available >= :u",
        ExpressionAttributeValues={":u": {"N": str(units)}},
    )


def _restock(dynamodb: Any, sku: str, shard: int, units: int) -> None:
    """A concurrent positive adjustment landing on one shard."""
    dynamodb.update_item(
        TableName=os.environ["INVENTORY_TABLE"],
        Key={"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}},
        UpdateExpression="SET on_hand = on_hand + :u, available = available + :u",
        ExpressionAttributeValues={":u": {"N": str(units)}},
    )


def _rows(dynamodb: Any, sku: str) -> dict[int, tuple[int, int, int]]:
    """Shard number -> (on_hand, reserved, available) of every stock row of ``sku``."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=os.environ["INVENTORY_TABLE"], ConsistentRead=True
    )
    rows = {}
    for page in pages:
        for item in page["Items"]:
            if item["pk"]["S"].startswith(f"STOCK#{sku}#"):
                rows[int(item["shard"]["N"])] = (
                    int(item["on_hand"]["N"]),
                    int(item["reserved"]["N"]),
                    int(item["available"]["N"]),
                )
    return rows


def _assert_rows_consistent(rows: dict[int, tuple[int, int, int]], count: int) -> None:
    assert sorted(rows) == list(range(count))
    for on_hand, reserved, available in rows.values():
        assert available == on_hand - reserved
        assert 0 <= reserved <= on_hand


def _set_shards(
    make_event: Callable[..., Any], sku: str, count: Any, role: str | None = "ops"
) -> Any:
    return make_event(
        "inventory_set_shards.json", role=role, body={"count": count}, path_params={"sku": sku}
    )


def _adjust(make_event: Callable[..., Any], sku: str, delta: int, key: str | None = None) -> Any:
    return adjust_event(make_event, sku, delta, "count", key)


@pytest.fixture
def sku(create_product: Callable[..., Any]) -> str:
    create_product((SKU, 10))
    return SKU


def test_sample_event_splits_the_sku(
    create_product: Callable[..., Any], call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    create_product(("TEA-LJ-50G", 120))
    reply = call_inventory(make_event("inventory_set_shards.json"))
    assert reply.status == 200, reply.body
    assert reply.body["shards"] == 4
    assert (reply.body["on_hand"], reply.body["available"]) == (120, 120)


def test_more_shards_keep_totals_and_spread_available(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], dynamodb: Any
) -> None:
    _hold(dynamodb, sku, 0, 3)
    reply = call_inventory(_set_shards(make_event, sku, 4))
    assert reply.status == 200, reply.body
    assert reply.body == {
        "sku": sku,
        "on_hand": 10,
        "reserved": 3,
        "available": 7,
        "safety_stock": 0,
        "shards": 4,
        "low_stock": False,
    }
    rows = _rows(dynamodb, sku)
    _assert_rows_consistent(rows, 4)
    # The held units stay where the hold took them; only available moves.
    assert rows == {0: (5, 3, 2), 1: (2, 0, 2), 2: (2, 0, 2), 3: (1, 0, 1)}
    read = call_inventory(make_event("inventory_get.json", path_params={"sku": sku}))
    assert read.body == reply.body


def test_product_view_sums_the_new_shards(
    create_product: Callable[..., Any],
    call_inventory: Call,
    call_catalog: Call,
    make_event: Callable[..., Any],
) -> None:
    product_id = create_product(("HOT-P", 9)).body["product_id"]
    assert call_inventory(_set_shards(make_event, "HOT-P", 5)).status == 200
    product = call_catalog(
        make_event("catalog_get_product.json", path_params={"product_id": product_id})
    )
    assert product.body["skus"][0]["available"] == 9


def test_fewer_shards_merge_stock_and_delete_rows(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], dynamodb: Any
) -> None:
    assert call_inventory(_set_shards(make_event, sku, 4)).status == 200
    _hold(dynamodb, sku, 0, 2)
    _hold(dynamodb, sku, 1, 1)
    reply = call_inventory(_set_shards(make_event, sku, 2))
    assert reply.status == 200, reply.body
    assert (reply.body["shards"], reply.body["on_hand"], reply.body["reserved"]) == (2, 10, 3)
    rows = _rows(dynamodb, sku)
    _assert_rows_consistent(rows, 2)
    assert [rows[s][2] for s in rows] == [4, 3]  # available 7 spread evenly
    refused = call_inventory(_set_shards(make_event, sku, 1))  # shard 1 still holds a unit
    assert refused.status == 409
    _hold(dynamodb, sku, 1, -1)  # ...until that hold is released
    back = call_inventory(_set_shards(make_event, sku, 1))
    assert back.status == 200
    assert _rows(dynamodb, sku) == {0: (10, 2, 8)}


def test_removing_a_shard_that_holds_reservations_is_409_and_changes_nothing(
    sku: str,
    call_inventory: Call,
    make_event: Callable[..., Any],
    dynamodb: Any,
    scan_all: Any,
) -> None:
    assert call_inventory(_set_shards(make_event, sku, 4)).status == 200
    _hold(dynamodb, sku, 3, 1)
    before = scan_all()
    reply = call_inventory(_set_shards(make_event, sku, 2))
    assert reply.status == 409
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "conflict"
    assert reply.body["shards"] == [3]
    assert reply.body["reserved"] == 1
    assert "reserved" in reply.body["detail"]
    assert scan_all() == before
    assert call_inventory(_set_shards(make_event, sku, 4)).status == 200  # same count: a no-op
    assert scan_all() == before


@pytest.mark.parametrize(
    "body",
    [{"count": 0}, {"count": 33}, {"count": "4"}, {"count": 2.0}, {"count": True}, {}, {"n": 2}],
)
def test_bad_shard_count_is_400(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], scan_all: Any, body: Any
) -> None:
    before = scan_all()
    event = make_event("inventory_set_shards.json", body=body, path_params={"sku": sku})
    reply = call_inventory(event)
    assert reply.status == 400
    assert reply.body["type"] == "validation-error"
    assert scan_all() == before


def test_unknown_sku_is_404(call_inventory: Call, make_event: Callable[..., Any]) -> None:
    for missing in ("NOPE-1", "bad sku"):
        reply = call_inventory(_set_shards(make_event, missing, 2))
        assert reply.status == 404
        assert reply.body["type"] == "not-found"


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("customer", 403), ("support", 403), ("admin", 200)]
)
def test_only_ops_sets_shards(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], role: str | None, status: int
) -> None:
    reply = call_inventory(_set_shards(make_event, sku, 2, role=role))
    assert reply.status == status
    shards = 2 if status == 200 else 1
    read = call_inventory(
        make_event("inventory_get.json", role="support", path_params={"sku": sku})
    )
    assert read.body["shards"] == shards


# --- adjustments across shards -----------------------------------------------------------------


def test_adjustments_spread_over_shards_and_see_the_sum(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], dynamodb: Any
) -> None:
    assert call_inventory(_set_shards(make_event, sku, 4)).status == 200  # 3, 3, 2, 2
    _hold(dynamodb, sku, 0, 3)  # shard 0: 3 on hand, 3 reserved, 0 available
    up = call_inventory(_adjust(make_event, sku, 3))
    assert up.status == 200
    assert (up.body["on_hand"], up.body["reserved"], up.body["available"]) == (13, 3, 10)
    rows = _rows(dynamodb, sku)
    _assert_rows_consistent(rows, 4)
    assert [rows[s][2] for s in range(4)] == [3, 3, 2, 2]  # the emptiest shard got the units
    down = call_inventory(_adjust(make_event, sku, -9))
    assert down.status == 200
    assert (down.body["on_hand"], down.body["available"]) == (4, 1)
    rows = _rows(dynamodb, sku)
    _assert_rows_consistent(rows, 4)
    assert rows[0] == (3, 3, 0)  # held units are never removed


def test_removal_beyond_the_sum_is_409_with_total_available(
    sku: str,
    call_inventory: Call,
    make_event: Callable[..., Any],
    dynamodb: Any,
    scan_all: Any,
) -> None:
    assert call_inventory(_set_shards(make_event, sku, 4)).status == 200
    _hold(dynamodb, sku, 2, 2)
    before = scan_all()
    reply = call_inventory(_adjust(make_event, sku, -9))
    assert reply.status == 409
    assert reply.body["type"] == "conflict"
    assert reply.body["available"] == 8
    assert scan_all() == before
    exact = call_inventory(_adjust(make_event, sku, -8))
    assert exact.status == 200
    assert (exact.body["on_hand"], exact.body["available"]) == (2, 0)


def test_idempotent_adjustment_across_shards_applies_once(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], scan_all: Any
) -> None:
    assert call_inventory(_set_shards(make_event, sku, 3)).status == 200
    first = call_inventory(_adjust(make_event, sku, -7, key="k-7"))
    after = scan_all()
    again = call_inventory(_adjust(make_event, sku, -7, key="k-7"))
    assert first.status == again.status == 200
    assert again.body["on_hand"] == 3
    assert scan_all() == after
    assert sorted(e.delta for e in inventory.ledger(sku)) == [-7, 10]


# --- writes racing the read ---------------------------------------------------------------------


@pytest.fixture
def before_commit(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """Queue actions to run just before the next transactions commit: a concurrent writer that
    lands between a plan's read and its write."""
    pending: list[Callable[[], None]] = []
    original = LabelledTransaction.commit

    def commit(self: LabelledTransaction) -> Any:
        if pending:
            pending.pop(0)()
        return original(self)

    monkeypatch.setattr(LabelledTransaction, "commit", commit)
    return pending


def test_reshard_replans_when_a_reservation_lands_first(
    sku: str, dynamodb: Any, before_commit: list[Callable[[], None]]
) -> None:
    before_commit.append(lambda: _hold(dynamodb, sku, 0, 9))  # takes what the plan would move
    done = inventory.set_shard_count(sku, 4)
    assert (done.from_count, done.to_count) == (1, 4)
    rows = _rows(dynamodb, sku)
    _assert_rows_consistent(rows, 4)
    assert sum(r[0] for r in rows.values()) == 10
    assert sum(r[1] for r in rows.values()) == 9
    # The plan was made again from the fresh read: one unit free, nothing worth moving.
    assert rows == {0: (10, 9, 1), 1: (0, 0, 0), 2: (0, 0, 0), 3: (0, 0, 0)}


def test_merge_refused_when_a_reservation_lands_on_a_removed_shard(
    sku: str, dynamodb: Any, scan_all: Any, before_commit: list[Callable[[], None]]
) -> None:
    from commerce.errors import Conflict

    inventory.set_shard_count(sku, 2)
    before_commit.append(lambda: _hold(dynamodb, sku, 1, 1))
    with pytest.raises(Conflict) as info:
        inventory.set_shard_count(sku, 1)
    assert info.value.extensions["shards"] == [1]
    rows = _rows(dynamodb, sku)
    _assert_rows_consistent(rows, 2)
    assert sum(r[0] for r in rows.values()) == 10


def test_reshard_gives_up_with_429_when_shards_keep_changing(
    sku: str, dynamodb: Any, scan_all: Any, before_commit: list[Callable[[], None]]
) -> None:
    from commerce.errors import TooManyRequests

    inventory.set_shard_count(sku, 2)
    # A restock lands on shard 1 before every attempt, so its delete never matches the read.
    before_commit.extend([lambda: _restock(dynamodb, sku, 1, 1)] * inventory.PLAN_ATTEMPTS)
    with pytest.raises(TooManyRequests):
        inventory.set_shard_count(sku, 1)
    rows = _rows(dynamodb, sku)
    assert rows[0] == (5, 0, 5)
    assert rows[1] == (5 + inventory.PLAN_ATTEMPTS, 0, 5 + inventory.PLAN_ATTEMPTS)


def test_adjustment_replans_when_a_reservation_lands_first(
    sku: str, dynamodb: Any, before_commit: list[Callable[[], None]]
) -> None:
    from commerce.errors import Conflict

    inventory.set_shard_count(sku, 2)  # 5 and 5
    before_commit.append(lambda: _hold(dynamodb, sku, 0, 5))
    at = "2026-01-01T00:00:00.000000Z"
    inventory.adjust(sku, -4, reason="r", actor="a", at=at)  # planned on shard 0, lands on 1
    assert _rows(dynamodb, sku) == {0: (5, 5, 0), 1: (1, 0, 1)}
    before_commit.append(lambda: _hold(dynamodb, sku, 1, 1))
    with pytest.raises(Conflict) as info:
        inventory.adjust(sku, -1, reason="r", actor="a", at=at)
    assert info.value.extensions["available"] == 0
    assert sorted(e.delta for e in inventory.ledger(sku)) == [-4, 10]


def test_read_levels_for_planners(sku: str, dynamodb: Any) -> None:
    from commerce.domain.inventory import StockLevel
    from commerce.errors import NotFound

    inventory.set_shard_count(sku, 3)
    _hold(dynamodb, sku, 1, 2)
    count, levels = inventory.read_levels(sku)
    assert count == 3
    assert levels == [StockLevel(4), StockLevel(3, 2), StockLevel(3)]
    with pytest.raises(NotFound):
        inventory.read_levels("GHOST")
