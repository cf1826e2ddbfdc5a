"""Request and response bodies of the flash sale routes (API.md, "Flash sales (v1.1)")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StrictInt

from commerce.catalog.schemas import MoneyIn, SkuCode
from commerce.domain.flash_sales import MAX_LIMIT
from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut

_WHEN = "ISO 8601 with a zone, e.g. 2026-11-11T00:00:00Z (whole seconds are kept)"


class FlashSaleIn(Schema):
    """Body of ``POST /admin/flash-sales``."""

    model_config = ConfigDict(extra="forbid")

    sku: SkuCode
    price: MoneyIn = Field(description="The sale price: below the SKU's current price")
    starts_at: AwareDatetime = Field(description=f"When the sale starts (inclusive). {_WHEN}")
    ends_at: AwareDatetime = Field(description=f"When it ends (exclusive). {_WHEN}")
    per_customer_limit: Annotated[StrictInt, Field(ge=1, le=MAX_LIMIT)] = Field(
        description="Units one customer may hold and buy across all their carts and orders"
    )


class FlashSaleOut(Schema):
    flash_sale_id: str
    sku: str
    price: MoneyOut
    starts_at: str = Field(description="UTC ISO 8601")
    ends_at: str = Field(description="UTC ISO 8601 (exclusive)")
    per_customer_limit: int
    status: Literal["scheduled", "live", "ended"]
    # Extension of API.md's sale: the product the SKU belongs to.
    product_id: str


class FlashSaleDetailOut(FlashSaleOut):
    available: int = Field(description="The SKU's units that can be bought now")


class FlashSalePageOut(Schema):
    items: list[FlashSaleOut]
    next_token: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Pass as `next_token` for the next page; absent on the last page",
    )
