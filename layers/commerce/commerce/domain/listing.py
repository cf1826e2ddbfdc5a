"""What the storefront's product list may ask for, and where each product is listed.

``GET /products`` filters by category, tag, price range and stock and sorts by newest, price or
best-selling. None of that may read the whole catalog, so each product is listed under a few
*partitions*: everything (``ALL``), each category on its path (a top-level category lists its
children's products too) and each tag. A query reads one partition in the order of its sort
(an index per order) and checks the rest of the filters on what it reads (docs/catalog.md).

Prices: a product matches a range when any of its SKUs' prices is inside it; the price sorts
order by the product's lowest SKU price (its "from" price) in either direction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from commerce.domain.product import ProductStatus

ALL: Final = "ALL"
#: Width of a zero-padded amount in a sort key (MAX_AMOUNT is 10^10 fen: 11 digits).
AMOUNT_DIGITS: Final = 12


class Sort(StrEnum):
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    BEST_SELLING = "best_selling"


def category_partition(category_id: str) -> str:
    return f"CAT#{category_id}"


def tag_partition(tag: str) -> str:
    return f"TAG#{tag}"


def partitions(
    status: ProductStatus, category_path: Iterable[str], tags: Iterable[str]
) -> tuple[str, ...]:
    """Every list a product appears in; none while it is archived."""
    if status is not ProductStatus.ACTIVE:
        return ()
    return (
        ALL,
        *(category_partition(c) for c in category_path),
        *(tag_partition(t) for t in tags),
    )


def newest_key(created_at: str, product_id: str) -> str:
    """Sorts by creation time (fixed-width ISO 8601); the id breaks ties."""
    return f"{created_at}#{product_id}"


def price_key(from_price: int, created_at: str, product_id: str) -> str:
    """Sorts by the lowest SKU price (zero-padded), then like ``newest_key``."""
    return f"{from_price:0{AMOUNT_DIGITS}d}#{created_at}#{product_id}"


def price_key_bound(amount: int) -> str:
    """The smallest price key of a product whose from-price is ``amount``."""
    return f"{amount:0{AMOUNT_DIGITS}d}"


class RangeError(ValueError):
    """A price range whose low end is above its high end."""


@dataclass(frozen=True)
class PriceRange:
    """``min_price``..``max_price`` in minor units, both ends included; either may be open."""

    low: int | None = None
    high: int | None = None

    def __post_init__(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise RangeError("min_price must not be greater than max_price")

    @property
    def is_open(self) -> bool:
        return self.low is None and self.high is None

    def holds(self, amount: int) -> bool:
        return (self.low is None or amount >= self.low) and (
            self.high is None or amount <= self.high
        )

    def matches(self, prices: Collection[int]) -> bool:
        """True when any of a product's SKU prices is in the range."""
        return self.is_open or any(self.holds(p) for p in prices)


@dataclass(frozen=True)
class ListingFilter:
    """The filters of one listing besides the partition it reads."""

    category_id: str | None = None
    tag: str | None = None
    prices: PriceRange = PriceRange()
    in_stock: bool = False


def partition_for(listing: ListingFilter) -> str:
    """The partition a listing reads: the tag's when it names one (tags are the narrower
    lists), else the category's, else everything. The other filters are checked on the way."""
    if listing.tag is not None:
        return tag_partition(listing.tag)
    if listing.category_id is not None:
        return category_partition(listing.category_id)
    return ALL


@dataclass(frozen=True)
class Listed:
    """What a listing knows of a product before reading it whole: enough to filter and sort."""

    product_id: str
    created_at: str
    prices: tuple[int, ...]
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    sold: int = 0
    #: The product's SKU codes, for the stock filter.
    skus: tuple[str, ...] = ()

    @property
    def from_price(self) -> int:
        return min(self.prices, default=0)


def matches(listed: Listed, listing: ListingFilter) -> bool:
    """True when ``listed`` passes every filter but stock (stock is read apart)."""
    if listing.category_id is not None and listing.category_id not in listed.categories:
        return False
    if listing.tag is not None and listing.tag not in listed.tags:
        return False
    return listing.prices.matches(listed.prices)


def sort_key(listed: Listed, sort: Sort) -> tuple[int | str, ...]:
    """``sorted(..., key=...)`` order for ``sort`` (with ``reverse=descending(sort)``)."""
    if sort in (Sort.PRICE_ASC, Sort.PRICE_DESC):
        return (listed.from_price, listed.created_at, listed.product_id)
    if sort is Sort.BEST_SELLING:
        return (listed.sold, listed.created_at, listed.product_id)
    return (listed.created_at, listed.product_id)


def descending(sort: Sort) -> bool:
    return sort is not Sort.PRICE_ASC
