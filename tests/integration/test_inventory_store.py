"""The inventory repository: shard sums and conditional adjustments, below the HTTP layer."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from commerce.domain.inventory import StockLevel
from commerce.errors import Conflict, NotFound
from commerce.store import inventory
from commerce.store.inventory import Outcome

pytestmark = pytest.mark.integration


def _add_shard(dynamodb: Any, sku: str, shard: int, on_hand: int, reserved: int) -> None:
    """Lay out a second shard by hand, as the hot-SKU split will (shard_count on the meta)."""
    table = os.environ["INVENTORY_TABLE"]
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"STOCK#{sku}#{shard:02d}"},
            "sk": {"S": "STOCK"},
            "sku": {"S": sku},
            "shard": {"N": str(shard)},
            "on_hand": {"N": str(on_hand)},
            "reserved": {"N": str(reserved)},
            "available": {"N": str(on_hand - reserved)},
        },
    )
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "META"}},
        UpdateExpression="SET shard_count = :n",
        ExpressionAttributeValues={":n": {"N": str(shard + 1)}},
    )


def test_read_sums_every_shard(create_product: Callable[..., Any], dynamodb: Any) -> None:
    create_product(("SH-1", 10), ("SH-2", 3))
    _add_shard(dynamodb, "SH-1", 1, on_hand=5, reserved=2)
    stock = inventory.read_stock(["SH-1", "SH-2", "UNKNOWN"], consistent=True)
    assert set(stock) == {"SH-1", "SH-2"}
    assert stock["SH-1"].level == StockLevel(on_hand=15, reserved=2)
    assert stock["SH-1"].shard_count == 2
    assert stock["SH-1"].level.available == 13
    assert stock["SH-2"].level == StockLevel(on_hand=3, reserved=0)


def test_product_view_shows_summed_availability(
    create_product: Callable[..., Any],
    dynamodb: Any,
    call_catalog: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., Any],
) -> None:
    product_id = create_product(("SH-3", 4)).body["product_id"]
    _add_shard(dynamodb, "SH-3", 1, on_hand=6, reserved=1)
    reply = call_catalog(
        make_event("catalog_get_product.json", path_params={"product_id": product_id})
    )
    assert reply.body["skus"][0]["available"] == 9


def test_adjust_unknown_sku_raises_not_found(dynamodb: Any, scan_all: Any) -> None:
    with pytest.raises(NotFound):
        inventory.adjust("GHOST", 5, reason="r", actor="a", at="2026-01-01T00:00:00.000000Z")
    assert all(items == [] for items in scan_all().values())


def test_adjust_below_reserved_raises_conflict_with_available(
    create_product: Callable[..., Any], scan_all: Any
) -> None:
    create_product(("C-1", 2))
    before = scan_all()
    with pytest.raises(Conflict) as info:
        inventory.adjust("C-1", -3, reason="r", actor="a", at="2026-01-01T00:00:00.000000Z")
    assert info.value.extensions["available"] == 2
    assert scan_all() == before


def test_replay_wins_over_a_now_failing_condition(create_product: Callable[..., Any]) -> None:
    """A retry of an applied removal must not turn into a 409 because stock has since gone."""
    create_product(("R-1", 5))
    at = "2026-01-01T00:00:00.000000Z"
    assert inventory.adjust("R-1", -5, reason="r", actor="a", at=at, idempotency_key="k") is (
        Outcome.APPLIED
    )
    again = inventory.adjust("R-1", -5, reason="r", actor="a", at=at, idempotency_key="k")
    assert again is Outcome.REPLAYED
    assert inventory.read_stock(["R-1"], consistent=True)["R-1"].level.on_hand == 0
