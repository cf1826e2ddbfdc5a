"""Flash sale use cases: ops schedule a sale; anyone reads one; ops list a SKU's sales.

The rules are ``domain.flash_sales``; this module reads the SKU's record (its regular price and
schedule), decides, and writes the sale with the schedule in one conditional transaction
(``store.flash_sales.create``), deciding again on a fresh read when another change of the
schedule or the price won the race. Field errors are 400 (an unknown SKU too: it is a field of
the body), an overlap or a full schedule 409, an archived product's SKU 409.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.catalog.flash_sale_schemas import (
    FlashSaleDetailOut,
    FlashSaleIn,
    FlashSaleOut,
    FlashSalePageOut,
)
from commerce.domain.flash_sales import (
    MAX_SCHEDULED,
    FlashSale,
    NewSale,
    Overlap,
    sale_errors,
    schedule_with,
)
from commerce.domain.money import Money
from commerce.errors import Conflict, FieldError, NotFound, TooManyRequests, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.pagination import encode_page_token, page_request
from commerce.http.schemas import money_out
from commerce.observability import logger, metrics
from commerce.store import flash_sales as store
from commerce.store import inventory, keys, kit
from commerce.store.flash_sales import StoredSale

_SALE_ID: Final = re.compile(r"[0-9a-f]{32}")


def _new_sale(body: FlashSaleIn) -> NewSale:
    return NewSale(
        sku=body.sku,
        price=Money(body.price.amount, body.price.currency),
        starts_at=int(body.starts_at.timestamp()),
        ends_at=int(body.ends_at.timestamp()),
        per_customer_limit=body.per_customer_limit,
    )


def sale_out(stored: StoredSale, now: int) -> FlashSaleOut:
    sale = stored.sale
    return FlashSaleOut(
        flash_sale_id=sale.sale_id,
        sku=sale.sku,
        price=money_out(sale.price),
        starts_at=clock.iso(sale.starts_at),
        ends_at=clock.iso(sale.ends_at),
        per_customer_limit=sale.per_customer_limit,
        status=sale.status(now).value,
        product_id=stored.product_id,
    )


def _overlap(new: NewSale, other: FlashSale) -> Conflict:
    window = f"{clock.iso(other.starts_at)} to {clock.iso(other.ends_at)}"
    return Conflict(
        f"SKU {new.sku} already has flash sale {other.sale_id} from {window}",
        flash_sale_id=other.sale_id,
        errors=[
            {"field": "starts_at", "message": f"overlaps flash sale {other.sale_id}"},
            {"field": "ends_at", "message": f"overlaps flash sale {other.sale_id}"},
        ],
    )


def create_sale(body: FlashSaleIn, caller: Caller) -> FlashSaleOut:
    """``POST /admin/flash-sales``: 201 with the sale; 400 naming every bad field (an unknown
    SKU, a window that ends before it starts, a price not below the current one); 409 for an
    overlap with another sale of the SKU, a full schedule or an archived product."""
    new = _new_sale(body)
    sale = new.with_id(uuid.uuid4().hex)

    def attempt(_: int) -> StoredSale | kit.Retry:
        schedule = store.read_schedule(new.sku)
        if schedule is None:
            raise ValidationFailed([FieldError("sku", "no such SKU in the catalog")])
        now = clock.now()
        errors = sale_errors(new, regular=schedule.regular, now=now)
        if errors:
            raise ValidationFailed(errors)
        if not schedule.sellable:
            raise Conflict(f"SKU {new.sku} belongs to an archived product", sku=new.sku)
        plan = schedule_with(sale, schedule.sales, now)
        if isinstance(plan, Overlap):
            raise _overlap(new, plan.other)
        if not isinstance(plan, tuple):
            raise Conflict(f"SKU {new.sku} already has {MAX_SCHEDULED} sales to come", sku=new.sku)
        at = clock.now_iso()
        if not store.create(sale, schedule, plan, actor=caller.actor(), at=at):
            return kit.RETRY
        return StoredSale(sale, schedule.product_id, at, caller.actor())

    created = kit.retry_on_conflict(
        attempt,
        give_up=lambda: TooManyRequests(1, f"SKU {new.sku} is changing; retry shortly"),
    )
    metrics.add_metric(name="FlashSaleScheduled", unit=MetricUnit.Count, value=1)
    logger.info(
        "flash sale scheduled",
        extra={"flash_sale_id": sale.sale_id, "sku": sale.sku, "actor": caller.actor()},
    )
    return sale_out(created, clock.now())


def _load(sale_id: str) -> StoredSale:
    stored = store.get(sale_id) if _SALE_ID.fullmatch(sale_id) else None
    if stored is None:
        raise NotFound("No such flash sale")
    return stored


def get_sale(sale_id: str) -> FlashSaleDetailOut:
    """``GET /flash-sales/{id}``: the sale, its status now and the SKU's available stock."""
    stored = _load(sale_id)
    stock = inventory.read_stock([stored.sale.sku]).get(stored.sale.sku)
    out = sale_out(stored, clock.now())
    available = stock.level.available if stock is not None else 0
    return FlashSaleDetailOut(**out.model_dump(), available=max(0, available))


def list_sales(sku: str, limit: int | None, next_token: str | None) -> FlashSalePageOut:
    """``GET /admin/flash-sales?sku=``: the SKU's sales, latest start first, a page at a time."""
    size, start = page_request(
        limit,
        next_token,
        store.PAGE_KEY_NAMES,
        partition=("gsi1pk", keys.flash_sales_gsi1pk(sku)),
    )
    found, last = store.of_sku(sku, limit=size, start=start)
    now = clock.now()
    return FlashSalePageOut(
        items=[sale_out(s, now) for s in found], next_token=encode_page_token(last)
    )
