"""Inventory use cases for staff: read a SKU's stock, adjust it, split it over shards, and set
the safety stock below which it alerts."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.low_stock import check_low_stock
from commerce.catalog.schemas import AdjustmentIn, InventoryOut, SafetyStockIn, ShardCountIn
from commerce.clock import now_iso
from commerce.domain.product import is_valid_sku
from commerce.errors import NotFound
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.store import inventory
from commerce.store.inventory import Outcome


def _require_known_format(sku: str) -> None:
    # A SKU code the catalog could never have accepted cannot have stock: 404, like any
    # unknown SKU, rather than a 400 that would treat the path as a form field.
    if not is_valid_sku(sku):
        raise NotFound(f"No inventory for SKU {sku[:64]}")


def get_inventory(sku: str, *, consistent: bool = False) -> InventoryOut:
    """A SKU's stock summed over its shards."""
    _require_known_format(sku)
    stock = inventory.read_stock([sku], consistent=consistent).get(sku)
    if stock is None:
        raise NotFound(f"No inventory for SKU {sku}")
    return InventoryOut(
        sku=sku,
        on_hand=stock.level.on_hand,
        reserved=stock.level.reserved,
        available=stock.level.available,
        safety_stock=stock.safety_stock,
        shards=stock.shard_count,
        low_stock=stock.low_stock,
    )


def adjust_inventory(
    sku: str, body: AdjustmentIn, caller: Caller, idempotency_key: str | None
) -> InventoryOut:
    """Apply a stock adjustment once (per Idempotency-Key) and return the fresh stock.

    Either direction may cross the safety stock, so the low-stock flag is re-evaluated after
    every applied adjustment (a replay changed nothing and needs no check).
    """
    _require_known_format(sku)
    outcome = inventory.adjust(
        sku,
        body.delta,
        reason=body.reason,
        actor=caller.actor(),
        at=now_iso(),
        idempotency_key=idempotency_key,
    )
    if outcome is Outcome.APPLIED:
        metrics.add_metric(name="InventoryAdjusted", unit=MetricUnit.Count, value=1)
        logger.info(
            "inventory adjusted", extra={"sku": sku, "delta": body.delta, "actor": caller.actor()}
        )
        check_low_stock(sku)
    else:
        logger.info("inventory adjustment replayed", extra={"sku": sku})
    return get_inventory(sku, consistent=True)


def set_shards(sku: str, body: ShardCountIn, caller: Caller) -> InventoryOut:
    """Split (or merge) a SKU's stock over ``body.count`` shards; totals are unchanged."""
    _require_known_format(sku)
    done = inventory.set_shard_count(sku, body.count)
    if done.from_count != done.to_count:
        metrics.add_metric(name="InventoryResharded", unit=MetricUnit.Count, value=1)
        logger.info(
            "inventory resharded",
            extra={
                "sku": sku,
                "from": done.from_count,
                "to": done.to_count,
                "actor": caller.actor(),
            },
        )
    return get_inventory(sku, consistent=True)


def set_safety_stock(sku: str, body: SafetyStockIn, caller: Caller) -> InventoryOut:
    """Set a SKU's safety stock and re-evaluate its low-stock flag against it."""
    _require_known_format(sku)
    inventory.set_safety_stock(sku, body.safety_stock)
    logger.info(
        "safety stock set",
        extra={"sku": sku, "safety_stock": body.safety_stock, "actor": caller.actor()},
    )
    check_low_stock(sku)
    return get_inventory(sku, consistent=True)
