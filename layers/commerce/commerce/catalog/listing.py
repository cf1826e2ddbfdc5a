"""``GET /products``: the storefront's list, filtered, sorted and paged, never a Scan.

Without ``q`` a page is read from one partition of one listing index (``store.listing``): the
tag's list when a tag is given, else the category's (a top-level category's list holds its
children's products too), else everything; in the index of the sort. Filters the partition
does not answer (a category with a tag, a price range, stock) are checked on the entries read,
and no request examines more than ``EXAMINE_BUDGET`` of them: a page may then come back short,
with a ``next_token`` to read on. With ``q`` the page comes from search (``catalog.search``).

A ``next_token`` carries the position and a digest of the query it belongs to, so a token is
only ever used with the filters and sort it was made for (anything else is 400).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Final

from commerce.catalog import categories
from commerce.catalog.schemas import ProductPageOut
from commerce.catalog.search import search_page
from commerce.catalog.views import products_out
from commerce.domain.listing import (
    Listed,
    ListingFilter,
    PriceRange,
    RangeError,
    Sort,
    partition_for,
)
from commerce.domain.product import normalise_tag, tag_problem
from commerce.domain.search import query_tokens
from commerce.errors import FieldError, ValidationFailed
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.settings import get_settings
from commerce.store import inventory, listing
from commerce.store import products as product_store
from commerce.store.inventory import SkuStock
from commerce.store.listing import Cursor
from commerce.store.products import StoredProduct

#: Listing entries one request examines at most, whatever the filters (a page may come back
#: short when they are selective; its next_token reads on).
EXAMINE_BUDGET: Final = 500
_LIST_TOKEN: Final = ("p", "v", "f")
_SEARCH_TOKEN: Final = ("o", "f")
_HEX32: Final = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ListingQuery:
    """The query string of ``GET /products`` as sent (validated by the handler's schema)."""

    category_id: str | None = None
    tag: str | None = None
    q: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False
    sort: Sort | None = None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])


def _filter(query: ListingQuery) -> ListingFilter:
    """The filters, checked: a known category, a valid tag, a range whose ends are in order."""
    tag = None
    if query.tag is not None:
        problem = tag_problem(query.tag)
        if problem is not None:
            raise _invalid("tag", problem)
        tag = normalise_tag(query.tag)
    if query.category_id is not None:
        categories.find(query.category_id, "category_id")
    try:
        prices = PriceRange(query.min_price, query.max_price)
    except RangeError as error:
        raise _invalid("min_price", str(error)) from error
    return ListingFilter(query.category_id, tag, prices, query.in_stock)


def _digest(query: ListingQuery, listing_filter: ListingFilter) -> str:
    shape = {
        "filter": asdict(listing_filter),
        "q": query.q,
        "sort": query.sort.value if query.sort else None,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


class _StockReader:
    """Reads stock for the stock filter and keeps it, so the page is shown from the same read."""

    def __init__(self) -> None:
        self.known: dict[str, SkuStock] = {}

    def _read(self, skus: Sequence[str]) -> None:
        missing = [s for s in skus if s not in self.known]
        if missing:
            self.known.update(inventory.read_stock(missing))

    def _available(self, skus: Sequence[str]) -> bool:
        return any(s in self.known and self.known[s].level.available > 0 for s in skus)

    def listed(self, batch: Sequence[Listed]) -> list[bool]:
        self._read([s for item in batch for s in item.skus])
        return [self._available(item.skus) for item in batch]

    def of(self, products: Sequence[StoredProduct]) -> dict[str, SkuStock]:
        """The stock of every SKU of ``products``, reading only what is not known yet."""
        self._read([s.sku for p in products for s in p.skus])
        return self.known

    def products(self, batch: Sequence[StoredProduct]) -> list[bool]:
        self._read([s.sku for p in batch for s in p.skus])
        return [self._available([s.sku for s in p.skus]) for p in batch]


def _bad_token() -> ValidationFailed:
    return _invalid("next_token", "Invalid or expired page token")


def _page_out(
    products: Sequence[StoredProduct], stock: _StockReader, token: str | None
) -> ProductPageOut:
    return ProductPageOut(items=products_out(products, stock=stock.of(products)), next_token=token)


def _search(
    query: ListingQuery, listing_filter: ListingFilter, size: int, next_token: str | None
) -> ProductPageOut:
    digest = _digest(query, listing_filter)
    offset = 0
    decoded = decode_page_token(next_token, _SEARCH_TOKEN)
    if decoded is not None:
        raw = decoded["o"]["S"]
        if decoded["f"]["S"] != digest or not raw.isdigit() or len(raw) > 6:
            raise _bad_token()
        offset = int(raw)
    stock = _StockReader()
    page = search_page(
        query_tokens(query.q or ""),
        listing_filter,
        query.sort,
        offset=offset,
        size=size,
        stocked=stock.products,
    )
    token = None
    if page.next_offset is not None:
        token = encode_page_token({"o": {"S": str(page.next_offset)}, "f": {"S": digest}})
    return _page_out(page.products, stock, token)


def _cursor(next_token: str | None, digest: str, sort: Sort) -> Cursor | None:
    decoded = decode_page_token(next_token, _LIST_TOKEN)
    if decoded is None:
        return None
    product_id, value = decoded["p"]["S"], decoded["v"]["S"]
    if decoded["f"]["S"] != digest or not _HEX32.fullmatch(product_id):
        raise _bad_token()
    if sort is Sort.BEST_SELLING and not re.fullmatch(r"-?[0-9]{1,15}", value):
        raise _bad_token()
    return Cursor(product_id, value)


def list_products(query: ListingQuery, limit: int | None, next_token: str | None) -> ProductPageOut:
    """A page of active products matching ``query``; newest first unless sorted otherwise."""
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    listing_filter = _filter(query)
    if query.q is not None and query.q.strip():
        return _search(query, listing_filter, size, next_token)
    sort = query.sort or Sort.NEWEST
    digest = _digest(query, listing_filter)
    cursor = _cursor(next_token, digest, sort)
    stock = _StockReader()
    page = listing.read_page(
        partition_for(listing_filter),
        sort,
        listing_filter,
        size=size,
        budget=EXAMINE_BUDGET,
        cursor=cursor,
        accept=stock.listed if listing_filter.in_stock else None,
    )
    found = product_store.get_many([item.product_id for item in page.listed])
    products = [
        found[item.product_id]
        for item in page.listed
        if item.product_id in found and found[item.product_id].is_active
    ]
    token = None
    if page.cursor is not None:
        token = encode_page_token(
            {
                "p": {"S": page.cursor.product_id},
                "v": {"S": page.cursor.sort_value},
                "f": {"S": digest},
            }
        )
    return _page_out(products, stock, token)
