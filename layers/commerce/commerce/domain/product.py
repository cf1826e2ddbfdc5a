"""What a product and its SKUs may look like, independent of how they arrive or are stored.

The HTTP schema enforces these limits for requests; the constants live here so the schema, the
storage layout (one transaction per product) and the tests agree on one set of numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from commerce.domain.money import Money

SKU_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_SKU_RE: Final = re.compile(SKU_PATTERN)
#: Product ids are 32 lowercase hex characters (a uuid4 without dashes).
_PRODUCT_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")

NAME_MAX: Final = 200
DESCRIPTION_MAX: Final = 5000
#: A product is created in one DynamoDB transaction (at most 100 items) of 1 + 4 items per SKU
#: (SKU record, stock shard, SKU meta, ledger entry), so 20 SKUs (81 items) leaves headroom.
MAX_SKUS: Final = 20
MAX_STOCK: Final = 10**7
MAX_ATTRIBUTES: Final = 20
ATTRIBUTE_KEY_MAX: Final = 64
ATTRIBUTE_VALUE_MAX: Final = 256


def is_valid_sku(value: str) -> bool:
    """True for a SKU code the catalog can hold (also guards key sizes in storage)."""
    return bool(_SKU_RE.fullmatch(value))


def is_valid_product_id(value: str) -> bool:
    """True for an id this catalog could have issued; anything else cannot exist."""
    return bool(_PRODUCT_ID_RE.fullmatch(value))


def duplicate_skus(skus: Iterable[str]) -> list[str]:
    """SKU codes named more than once, in first-seen order (one product cannot list one twice)."""
    counts = Counter(skus)
    return [sku for sku, count in counts.items() if count > 1]


@dataclass(frozen=True)
class SkuSpec:
    """One SKU of a product being created: its price, opening stock and attributes."""

    sku: str
    price: Money
    stock: int
    safety_stock: int = 0
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewProduct:
    """A product as an operator describes it, before it gets an id."""

    name: str
    description: str
    skus: tuple[SkuSpec, ...]


@dataclass(frozen=True)
class SkuView:
    """A SKU as the catalog shows it: price, attributes and what can be bought now."""

    sku: str
    price: Money
    available: int
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class ProductView:
    """A product as clients read it."""

    product_id: str
    name: str
    description: str
    skus: tuple[SkuView, ...]
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ProductPage:
    """One page of products, newest first, and the cursor of the next page if there is one."""

    items: tuple[ProductView, ...]
    next_token: str | None
