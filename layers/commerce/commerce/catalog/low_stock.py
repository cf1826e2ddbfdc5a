"""Low-stock alerts: one ``inventory.low_stock`` event per crossing below safety stock.

Any code that changes a SKU's stock calls ``check_low_stock(sku)`` after its write succeeded
(adjustments here; reservations, releases and the sweeper in the cart feature). The check reads
the SKU's levels and meta, asks the domain which transition applies, and makes it with a
conditional update of the meta's ``low_stock`` flag: of any number of concurrent checks exactly
one raises the flag, and only that one publishes the event and counts the ``LowStock`` metric.
When available is back at or above safety stock the flag is lowered the same way (no event), so
the next fall is a new crossing with a new event.

The module stays small on purpose: the cart function imports it on its hot path.
"""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import events
from commerce.clock import now_iso
from commerce.domain.inventory import LowStockChange, low_stock_change
from commerce.observability import logger, metrics
from commerce.store import inventory

LOW_STOCK_EVENT: Final = "inventory.low_stock"
LOW_STOCK_METRIC: Final = "LowStock"


def low_stock_event(
    sku: str, *, available: int, safety_stock: int, crossing: int, occurred_at: str
) -> events.DomainEvent:
    """The event of the ``crossing``-th fall of ``sku`` below its safety stock.

    Its id depends only on the SKU and the crossing's number, so a re-sent event (after a
    failed send was undone and retried) is recognisably the same one.
    """
    return events.DomainEvent(
        event_id=events.stable_event_id(LOW_STOCK_EVENT, sku, str(crossing)),
        type=LOW_STOCK_EVENT,
        occurred_at=occurred_at,
        data={"sku": sku, "available": available, "safety_stock": safety_stock},
    )


def _announce(sku: str, available: int, safety_stock: int) -> LowStockChange:
    crossing = inventory.flag_low_stock(sku)
    if crossing is None:
        return LowStockChange.NONE  # another writer raised the flag and announces it
    event = low_stock_event(
        sku,
        available=available,
        safety_stock=safety_stock,
        crossing=crossing,
        occurred_at=now_iso(),
    )
    try:
        events.publisher().publish(event)
    except events.EventPublishError:
        # Lower the flag again so the next check retries this very crossing (same event id).
        inventory.unflag_low_stock(sku, crossing)
        raise
    metrics.add_metric(name=LOW_STOCK_METRIC, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="sku", value=sku)
    logger.info(
        "low stock",
        extra={
            "sku": sku,
            "available": available,
            "safety_stock": safety_stock,
            "event_id": event.event_id,
        },
    )
    return LowStockChange.CROSSED_BELOW


def check_low_stock(sku: str) -> LowStockChange:
    """Re-evaluate ``sku``'s low-stock flag after a write; what this call changed.

    Returns CROSSED_BELOW only to the one caller that raised the flag and published the event,
    RECOVERED only to the one that lowered it, NONE otherwise. Never raises: the stock write it
    follows has already happened and must not be reported as failed because an alert could not
    be sent; a failure is logged and the next check tries again.
    """
    try:
        shards = inventory.read_shards(sku, consistent=True)
    except Exception:  # a best-effort alert: see the docstring
        logger.exception("low-stock check failed", extra={"sku": sku})
        return LowStockChange.NONE
    return settle_low_stock(sku, shards.level.available, shards.safety_stock, shards.low_stock)


def settle_low_stock(sku: str, available: int, safety_stock: int, flagged: bool) -> LowStockChange:
    """``check_low_stock`` from figures the caller already has: the SKU's read before its write
    and what the write moved (a hold reads its stock anyway, so its check costs no read). A
    write whose figures raced another's may miss a crossing; the next change of the SKU sees
    it. Never raises, for the same reason as ``check_low_stock``."""
    try:
        change = low_stock_change(available, safety_stock, flagged)
        if change is LowStockChange.CROSSED_BELOW:
            return _announce(sku, available, safety_stock)
        if change is LowStockChange.RECOVERED and inventory.clear_low_stock(sku):
            logger.info(
                "stock replenished",
                extra={"sku": sku, "available": available, "safety_stock": safety_stock},
            )
            return LowStockChange.RECOVERED
    except Exception:  # a best-effort alert: see check_low_stock
        logger.exception("low-stock check failed", extra={"sku": sku})
    return LowStockChange.NONE
