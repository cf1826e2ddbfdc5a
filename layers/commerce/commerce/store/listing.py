"""Reading the storefront's lists: one partition of one listing index, a bounded number of
entries per request, filtered on the way.

Each list (everything, a category, a tag) is a partition of three indexes over the listing
entries (``store/products.py`` writes them): by creation time, by lowest SKU price and by units
sold. A page is read from the index of its sort, ``chunk`` entries per Query, and every entry
is checked against the filters the partition does not already answer (``domain.listing``) and,
when asked, against stock (``accept``). Reading stops at a full page, at the end of the list,
or once ``budget`` entries were examined: then the page may be short (even empty) and its cursor
points just past the last entry examined, so the client reads on. No request reads more than
``budget`` entries, whatever the filters (docs/catalog.md, "Access patterns").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.condition import Condition

from commerce.domain.listing import (
    Listed,
    ListingFilter,
    Sort,
    matches,
    price_key_bound,
)
from commerce.store import keys
from commerce.store.tables.catalog import ListingEntryModel

#: Entries read per Query when filters may drop some (a page needs at most 101 that pass).
MIN_CHUNK: Final = 25

#: Decides for a batch of entries that passed the filters which to keep (stock is read here).
Accept = Callable[[Sequence[Listed]], Sequence[bool]]


@dataclass(frozen=True)
class Cursor:
    """Where a list's next page starts: just after this entry (``sort_value`` is the value of
    the index's sort key, a number written as a string for the best-selling index)."""

    product_id: str
    sort_value: str


@dataclass(frozen=True)
class ListingPage:
    """Entries that passed every filter, the cursor to read on from, and the work it took."""

    listed: tuple[Listed, ...]
    cursor: Cursor | None
    examined: int
    queries: int


def _index(sort: Sort) -> tuple[Any, str, bool]:
    """The index of a sort, its sort key's name, and whether it is read forwards."""
    if sort is Sort.PRICE_ASC:
        return ListingEntryModel.by_price, "lprice", True
    if sort is Sort.PRICE_DESC:
        return ListingEntryModel.by_price, "lprice", False
    if sort is Sort.BEST_SELLING:
        return ListingEntryModel.by_sold, "lsold", False
    return ListingEntryModel.newest, "lnew", False


def _range(sort: Sort, listing: ListingFilter) -> Condition | None:
    """A key condition the price index can answer: no product whose lowest price is above the
    range's high end has a SKU inside it."""
    high = listing.prices.high
    if sort in (Sort.PRICE_ASC, Sort.PRICE_DESC) and high is not None:
        condition: Condition = ListingEntryModel.lprice < price_key_bound(high + 1)
        return condition
    return None


def _start_key(partition: str, sort_name: str, cursor: Cursor) -> dict[str, dict[str, str]]:
    kind = "N" if sort_name == "lsold" else "S"
    return {
        "pk": {"S": keys.product_pk(cursor.product_id)},
        "sk": {"S": keys.list_sk(partition)},
        "lpk": {"S": keys.list_lpk(partition)},
        sort_name: {kind: cursor.sort_value},
    }


def _values(raw: dict[str, Any], name: str, kind: str) -> list[str]:
    return [str(v[kind]) for v in raw.get(name, {}).get("L", [])]


def _listed(raw: dict[str, Any]) -> Listed:
    """An entry as the index projects it (raw: the attributes are few and plainly typed)."""
    return Listed(
        product_id=str(raw["product_id"]["S"]),
        created_at=str(raw["created_at"]["S"]),
        prices=tuple(int(p) for p in _values(raw, "prices", "N")),
        categories=tuple(_values(raw, "cats", "S")),
        tags=tuple(_values(raw, "tags", "S")),
        sold=int(raw["lsold"]["N"]) if "lsold" in raw else 0,
        skus=tuple(_values(raw, "skus", "S")),
    )


def _sort_value(raw: dict[str, Any], sort_name: str) -> str:
    value = raw[sort_name]
    return str(value.get("S", value.get("N")))


def read_page(
    partition: str,
    sort: Sort,
    listing: ListingFilter,
    *,
    size: int,
    budget: int,
    cursor: Cursor | None = None,
    accept: Accept | None = None,
) -> ListingPage:
    """Up to ``size`` entries of ``partition`` in ``sort`` order that pass ``listing`` (and
    ``accept``), starting after ``cursor``; at most ``budget`` entries are examined."""
    index, sort_name, forwards = _index(sort)
    # The partition answers one of category and tag; anything more may drop entries.
    filtered = (
        accept is not None
        or not listing.prices.is_open
        or (listing.category_id is not None and listing.tag is not None)
    )
    kept: list[tuple[Listed, str]] = []
    examined = queries = 0
    start = _start_key(partition, sort_name, cursor) if cursor else None
    while True:
        wanted = size + 1 - len(kept)
        chunk = min(max(wanted, MIN_CHUNK) if filtered else wanted, max(1, budget - examined))
        pages = index.query(
            keys.list_lpk(partition),
            _range(sort, listing),
            scan_index_forward=forwards,
            page_size=chunk,
            last_evaluated_key=start,
        ).page_iter
        page = next(pages)
        queries += 1
        raws: list[dict[str, Any]] = page.get("Items", [])
        examined += len(raws)
        batch = [(_listed(raw), _sort_value(raw, sort_name)) for raw in raws]
        passing = [(item, value) for item, value in batch if matches(item, listing)]
        if accept is not None and passing:
            verdicts = accept([item for item, _ in passing])
            passing = [pair for pair, ok in zip(passing, verdicts, strict=True) if ok]
        kept += passing
        if len(kept) > size:
            last = kept[size - 1]
            return ListingPage(
                tuple(item for item, _ in kept[:size]),
                Cursor(last[0].product_id, last[1]),
                examined,
                queries,
            )
        start = pages.last_evaluated_key
        if start is None:
            return ListingPage(tuple(item for item, _ in kept), None, examined, queries)
        if examined >= budget:
            resume = Cursor(
                str(start["pk"]["S"]).removeprefix(keys.product_pk("")),
                _sort_value(start, sort_name),
            )
            return ListingPage(tuple(item for item, _ in kept), resume, examined, queries)
