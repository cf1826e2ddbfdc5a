"""Search behind a port: which products hold a query's tokens, and a ranked page of them.

The port (``SearchIndex``) is two operations: keep a product's entry in step with it
(``index``), and find the products holding any of some tokens (``lookup``). The default adapter,
``DynamoTokenIndex``, keeps token postings in the Catalog table (``store/postings.py``) and is
maintained by the write path: every change of a product's name, description, tags or status
calls ``index`` after the product's own write. ``MemoryTokenIndex`` is the same over dicts, for
service tests. A managed engine is the second adapter's plan (docs/catalog.md, "Search"):
OpenSearch Serverless fed by DynamoDB Streams, behind this same port.

``search_page`` ranks the candidates (more query tokens matched first, then newer), checks each
against the product itself (a stale posting costs a read, never a wrong hit), applies the
listing's other filters and pages through the ranking by offset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from commerce.domain.listing import ListingFilter, Sort, descending, matches, sort_key
from commerce.domain.search import product_tokens, rank, score
from commerce.ports import Adapter
from commerce.store import postings
from commerce.store import products as product_store
from commerce.store.products import StoredProduct

#: Postings read per query token (the newest products holding it).
PER_TOKEN: Final = 200
#: Ranked candidates a query considers at most; beyond them it finds nothing more.
MAX_CANDIDATES: Final = 200
#: Candidates read whole per batch while a relevance-ranked page fills.
CHUNK: Final = 40
#: Passes a sync may take while concurrent edits keep changing the product.
_SYNC_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class Hit:
    """A product holding ``matched`` of the query's tokens (by the index's account)."""

    product_id: str
    matched: int
    created_at: str


def wanted_tokens(product: StoredProduct) -> tuple[str, ...]:
    """The tokens a product is found by: none while archived."""
    if not product.is_active:
        return ()
    return product_tokens(product.name, product.description, product.tags)


class SearchIndex(Protocol):
    def index(self, product: StoredProduct) -> None:
        """Bring the product's entry in step with ``product`` as written."""
        ...

    def lookup(self, tokens: Sequence[str]) -> list[Hit]:
        """Products holding any of ``tokens``, each with how many it holds."""
        ...


def _count(found: Mapping[str, Sequence[postings.Posting]]) -> list[Hit]:
    matched: dict[str, int] = {}
    created: dict[str, str] = {}
    for hits in found.values():
        for posting in hits:
            matched[posting.product_id] = matched.get(posting.product_id, 0) + 1
            created[posting.product_id] = posting.created_at
    return [Hit(pid, n, created[pid]) for pid, n in matched.items()]


class DynamoTokenIndex:
    """Token postings in the Catalog table: one Query per query token."""

    def index(self, product: StoredProduct) -> None:
        current: StoredProduct | None = product
        for _ in range(_SYNC_ATTEMPTS):
            if current is None:
                return
            if postings.sync(
                current.product_id,
                current.created_at,
                current.search_tokens,
                wanted_tokens(current),
            ):
                return
            current = product_store.get(product.product_id, consistent=True)

    def lookup(self, tokens: Sequence[str]) -> list[Hit]:
        return _count({token: postings.read(token, PER_TOKEN) for token in tokens})


class MemoryTokenIndex:
    """The same index in dicts (token -> product id -> creation time)."""

    def __init__(self) -> None:
        self.postings: dict[str, dict[str, str]] = {}

    def index(self, product: StoredProduct) -> None:
        for held in self.postings.values():
            held.pop(product.product_id, None)
        for token in wanted_tokens(product):
            self.postings.setdefault(token, {})[product.product_id] = product.created_at

    def lookup(self, tokens: Sequence[str]) -> list[Hit]:
        found = {
            token: [
                postings.Posting(pid, at)
                for pid, at in sorted(
                    self.postings.get(token, {}).items(), key=lambda kv: kv[1], reverse=True
                )[:PER_TOKEN]
            ]
            for token in tokens
        }
        return _count(found)


#: The process's search index: token postings in DynamoDB unless a test installed another.
search_index: Final = Adapter[SearchIndex](DynamoTokenIndex)
use_search_index: Final = search_index.use

#: Reads products whole by id.
Load = Callable[[Sequence[str]], Mapping[str, StoredProduct]]
#: For each product, whether it has a SKU in stock now.
Stocked = Callable[[Sequence[StoredProduct]], Sequence[bool]]


@dataclass(frozen=True)
class SearchPage:
    products: tuple[StoredProduct, ...]
    #: The offset in the ranking the next page starts at; None on the last page.
    next_offset: int | None


def _fits(product: StoredProduct | None, query: Sequence[str], listing: ListingFilter) -> bool:
    if product is None or not product.is_active:
        return False
    held = product_tokens(product.name, product.description, product.tags)
    return score(query, held) > 0 and matches(product.listed, listing)


def _keep(
    batch: Sequence[StoredProduct], in_stock: bool, stocked: Stocked | None
) -> list[StoredProduct]:
    if not in_stock or stocked is None or not batch:
        return list(batch)
    return [p for p, ok in zip(batch, stocked(batch), strict=True) if ok]


def search_page(
    query: Sequence[str],
    listing: ListingFilter,
    sort: Sort | None,
    *,
    offset: int,
    size: int,
    load: Load = product_store.get_many,
    stocked: Stocked | None = None,
) -> SearchPage:
    """A page of the products holding ``query``'s tokens that pass ``listing``: by relevance
    (``sort`` None) or in ``sort`` order, starting ``offset`` into that order."""
    if not query:
        return SearchPage((), None)
    hits = search_index().lookup(query)
    ranked = rank((h.product_id, h.matched, h.created_at) for h in hits)[:MAX_CANDIDATES]
    if sort is not None:
        found = load(ranked)
        fitting = [found[pid] for pid in ranked if _fits(found.get(pid), query, listing)]
        ordered = _keep(fitting, listing.in_stock, stocked)
        ordered.sort(key=lambda p: sort_key(p.listed, sort), reverse=descending(sort))
        more = len(ordered) > offset + size
        return SearchPage(tuple(ordered[offset : offset + size]), offset + size if more else None)
    kept_at: list[tuple[int, StoredProduct]] = []
    position = offset
    while position < len(ranked) and len(kept_at) <= size:
        chunk = ranked[position : position + max(CHUNK, size + 1 - len(kept_at))]
        found = load(chunk)
        fitting = [found[pid] for pid in chunk if _fits(found.get(pid), query, listing)]
        where = {p.product_id: position + chunk.index(p.product_id) for p in fitting}
        kept_at += [(where[p.product_id], p) for p in _keep(fitting, listing.in_stock, stocked)]
        position += len(chunk)
    page = kept_at[:size]
    more = len(kept_at) > size
    return SearchPage(tuple(p for _, p in page), page[-1][0] + 1 if more and page else None)
