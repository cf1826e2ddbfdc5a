"""Stock is never oversold under concurrent adjustments: checked against DynamoDB Local.

moto's backend is not safe under concurrent conditional writes, so a race against it proves
nothing; DynamoDB Local is AWS's own engine. The racing happens in a child interpreter whose
PynamoDB clients point at DynamoDB Local from the start (this process's clients were made for
moto). Run directly, this file is that child.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from local_engine import run_child

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _race(endpoint: str, scenario: str) -> dict[str, Any]:
    return run_child(__file__, endpoint, scenario)


def test_concurrent_removals_never_oversell(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "removals")
    outcomes = result["outcomes"]
    assert outcomes.get("error", 0) == 0, result
    assert outcomes.get("applied", 0) <= result["stock"]
    assert result["on_hand"] == result["stock"] - outcomes.get("applied", 0)
    assert result["on_hand"] >= 0
    assert result["available"] == result["on_hand"]
    # one ledger entry per applied removal, plus the opening stock
    assert result["ledger_entries"] == outcomes.get("applied", 0) + 1
    assert (
        outcomes.get("applied", 0) + outcomes.get("conflict", 0) + outcomes.get("throttled", 0)
        == result["attempts"]
    )


def test_concurrent_retries_apply_once(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "retries")
    outcomes = result["outcomes"]
    assert outcomes.get("error", 0) == 0, result
    assert outcomes.get("applied", 0) == 1
    assert result["on_hand"] == result["stock"] - result["delta_size"]
    assert result["ledger_entries"] == 2


def test_concurrent_removals_over_four_shards_never_oversell(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "sharded")
    outcomes = result["outcomes"]
    assert outcomes.get("error", 0) == 0, result
    applied = outcomes.get("applied", 0)
    assert (
        applied + outcomes.get("conflict", 0) + outcomes.get("throttled", 0) == result["attempts"]
    )
    # Exactly the applied removals left stock, and never a held unit.
    assert result["on_hand"] == result["stock"] - applied
    assert result["reserved"] == result["held"]
    assert result["on_hand"] >= result["reserved"]
    assert applied <= result["stock"] - result["held"]
    if not outcomes.get("throttled"):
        assert applied == result["stock"] - result["held"]  # every free unit, and no more
    if outcomes.get("conflict", 0):
        assert result["available"] == 0  # a 409 only once nothing was left to remove
    for on_hand, reserved, available in result["rows"]:
        assert available == on_hand - reserved
        assert 0 <= reserved <= on_hand
    assert result["ledger_entries"] == applied + 1


def test_concurrent_low_stock_checks_publish_exactly_one_event(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "low_stock")
    assert result["errors"] == 0, result
    assert result["crossed"] == 1
    assert result["events"] == 1
    assert result["available"] < result["safety_stock"]
    # A SKU already below its safety stock, checked by many at once: still one event.
    assert result["already_low_crossed"] == 1
    assert result["already_low_events"] == 1


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _sharded_child() -> dict[str, Any]:
    """60 removals of 1 by 24 workers on a 4-shard SKU of 40 units, 6 of them held."""
    import uuid

    import boto3
    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.errors import Conflict, TooManyRequests
    from commerce.settings import get_settings
    from commerce.store import inventory, products

    stock, held, attempts = 40, 6, 60
    sku = f"SHARD-{uuid.uuid4().hex[:10]}"
    at = "2026-01-01T00:00:00.000000Z"
    spec = SkuSpec(sku=sku, price=Money(100), stock=stock)
    products.create(uuid.uuid4().hex, NewProduct("Race", "", (spec,)), actor="race", at=at)
    inventory.set_shard_count(sku, 4)
    client = boto3.client("dynamodb", region_name=get_settings().region)
    for shard, units in enumerate([3, 0, 2, 1]):  # carts' holds, as the cart feature takes them
        client.update_item(
            TableName=get_settings().inventory_table,
            Key={"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}},
            UpdateExpression="SET reserved = reserved + :u, available = available - :u",
            ConditionExpression="available >= :u",
            ExpressionAttributeValues={":u": {"N": str(units)}},
        )

    def one(i: int) -> str:
        try:
            inventory.adjust(sku, -1, reason="race", actor=f"w{i}", at=f"{at[:-8]}{i:06d}Z")
        except Conflict:
            return "conflict"
        except TooManyRequests:
            return "throttled"
        except Exception:  # reported, and fails the test
            return "error"
        return "applied"

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = Counter(pool.map(one, range(attempts)))
    shards = inventory.read_shards(sku, consistent=True)
    rows = []
    for shard in range(shards.shard_count):
        item = client.get_item(
            TableName=get_settings().inventory_table,
            Key={"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}},
            ConsistentRead=True,
        )["Item"]
        rows.append([int(item[name]["N"]) for name in ("on_hand", "reserved", "available")])
    return {
        "stock": stock,
        "held": held,
        "attempts": attempts,
        "outcomes": dict(outcomes),
        "on_hand": shards.level.on_hand,
        "reserved": shards.level.reserved,
        "available": shards.level.available,
        "rows": rows,
        "ledger_entries": len(inventory.ledger(sku, limit=1000)),
    }


def _low_stock_child() -> dict[str, Any]:
    """24 workers each remove a unit from a 4-shard SKU (20 units, safety 10) and then check."""
    import uuid

    from commerce import events
    from commerce.catalog.low_stock import check_low_stock
    from commerce.domain.inventory import LowStockChange
    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.errors import CommerceError
    from commerce.store import inventory, products

    recorded = events.MemoryEventPublisher()
    events.use_publisher(recorded)
    at = "2026-01-01T00:00:00.000000Z"

    def new_sku(stock: int, safety_stock: int) -> str:
        sku = f"LOW-{uuid.uuid4().hex[:10]}"
        spec = SkuSpec(sku=sku, price=Money(100), stock=stock, safety_stock=safety_stock)
        products.create(uuid.uuid4().hex, NewProduct("Race", "", (spec,)), actor="race", at=at)
        inventory.set_shard_count(sku, 4)
        return sku

    sku = new_sku(20, 10)
    errors = 0

    def remove_then_check(i: int) -> LowStockChange:
        nonlocal errors
        try:
            inventory.adjust(sku, -1, reason="race", actor=f"w{i}", at=at)
        except CommerceError:
            return LowStockChange.NONE
        except Exception:
            errors += 1
            return LowStockChange.NONE
        return check_low_stock(sku)

    with ThreadPoolExecutor(max_workers=24) as pool:
        changes = Counter(pool.map(remove_then_check, range(24)))
    shards = inventory.read_shards(sku, consistent=True)
    sku_events = [e for e in recorded.events if e.data["sku"] == sku]

    low = new_sku(3, 5)
    with ThreadPoolExecutor(max_workers=16) as pool:
        already = Counter(pool.map(lambda _: check_low_stock(low), range(32)))
    low_events = [e for e in recorded.events if e.data["sku"] == low]
    return {
        "errors": errors,
        "crossed": changes[LowStockChange.CROSSED_BELOW],
        "events": len(sku_events),
        "available": shards.level.available,
        "safety_stock": shards.safety_stock,
        "already_low_crossed": already[LowStockChange.CROSSED_BELOW],
        "already_low_events": len(low_events),
    }


def _child(scenario: str) -> dict[str, Any]:
    import uuid

    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.errors import Conflict, TooManyRequests
    from commerce.store import inventory, products
    from commerce.store.inventory import Outcome

    stock, attempts, delta_size = (20, 60, 1) if scenario == "removals" else (50, 24, 5)
    sku = f"RACE-{uuid.uuid4().hex[:10]}"
    at = "2026-01-01T00:00:00.000000Z"
    spec = SkuSpec(sku=sku, price=Money(100), stock=stock)
    products.create(uuid.uuid4().hex, NewProduct("Race", "", (spec,)), actor="race", at=at)

    def one(i: int) -> str:
        key = "same-key" if scenario == "retries" else None
        try:
            outcome = inventory.adjust(
                sku,
                -delta_size,
                reason="race",
                actor=f"worker-{i}",
                at=f"2026-01-01T00:00:01.{i:06d}Z",
                idempotency_key=key,
            )
        except Conflict:
            return "conflict"
        except TooManyRequests:
            return "throttled"
        except Exception:  # reported, and fails the test
            return "error"
        return "applied" if outcome is Outcome.APPLIED else "replayed"

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = Counter(pool.map(one, range(attempts)))
    level = inventory.read_stock([sku], consistent=True)[sku].level
    return {
        "stock": stock,
        "attempts": attempts,
        "delta_size": delta_size,
        "outcomes": dict(outcomes),
        "on_hand": level.on_hand,
        "available": level.available,
        "ledger_entries": len(inventory.ledger(sku, limit=1000)),
    }


if __name__ == "__main__":
    CHILDREN = {"sharded": _sharded_child, "low_stock": _low_stock_child}
    scenario = sys.argv[1]
    print(json.dumps(CHILDREN[scenario]() if scenario in CHILDREN else _child(scenario)))
