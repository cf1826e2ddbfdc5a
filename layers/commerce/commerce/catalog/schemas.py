"""Request and response bodies of the catalog and inventory routes (API.md), as pydantic models.

They validate what clients send (strict types: a float or a boolean is never a price or a
count) and drive the OpenAPI document. The limits come from the domain so the schema and the
rules cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr, field_validator

from commerce.domain.categories import NAME_MAX as CATEGORY_NAME_MAX
from commerce.domain.inventory import MAX_DELTA, MAX_SHARDS
from commerce.domain.money import MAX_AMOUNT, SUPPORTED_CURRENCIES
from commerce.domain.product import (
    ALT_MAX,
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTE_VALUE_MAX,
    DESCRIPTION_MAX,
    IMAGE_TYPES,
    MAX_ATTRIBUTES,
    MAX_SKUS,
    MAX_STOCK,
    MAX_TAGS,
    NAME_MAX,
    SKU_PATTERN,
    duplicate_skus,
    tag_problem,
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


def _valid_tags(tags: list[str] | None) -> list[str] | None:
    for tag in tags or []:
        problem = tag_problem(tag)
        if problem is not None:
            raise ValueError(f"{tag[:50]!r}: {problem}")
    return tags


#: A category id as this catalog issues them (anything else cannot exist).
CategoryId = Annotated[
    StrictStr, Field(pattern=r"^[0-9a-f]{32}$", description="A category's id (32 hex characters)")
]
#: Tags as sent: each normalised (trimmed, case-folded) and at most 40 characters after that.
Tags = Annotated[
    list[Annotated[StrictStr, Field(max_length=200)]],
    Field(max_length=MAX_TAGS, description=f"At most {MAX_TAGS}; each 1..40 characters"),
]


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
    # Extensions of API.md's body: a new product may be filed and tagged at once.
    category_id: CategoryId | None = None
    tags: Tags = Field(default_factory=list)

    _name_not_blank = field_validator("name")(_not_blank)
    _tags_valid = field_validator("tags")(_valid_tags)

    @field_validator("skus")
    @classmethod
    def _unique_skus(cls, skus: list[SkuIn]) -> list[SkuIn]:
        repeated = duplicate_skus(s.sku for s in skus)
        if repeated:
            raise ValueError(f"SKU listed more than once: {', '.join(repeated)}")
        return skus


class SkuFlashSaleOut(Schema):
    """The flash sale live on a SKU, as a product shows it."""

    flash_sale_id: str
    price: MoneyOut = Field(description="The sale price (the SKU's `price` while it is live)")
    regular_price: MoneyOut = Field(description="The SKU's price outside the sale")
    ends_at: str = Field(description="UTC ISO 8601 (exclusive)")
    per_customer_limit: int


class SkuOut(Schema):
    sku: str
    price: MoneyOut = Field(description="What a unit costs now (the sale price during a sale)")
    available: int = Field(description="Units that can be bought now (on hand minus held)")
    attributes: dict[str, str]
    # Extension of API.md's SKU: the flash sale live on it, absent when none is.
    flash_sale: SkuFlashSaleOut | None = Field(default=None, exclude_if=lambda value: value is None)


class ImageOut(Schema):
    url: str = Field(description="Where to read the image (a presigned GET, valid for an hour)")
    alt: str
    # Extension of API.md's image: the id ops delete it by.
    image_id: str


class RatingOut(Schema):
    average: float | None = Field(description="Mean of the published reviews; null without any")
    count: int = Field(description="Published reviews")


class ProductOut(Schema):
    product_id: str
    name: str
    description: str
    skus: list[SkuOut]
    category_id: str | None
    tags: list[str]
    status: Literal["active", "archived"]
    images: list[ImageOut]
    rating: RatingOut
    sold: int = Field(description="Units paid for, less units returned")
    created_at: str
    updated_at: str


class PatchProductIn(Schema):
    """Body of ``PATCH /admin/products/{product_id}``: only the fields sent change."""

    model_config = _FORBID

    name: Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX)] | None = None
    description: Annotated[StrictStr, Field(max_length=DESCRIPTION_MAX)] | None = None
    category_id: CategoryId | None = Field(
        default=None, description="The product's category; null takes it out of any"
    )
    tags: Tags | None = None
    status: Literal["active", "archived"] | None = None

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value)

    _tags_valid = field_validator("tags")(_valid_tags)


class PatchSkuIn(Schema):
    """Body of ``PATCH /admin/products/{product_id}/skus/{sku}``: only the fields sent change."""

    model_config = _FORBID

    price: MoneyIn | None = None
    attributes: Attributes | None = Field(
        default=None, description="Replaces the SKU's attributes whole"
    )


class PriceChangeOut(Schema):
    sku: str
    old: MoneyOut
    new: MoneyOut
    actor: str = Field(description="Who changed it (staff id)")
    at: str


class PriceHistoryOut(Schema):
    items: list[PriceChangeOut] = Field(description="Newest first")


class CategoryIn(Schema):
    """Body of ``POST /admin/categories``."""

    model_config = _FORBID

    name: Annotated[StrictStr, Field(min_length=1, max_length=CATEGORY_NAME_MAX)]
    parent_id: CategoryId | None = None

    _name_not_blank = field_validator("name")(_not_blank)


class CategoryOut(Schema):
    category_id: str
    name: str
    parent_id: str | None


class CategoryChildOut(Schema):
    category_id: str
    name: str


class CategoryNodeOut(Schema):
    category_id: str
    name: str
    children: list[CategoryChildOut]


class CategoryTreeOut(Schema):
    items: list[CategoryNodeOut]


class ImageIn(Schema):
    """Body of ``POST /admin/products/{product_id}/images``."""

    model_config = _FORBID

    content_type: Annotated[StrictStr, Field(json_schema_extra={"enum": sorted(IMAGE_TYPES)})]
    alt: Annotated[StrictStr, Field(max_length=ALT_MAX)] = ""

    @field_validator("content_type")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in IMAGE_TYPES:
            raise ValueError(f"Must be one of: {', '.join(sorted(IMAGE_TYPES))}")
        return value


class ImageUploadOut(Schema):
    upload_url: str = Field(
        description="A presigned S3 PUT, valid 15 minutes; send the same Content-Type"
    )
    image: ImageOut


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
