"""What a product and its SKUs may look like, independent of how they arrive or are stored.

The HTTP schema enforces these limits for requests; the constants live here so the schema, the
storage layout (one transaction per product) and the tests agree on one set of numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from commerce.domain.money import Money

SKU_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_SKU_RE: Final = re.compile(SKU_PATTERN)
#: Product ids are 32 lowercase hex characters (a uuid4 without dashes).
_PRODUCT_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")

NAME_MAX: Final = 200
DESCRIPTION_MAX: Final = 5000
#: A product is created in one DynamoDB transaction (at most 100 items) of 1 + 4 items per SKU
#: (SKU record, stock shard, SKU meta, ledger entry) and its listing entries (everything, two
#: category levels, MAX_TAGS tags): 20 SKUs make 81 + 13 = 94 items.
MAX_SKUS: Final = 20
MAX_STOCK: Final = 10**7
MAX_ATTRIBUTES: Final = 20
ATTRIBUTE_KEY_MAX: Final = 64
ATTRIBUTE_VALUE_MAX: Final = 256


#: Tags: at most this many per product, each at most this many characters once normalised.
MAX_TAGS: Final = 10
TAG_MAX: Final = 40
#: Images per product, and the longest alternative text one may carry.
MAX_IMAGES: Final = 10
ALT_MAX: Final = 200
#: The image types ops may upload, with the file extension each is stored under.
IMAGE_TYPES: Final[Mapping[str, str]] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
}
_IMAGE_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


class ProductStatus(StrEnum):
    """Whether a product is sold: an archived one vanishes from the storefront and its SKUs
    can no longer be put in a cart; orders already placed keep what they bought."""

    ACTIVE = "active"
    ARCHIVED = "archived"


def normalise_tag(raw: str) -> str:
    """A tag as the catalog stores and matches it: NFKC, trimmed, inner runs of whitespace made
    one space, case-folded, so "Summer  Sale" and "summer sale" are one tag."""
    return " ".join(unicodedata.normalize("NFKC", raw).split()).casefold()


def tag_problem(raw: str) -> str | None:
    """Why ``raw`` cannot be a tag (None when it can): empty, too long or with control
    characters once normalised."""
    tag = normalise_tag(raw)
    if not tag:
        return "Must not be blank"
    if len(tag) > TAG_MAX:
        return f"At most {TAG_MAX} characters"
    if any(unicodedata.category(ch).startswith("C") for ch in tag):
        return "Must not contain control characters"
    return None


def normalise_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """Valid tags normalised, duplicates dropped, in first-seen order (callers check each with
    ``tag_problem`` first)."""
    return tuple(dict.fromkeys(normalise_tag(tag) for tag in raw))


def is_valid_image_id(value: str) -> bool:
    """True for an image id this catalog could have issued."""
    return bool(_IMAGE_ID_RE.fullmatch(value))


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
    category_id: str | None = None
    tags: tuple[str, ...] = ()


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
