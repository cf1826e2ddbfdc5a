"""InventoryFunction: staff reads and adjustments of stock, sharding and safety stock (API.md)."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from commerce.catalog import inventory
from commerce.catalog.schemas import AdjustmentIn, InventoryOut, SafetyStockIn, ShardCountIn
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["inventory"]
_SKU = Path(description="SKU code; a code that cannot exist is 404")


@app.get(
    "/admin/inventory/<sku>",
    summary="Get a SKU's stock",
    description="On hand, reserved by carts, available and safety stock. Roles: ops, support.",
    tags=_TAGS,
    responses=responses(200, InventoryOut, "The SKU's stock", 401, 403, 404),
)
def get_inventory(
    sku: Annotated[str, _SKU],
    _caller: Authorized,
) -> InventoryOut:
    return inventory.get_inventory(sku)


@app.post(
    "/admin/inventory/<sku>/adjustments",
    summary="Adjust a SKU's stock",
    description=(
        "Adds a positive or negative delta to on-hand stock and records it in the ledger with "
        "its reason. A delta that would take on-hand below reserved is 409 conflict (with "
        "`available`). With an Idempotency-Key, a retry is applied once and answers the "
        "current stock. Role: ops."
    ),
    tags=_TAGS,
    responses=responses(
        200, InventoryOut, "The stock after the adjustment", 400, 401, 403, 404, 409, 422
    ),
)
def adjust_inventory(
    sku: Annotated[str, _SKU],
    body: AdjustmentIn,
    caller: Authorized,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            description="Client-chosen key; a retry with the same key changes nothing again",
        ),
    ] = None,
) -> InventoryOut:
    return inventory.adjust_inventory(sku, body, caller, idempotency_key)


@app.put(
    "/admin/inventory/<sku>/shards",
    summary="Split a SKU's stock over shards",
    description=(
        "Sets how many inventory shards hold the SKU's stock (1..32), so a hot SKU is not capped "
        "by one item's write ceiling. Available stock is spread evenly over the shards in one "
        "transaction; totals never change. Removing shards that still hold reserved units is "
        "409 conflict; shards changing too fast to move is 429. Role: ops."
    ),
    tags=_TAGS,
    responses=responses(
        200, InventoryOut, "The stock, now over `shards` shards", 400, 401, 403, 404, 409, 429
    ),
)
def set_shards(
    sku: Annotated[str, _SKU],
    body: ShardCountIn,
    caller: Authorized,
) -> InventoryOut:
    return inventory.set_shards(sku, body, caller)


@app.patch(
    "/admin/inventory/<sku>",
    summary="Set a SKU's safety stock",
    description=(
        "Sets the safety stock; when available falls below it one `inventory.low_stock` event is "
        "emitted per crossing. The flag is re-evaluated at once. Role: ops."
    ),
    tags=_TAGS,
    responses=responses(200, InventoryOut, "The SKU's stock", 400, 401, 403, 404),
)
def set_safety_stock(
    sku: Annotated[str, _SKU],
    body: SafetyStockIn,
    caller: Authorized,
) -> InventoryOut:
    return inventory.set_safety_stock(sku, body, caller)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
