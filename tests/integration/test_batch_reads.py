"""One BatchGetItem across tables (store/batch_reads), on moto: what a hot path reads at once."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from commerce.domain.inventory import StockLevel
from commerce.store import batch_reads, carts, inventory, products
from commerce.store import shipping_zones as zone_store
from dynamodb_calls import Sent, operations

pytestmark = pytest.mark.integration


def test_items_of_three_tables_come_back_as_their_models_in_one_call(
    create_product: Callable[..., Any], sent: Sent
) -> None:
    create_product(("BR-1", 7))
    offer_key, missing_line = products.offer_key("BR-1"), carts.line_key("0" * 32, "BR-1")
    sent.clear()
    found = batch_reads.read([offer_key, *inventory.stock_keys("BR-1"), missing_line])
    assert operations(sent) == ["BatchGetItem"]
    offer = products.offer_from(found.get(offer_key))
    assert offer is not None
    assert offer.price.amount > 0
    stock = inventory.shards_from("BR-1", found)
    assert stock is not None
    assert stock.levels == (StockLevel(7, 0),)
    assert found.get(missing_line) is None
    assert len(found) == 3  # the SKU record, the meta, shard 0


def test_consistency_is_asked_per_table(create_product: Callable[..., Any], sent: Sent) -> None:
    create_product(("BR-2", 1))
    line = replace(carts.line_key("0" * 32, "BR-2"), consistent=True)
    sent.clear()
    batch_reads.read([products.offer_key("BR-2"), zone_store.table_key(), line], consistent=False)
    [(_, params)] = sent
    consistent = {table: ask["ConsistentRead"] for table, ask in params["RequestItems"].items()}
    assert consistent[os.environ["CARTS_TABLE"]] is True
    assert consistent[os.environ["CATALOG_TABLE"]] is False


def test_shards_added_since_the_count_was_seen_are_read_too(
    create_product: Callable[..., Any], dynamodb: Any
) -> None:
    create_product(("BR-3", 4))
    assert inventory.read_shards("BR-3").shard_count == 1  # the count is remembered
    table = os.environ["INVENTORY_TABLE"]
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "STOCK#BR-3#01"},
            "sk": {"S": "STOCK"},
            "sku": {"S": "BR-3"},
            "shard": {"N": "1"},
            "on_hand": {"N": "6"},
            "reserved": {"N": "2"},
            "available": {"N": "4"},
        },
    )
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "SKU#BR-3"}, "sk": {"S": "META"}},
        UpdateExpression="SET shard_count = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    stock = inventory.read_shards("BR-3")
    assert stock.levels == (StockLevel(4, 0), StockLevel(6, 2))
    assert len(inventory.stock_keys("BR-3")) == 3  # the meta and both shards from now on


def test_a_batch_reads_at_most_a_hundred_keys(dynamodb: Any) -> None:
    wanted = [products.offer_key(f"BR-{n}") for n in range(101)]
    with pytest.raises(ValueError, match="at most 100"):
        batch_reads.read(wanted)
    assert len(batch_reads.read(wanted[:100])) == 0
