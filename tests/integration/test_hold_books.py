"""A property of holds over partial reads, on moto: whatever guests do to their lines of a
multi-shard SKU, one change after another, the books balance and no refusal is a false one.

Hypothesis draws a SKU's shards (uneven, some dry, so a cart's preferred shard often cannot
cover a change and the hold reads every shard) and a sequence of line changes by a few guest
carts, through the cart use case (``service.set_item``: the sold-out mark, the one-shard read,
the plan, the transaction). After every change the tables are read raw, not through the store:

- every shard keeps ``0 <= reserved <= on_hand`` and ``available == on_hand - reserved``: no
  oversell;
- per shard, ``reserved`` equals the units the carts' lines say they took there, and each
  line's quantity is the sum of its takes: every held unit is accounted for, once;
- a change is refused only when the SKU truly lacks the units it needs (the line's new quantity
  less what it holds, against the SKU's available units read before the change), or when it
  is a decrease while this instance's sold-out mark stands (the mark refuses any quantity above
  zero before anything is read: test_hold_costs.py); a change that has the units is applied.

Each example has its own SKU and carts, so examples share the moto tables without seeing each
other's items (hence the function-scoped fixture health check is off).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from commerce.carts import service, sold_out
from commerce.domain.money import Money
from commerce.domain.product import NewProduct, SkuSpec
from commerce.errors import OutOfStock
from commerce.http.auth import Caller
from commerce.store import keys, products
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

CARTS = 3


def _sku(dynamodb: Any, on_hand: list[int]) -> str:
    """A new SKU with one shard per entry of ``on_hand`` (nothing reserved)."""
    sku = f"BOOKS-{uuid.uuid4().hex[:10]}"
    spec = SkuSpec(sku=sku, price=Money(100), stock=0)
    products.create(uuid.uuid4().hex, NewProduct("Books", "", (spec,)), actor="t", at="2026-01-01")
    table = os.environ["INVENTORY_TABLE"]
    for shard, units in enumerate(on_hand):
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": keys.stock_pk(sku, shard)},
                "sk": {"S": keys.STOCK_SK},
                "sku": {"S": sku},
                "shard": {"N": str(shard)},
                "on_hand": {"N": str(units)},
                "reserved": {"N": "0"},
                "available": {"N": str(units)},
            },
        )
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": keys.sku_pk(sku)}, "sk": {"S": keys.META_SK}},
        UpdateExpression="SET shard_count = :n",
        ExpressionAttributeValues={":n": {"N": str(len(on_hand))}},
    )
    return sku


def _shards(dynamodb: Any, sku: str, count: int) -> list[tuple[int, int, int]]:
    """(on_hand, reserved, available) of each shard, read raw and consistently."""
    rows = []
    for shard in range(count):
        item = dynamodb.get_item(
            TableName=os.environ["INVENTORY_TABLE"],
            Key={"pk": {"S": keys.stock_pk(sku, shard)}, "sk": {"S": keys.STOCK_SK}},
            ConsistentRead=True,
        )["Item"]
        rows.append(tuple(int(item[name]["N"]) for name in ("on_hand", "reserved", "available")))
    return rows  # type: ignore[return-value]


def _line(dynamodb: Any, cart_id: str, sku: str) -> tuple[int, dict[int, int]]:
    """The line's quantity and takes per shard, read raw (0 and {} when there is none)."""
    item = dynamodb.get_item(
        TableName=os.environ["CARTS_TABLE"],
        Key={"pk": {"S": keys.cart_pk(cart_id)}, "sk": {"S": keys.line_sk(sku)}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return 0, {}
    takes = {int(k): int(v["N"]) for k, v in item.get("takes", {}).get("M", {}).items()}
    return int(item["quantity"]["N"]), {shard: units for shard, units in takes.items() if units}


@settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    on_hand=st.lists(st.integers(0, 6), min_size=2, max_size=4),
    changes=st.lists(st.tuples(st.integers(0, CARTS - 1), st.integers(0, 9)), max_size=12),
)
def test_the_books_balance_and_no_refusal_is_false(
    dynamodb: Any, on_hand: list[int], changes: list[tuple[int, int]]
) -> None:
    sku = _sku(dynamodb, on_hand)
    count = len(on_hand)
    guests = [service.create_cart(Caller()) for _ in range(CARTS)]
    for index, quantity in changes:
        cart = guests[index]
        held, _ = _line(dynamodb, cart.cart_id, sku)
        free = sum(available for _, _, available in _shards(dynamodb, sku, count))
        marked = sold_out.marked(sku)
        try:
            service.set_item(cart.cart_id, sku, quantity, Caller(), cart.cart_token)
        except OutOfStock:
            lacking = quantity - held > free
            assert lacking or (marked and quantity > 0), (quantity, held, free, marked)
            assert _line(dynamodb, cart.cart_id, sku)[0] == held  # a refusal changes nothing
        else:
            assert quantity - held <= free  # never more than the SKU had
            assert _line(dynamodb, cart.cart_id, sku)[0] == quantity
        shards = _shards(dynamodb, sku, count)
        lines = [_line(dynamodb, guest.cart_id, sku) for guest in guests]
        for shard, (stocked, reserved, available) in enumerate(shards):
            assert 0 <= reserved <= stocked == on_hand[shard]
            assert available == stocked - reserved
            assert reserved == sum(takes.get(shard, 0) for _, takes in lines)
        for quantity_held, takes in lines:
            assert quantity_held == sum(takes.values())
