"""Request and response bodies of the catalog and inventory routes (API.md), as pydantic models.

They validate what clients send (strict types: a float or a boolean is never a price or a
count) and drive the OpenAPI document. The limits come from the domain so the schema and the
rules cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictInt, StrictStr, field_validator

from commerce.domain.inventory import MAX_DELTA, MAX_SHARDS
from commerce.domain.money import MAX_AMOUNT, SUPPORTED_CURRENCIES
from commerce.domain.product import (
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTE_VALUE_MAX,
    DESCRIPTION_MAX,
    MAX_ATTRIBUTES,
    MAX_SKUS,
    MAX_STOCK,
    NAME_MAX,
    SKU_PATTERN,
    duplicate_skus,
)
from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut

_FORBID = ConfigDict(extra="forbid")

SkuCode = Annotated[
    StrictStr,
    Field(pattern=SKU_PATTERN, description="1..64 of A-Z a-z 0-9 . _ -, starting alphanumeric"),
]
AttributeKey = Annotated[StrictStr, Field(min_length=1, max_length=ATTRIBUTE_KEY_MAX)]
AttributeValue = Annotated[StrictStr, Field(max_length=ATTRIBUTE_VALUE_MAX)]
Attributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=MAX_ATTRIBUTES)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("Must not be blank")
    return value


class MoneyIn(Schema):
    """Money as sent: integer minor units (fen) and the currency."""

    model_config = _FORBID

    amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
    currency: Annotated[StrictStr, Field(json_schema_extra={"enum": sorted(SUPPORTED_CURRENCIES)})]

    @field_validator("currency")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in SUPPORTED_CURRENCIES:
            raise ValueError(f"Must be one of: {', '.join(sorted(SUPPORTED_CURRENCIES))}")
        return value


class SkuIn(Schema):
    """A SKU of a new product, with its opening stock."""

    model_config = _FORBID

    sku: SkuCode
    price: MoneyIn
    stock: Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]
    safety_stock: Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)] = 0
    attributes: Attributes = Field(default_factory=dict)


class CreateProductIn(Schema):
    """Body of ``POST /admin/products``."""

    model_config = _FORBID

    name: Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX)]
    description: Annotated[StrictStr, Field(max_length=DESCRIPTION_MAX)] = ""
    skus: Annotated[list[SkuIn], Field(min_length=1, max_length=MAX_SKUS)]

    _name_not_blank = field_validator("name")(_not_blank)

    @field_validator("skus")
    @classmethod
    def _unique_skus(cls, skus: list[SkuIn]) -> list[SkuIn]:
        repeated = duplicate_skus(s.sku for s in skus)
        if repeated:
            raise ValueError(f"SKU listed more than once: {', '.join(repeated)}")
        return skus


class SkuOut(Schema):
    sku: str
    price: MoneyOut
    available: int = Field(description="Units that can be bought now (on hand minus held)")
    attributes: dict[str, str]


class ProductOut(Schema):
    product_id: str
    name: str
    description: str
    skus: list[SkuOut]
    created_at: str
    updated_at: str


class ProductPageOut(Schema):
    items: list[ProductOut]
    next_token: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Pass as `next_token` for the next page; absent on the last page",
    )


class InventoryOut(Schema):
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved, never negative")
    safety_stock: int
    # Extensions of API.md's inventory view (its fields above stay as written).
    shards: int = Field(default=1, description="Inventory shards the SKU's stock is split over")
    low_stock: bool = Field(
        default=False, description="Available is below safety_stock (an event was emitted)"
    )


class ShardCountIn(Schema):
    """Body of ``PUT /admin/inventory/{sku}/shards``."""

    model_config = _FORBID

    count: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=MAX_SHARDS,
            description="Shards to split the SKU's stock over; available is spread evenly",
        ),
    ]


class SafetyStockIn(Schema):
    """Body of ``PATCH /admin/inventory/{sku}``."""

    model_config = _FORBID

    safety_stock: Annotated[
        StrictInt,
        Field(ge=0, le=MAX_STOCK, description="Below this many available units, alert once"),
    ]


class AdjustmentIn(Schema):
    """Body of ``POST /admin/inventory/{sku}/adjustments``."""

    model_config = _FORBID

    delta: Annotated[
        StrictInt,
        Field(
            ge=-MAX_DELTA,
            le=MAX_DELTA,
            description="Units to add (positive) or remove (negative); never zero",
        ),
    ]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]

    _reason_not_blank = field_validator("reason")(_not_blank)

    @field_validator("delta")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("Must not be zero")
        return value
