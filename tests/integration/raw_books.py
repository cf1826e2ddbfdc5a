"""The stateful machines' view of the books: items read straight from DynamoDB, with no store
code in between, and each request's outcome named.

Shared by ``test_reservations_stateful.py`` and ``test_flash_sale_stateful.py``, whose child
interpreters point at DynamoDB Local; the tables are the ones the settings name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any


def quiet(action: Callable[[], object], allowed: Collection[str]) -> str:
    """Run ``action``; the name of an ``allowed`` refusal, or "ok". Anything else propagates."""
    try:
        action()
    except Exception as error:
        name = type(error).__name__
        if name in allowed:
            return name
        raise
    return "ok"


def takes(line: dict[str, Any]) -> dict[int, int]:
    """The units a raw cart line holds, by shard (shards it holds none of left out)."""
    raw = line.get("takes", {}).get("M", {})
    return {int(shard): int(units["N"]) for shard, units in raw.items() if int(units["N"])}


class RawTables:
    """Consistent reads of a SKU's shards, a cart's header and a cart's line."""

    def __init__(self) -> None:
        import boto3
        from commerce.settings import get_settings

        settings = get_settings()
        self.client = boto3.client("dynamodb", region_name=settings.region)
        self.inventory = settings.inventory_table
        self.carts = settings.carts_table

    def _get(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return item

    def shards(self, sku: str) -> list[tuple[int, int, int]]:
        """(on_hand, reserved, available) per shard, as many as the SKU's meta says."""
        from commerce.store import keys

        meta = self._get(self.inventory, keys.sku_pk(sku), keys.META_SK)
        assert meta is not None, f"no meta for {sku}"
        count = int(meta.get("shard_count", {"N": "1"})["N"])
        levels = []
        for shard in range(count):
            row = self._get(self.inventory, keys.stock_pk(sku, shard), keys.STOCK_SK)
            assert row is not None, f"shard {shard} of {sku} is missing"
            on_hand, reserved, available = (
                int(row[name]["N"]) for name in ("on_hand", "reserved", "available")
            )
            levels.append((on_hand, reserved, available))
        return levels

    def line(self, cart_id: str, sku: str) -> dict[str, Any] | None:
        from commerce.store import keys

        return self._get(self.carts, keys.cart_pk(cart_id), keys.line_sk(sku))

    def checked_out(self, cart_id: str) -> bool:
        """Whether the cart became an order (its header names one)."""
        from commerce.store import keys

        header = self._get(self.carts, keys.cart_pk(cart_id), keys.CART_SK)
        assert header is not None, f"cart {cart_id} is missing"
        return "order_id" in header
