"""Search over the in-memory token index (the port's fake): ranking, filters and paging, the
same rules the DynamoDB adapter is tested with in tests/integration/test_catalog_search.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import pytest
from commerce.catalog.search import (
    MemoryTokenIndex,
    SearchPage,
    search_page,
    use_search_index,
)
from commerce.domain.listing import ListingFilter, PriceRange, Sort
from commerce.domain.money import Money
from commerce.domain.product import ProductStatus
from commerce.domain.search import query_tokens
from commerce.store.products import StoredProduct, StoredSku
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


@pytest.fixture
def index() -> Iterator[MemoryTokenIndex]:
    fake = MemoryTokenIndex()
    use_search_index(fake)
    yield fake
    use_search_index(None)


def product(n: int, name: str, price: int = 1000, **extra: object) -> StoredProduct:
    at = f"2026-01-01T00:00:{n:02d}.000000Z"
    sku = StoredSku(f"S-{n}", Money(price), {})
    made = StoredProduct(f"{n:032x}", name, "", (sku,), at, at)
    return replace(made, **extra)  # type: ignore[arg-type]


class Shelf:
    """Products by id, read as the store's ``get_many`` would."""

    def __init__(self, index: MemoryTokenIndex, *products: StoredProduct) -> None:
        self.index = index
        self.products: dict[str, StoredProduct] = {}
        self.reads = 0
        for p in products:
            self.put(p)

    def put(self, p: StoredProduct) -> StoredProduct:
        self.products[p.product_id] = p
        self.index.index(p)
        return p

    def load(self, ids: Sequence[str]) -> Mapping[str, StoredProduct]:
        self.reads += 1
        return {pid: self.products[pid] for pid in ids if pid in self.products}

    def search(
        self,
        q: str,
        listing: ListingFilter | None = None,
        sort: Sort | None = None,
        *,
        offset: int = 0,
        size: int = 20,
    ) -> SearchPage:
        chosen = listing or ListingFilter()
        return search_page(query_tokens(q), chosen, sort, offset=offset, size=size, load=self.load)

    def names(self, q: str, **kwargs: object) -> list[str]:
        return [p.name for p in self.search(q, **kwargs).products]  # type: ignore[arg-type]


def test_chinese_words_find_the_issue_example(index: MemoryTokenIndex) -> None:
    shelf = Shelf(index, product(1, "夏季显瘦连衣裙"), product(2, "冬季羽绒服"))
    assert shelf.names("连衣裙") == ["夏季显瘦连衣裙"]
    assert shelf.names("显瘦") == ["夏季显瘦连衣裙"]
    assert shelf.names("季") == []  # one character: no bigram of the text is a lone 季


def test_relevance_then_newest(index: MemoryTokenIndex) -> None:
    shelf = Shelf(
        index,
        product(1, "silk scarf"),
        product(2, "silk pillowcase"),
        product(3, "wool scarf"),
    )
    assert shelf.names("silk scarf") == ["silk scarf", "wool scarf", "silk pillowcase"]


def test_an_explicit_sort_and_filters(index: MemoryTokenIndex) -> None:
    shelf = Shelf(
        index,
        product(1, "tea cup", 900, tags=("gift",)),
        product(2, "tea pot", 9000, tags=("gift",)),
        product(3, "tea tin", 300),
    )
    assert shelf.names("tea", sort=Sort.PRICE_ASC) == ["tea tin", "tea cup", "tea pot"]
    gifts = ListingFilter(tag="gift", prices=PriceRange(None, 5000))
    assert shelf.names("tea", listing=gifts) == ["tea cup"]


def test_archived_and_stale_hits_are_left_out(index: MemoryTokenIndex) -> None:
    shelf = Shelf(index, product(1, "bamboo steamer"), product(2, "bamboo mat"))
    archived = shelf.put(replace(shelf.products[f"{1:032x}"], status=ProductStatus.ARCHIVED))
    assert shelf.names("bamboo") == ["bamboo mat"]
    index.postings.setdefault("bamboo", {})[archived.product_id] = archived.created_at
    index.postings.setdefault("coffee", {})[f"{2:032x}"] = "2026"  # stale: not in its text
    assert shelf.names("bamboo") == ["bamboo mat"]
    assert shelf.names("coffee") == []


def test_no_words_no_reads(index: MemoryTokenIndex) -> None:
    shelf = Shelf(index, product(1, "tea"))
    assert shelf.search("!!!") == SearchPage((), None)
    assert shelf.reads == 0


@given(
    count=st.integers(0, 30),
    size=st.integers(1, 7),
    sort=st.sampled_from([None, Sort.NEWEST, Sort.PRICE_ASC, Sort.BEST_SELLING]),
)
def test_pages_cover_every_hit_once(count: int, size: int, sort: Sort | None) -> None:
    fake = MemoryTokenIndex()
    use_search_index(fake)
    try:
        shelf = Shelf(
            fake,
            *(product(n, f"tea {'pot' if n % 3 else 'cup'}", 100 + n % 5) for n in range(count)),
            product(99, "coffee"),
        )
        seen: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = shelf.search("tea cup", sort=sort, offset=offset, size=size)
            assert len(page.products) <= size
            seen += [p.product_id for p in page.products]
            offset = page.next_offset
        assert len(seen) == len(set(seen)) == count
    finally:
        use_search_index(None)
