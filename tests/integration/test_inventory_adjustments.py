"""Reading and adjusting stock through the inventory handler, against moto."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from inventory_events import adjust_event as _adjust

pytestmark = pytest.mark.integration

Call = Callable[[dict[str, Any]], Any]
SKU = "ADJ-1"


@pytest.fixture
def sku(create_product: Callable[..., Any]) -> str:
    create_product((SKU, 10))
    return SKU


def _hold(dynamodb: Any, sku: str, units: int) -> None:
    """Simulate carts holding ``units`` (holds arrive with the cart feature): reserved grows,
    available shrinks, as every write must keep them."""
    dynamodb.update_item(
        TableName=os.environ["INVENTORY_TABLE"],
        Key={"pk": {"S": f"STOCK#{sku}#00"}, "sk": {"S": "STOCK"}},
        UpdateExpression="SET reserved = reserved + :u, available = available - :u",
        ExpressionAttributeValues={":u": {"N": str(units)}},
    )


def _read(call_inventory: Call, make_event: Callable[..., Any], sku: str) -> Any:
    return call_inventory(make_event("inventory_get.json", path_params={"sku": sku}))


def test_read_inventory_sample_event(
    create_product: Callable[..., Any], call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    create_product(("TEA-LJ-50G", 120))
    reply = call_inventory(make_event("inventory_get.json"))
    assert reply.status == 200
    assert reply.body == {
        "sku": "TEA-LJ-50G",
        "on_hand": 120,
        "reserved": 0,
        "available": 120,
        "safety_stock": 0,
        "shards": 1,
        "low_stock": False,
    }


def test_adjust_up_and_down(sku: str, call_inventory: Call, make_event: Callable[..., Any]) -> None:
    up = call_inventory(_adjust(make_event, sku, 5, "delivery"))
    assert up.status == 200
    assert (up.body["on_hand"], up.body["available"]) == (15, 15)
    down = call_inventory(_adjust(make_event, sku, -15, "written off"))
    assert down.status == 200
    assert (down.body["on_hand"], down.body["available"]) == (0, 0)
    assert _read(call_inventory, make_event, sku).body["on_hand"] == 0


def test_below_reserved_is_409_with_available_and_changes_nothing(
    sku: str,
    call_inventory: Call,
    make_event: Callable[..., Any],
    dynamodb: Any,
    scan_all: Any,
) -> None:
    _hold(dynamodb, sku, 4)
    before = scan_all()
    reply = call_inventory(_adjust(make_event, sku, -7))
    assert reply.status == 409
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "conflict"
    assert reply.body["available"] == 6
    assert scan_all() == before
    exact = call_inventory(_adjust(make_event, sku, -6))
    assert exact.status == 200
    assert exact.body == {
        "sku": sku,
        "on_hand": 4,
        "reserved": 4,
        "available": 0,
        "safety_stock": 0,
        "shards": 1,
        "low_stock": False,
    }


def test_retried_adjustment_is_applied_once(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], scan_all: Any
) -> None:
    first = call_inventory(_adjust(make_event, sku, -3, key="retry-1"))
    after_first = scan_all()
    second = call_inventory(_adjust(make_event, sku, -3, key="retry-1"))
    assert first.status == second.status == 200
    assert first.body == second.body
    assert second.body["on_hand"] == 7
    assert scan_all() == after_first


def test_same_key_on_another_sku_is_independent(
    create_product: Callable[..., Any], call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    create_product(("K-A", 5), ("K-B", 5))
    a = call_inventory(_adjust(make_event, "K-A", -1, key="shared"))
    b = call_inventory(_adjust(make_event, "K-B", -1, key="shared"))
    assert (a.body["on_hand"], b.body["on_hand"]) == (4, 4)


def test_same_key_with_another_change_is_422(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], scan_all: Any
) -> None:
    call_inventory(_adjust(make_event, sku, -1, key="k"))
    before = scan_all()
    reply = call_inventory(_adjust(make_event, sku, -2, key="k"))
    assert reply.status == 422
    assert reply.body["type"] == "idempotency-key-reuse"
    assert scan_all() == before


def test_ledger_entries_carry_reason_actor_and_key(
    sku: str, call_inventory: Call, make_event: Callable[..., Any]
) -> None:
    from commerce.store.inventory import ledger

    call_inventory(_adjust(make_event, sku, 2, "supplier delivery", key="dlv-7"))
    call_inventory(_adjust(make_event, sku, -1, "damaged", role="admin"))
    entries = ledger(sku)
    assert [(e.delta, e.reason) for e in entries] == [
        (-1, "damaged"),
        (2, "supplier delivery"),
        (10, "initial stock"),
    ]
    assert entries[0].actor == "ad000000-0000-4000-8000-000000000004"
    assert entries[1].actor == "0a000000-0000-4000-8000-000000000003"
    assert entries[1].idempotency_key == "dlv-7"
    assert entries[0].idempotency_key is None


@pytest.mark.parametrize("missing", ["NOPE-1", "bad sku", "-x", "x" * 65])
def test_unknown_or_impossible_sku_is_404(
    call_inventory: Call, make_event: Callable[..., Any], scan_all: Any, missing: str
) -> None:
    read = _read(call_inventory, make_event, missing)
    adjusted = call_inventory(_adjust(make_event, missing, 5))
    assert read.status == adjusted.status == 404
    assert adjusted.body["type"] == "not-found"
    assert all(items == [] for items in scan_all().values())


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("zero", {"delta": 0, "reason": "x"}, "delta"),
    ("float", {"delta": 1.5, "reason": "x"}, "delta"),
    ("bool", {"delta": True, "reason": "x"}, "delta"),
    ("string", {"delta": "3", "reason": "x"}, "delta"),
    ("too big", {"delta": 10**7 + 1, "reason": "x"}, "delta"),
    ("too small", {"delta": -(10**7) - 1, "reason": "x"}, "delta"),
    ("no reason", {"delta": 1}, "reason"),
    ("empty reason", {"delta": 1, "reason": ""}, "reason"),
    ("long reason", {"delta": 1, "reason": "r" * 201}, "reason"),
    ("unknown field", {"delta": 1, "reason": "x", "shard": 1}, "shard"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_adjustment_is_400_and_changes_nothing(
    sku: str,
    call_inventory: Call,
    make_event: Callable[..., Any],
    scan_all: Any,
    case: str,
    body: Any,
    field: str,
) -> None:
    before = scan_all()
    event = make_event("inventory_adjust.json", body=body, path_params={"sku": sku})
    reply = call_inventory(event)
    assert reply.status == 400, case
    assert reply.body["type"] == "validation-error"
    assert field in [e["field"] for e in reply.body["errors"]]
    assert scan_all() == before


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_bad_idempotency_key_is_400(
    sku: str, call_inventory: Call, make_event: Callable[..., Any], scan_all: Any, key: str
) -> None:
    before = scan_all()
    reply = call_inventory(_adjust(make_event, sku, 1, key=key))
    assert reply.status == 400
    assert scan_all() == before
