"""Search with ``q`` through the catalog handler: Chinese and Latin text, ranking, filters,
paging, and an index that follows edits and archiving (the DynamoDB token adapter on moto)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog
from commerce.store import postings

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


def test_chinese_names_are_found_by_any_word_in_them(catalog: Catalog) -> None:
    dress = catalog.create("夏季显瘦连衣裙", prices=(19900,))["product_id"]
    catalog.create("冬季加厚羽绒服", prices=(59900,))
    assert catalog.ids(q="连衣裙") == [dress]
    assert catalog.ids(q="显瘦") == [dress]
    assert catalog.ids(q="夏季显瘦连衣裙") == [dress]
    assert catalog.ids(q="裤子") == []


def test_latin_words_of_name_description_and_tags(catalog: Catalog) -> None:
    kettle = catalog.create("Cast iron kettle", description="Holds 1.2L")["product_id"]
    pillow = catalog.create("Pillowcase", description="Mulberry SILK", tags=["gift"])["product_id"]
    assert catalog.ids(q="KETTLE") == [kettle]
    assert catalog.ids(q="silk") == [pillow]
    assert catalog.ids(q="gift") == [pillow]


def test_more_of_the_query_ranks_higher(catalog: Catalog) -> None:
    both = catalog.create("Silk scarf")["product_id"]
    silk = catalog.create("Silk pillowcase")["product_id"]
    scarf = catalog.create("Wool scarf")["product_id"]
    ranked = catalog.ids(q="silk scarf")
    assert ranked[0] == both
    assert set(ranked[1:]) == {silk, scarf}
    assert ranked[1:] == [scarf, silk]  # equal matches: newest first


def test_an_explicit_sort_orders_the_hits(catalog: Catalog) -> None:
    cheap = catalog.create("Tea cup", prices=(900,))["product_id"]
    dear = catalog.create("Tea pot", prices=(9000,))["product_id"]
    catalog.create("Coffee pot", prices=(100,))
    assert catalog.ids(q="tea", sort="price_desc") == [dear, cheap]
    assert catalog.ids(q="tea", sort="price_asc") == [cheap, dear]


def test_search_combines_with_every_filter(catalog: Catalog) -> None:
    top = catalog.category("Clothing")
    summer = catalog.create("Linen dress", prices=(5000,), tags=["summer"], category_id=top)[
        "product_id"
    ]
    catalog.create("Wool dress", prices=(25000,), tags=["winter"], category_id=top)
    catalog.create("Linen dress sold out", prices=(5000,), stock=0, tags=["summer"])
    catalog.create("Dress shoes", prices=(8000,))
    assert catalog.ids(q="dress", category_id=top, max_price="10000") == [summer]
    assert catalog.ids(q="dress", tag="summer", in_stock="true") == [summer]


def test_the_index_follows_renames_and_archiving(catalog: Catalog) -> None:
    product = catalog.create("Bamboo steamer")["product_id"]
    assert catalog.ids(q="bamboo") == [product]
    catalog.patch(product, {"name": "竹蒸笼"})
    assert catalog.ids(q="bamboo") == []
    assert catalog.ids(q="蒸笼") == [product]
    assert {p.product_id for p in postings.read("steamer", 10)} == set()
    catalog.archive(product)
    assert catalog.ids(q="蒸笼") == []
    assert postings.read("蒸笼", 10) == []
    catalog.patch(product, {"status": "active"})
    assert catalog.ids(q="蒸笼") == [product]


def test_a_stale_posting_never_makes_a_wrong_hit(catalog: Catalog) -> None:
    from commerce.store.tables.catalog import PostingModel

    product = catalog.create("Teapot")
    PostingModel(
        "TOKEN#coffee",
        f"{product['created_at']}#{product['product_id']}",
        product_id=product["product_id"],
    ).save()
    assert catalog.ids(q="coffee") == []


def test_search_pages_by_relevance_without_repeats(catalog: Catalog) -> None:
    made = {catalog.create(f"Tea set {i}")["product_id"] for i in range(7)}
    pages = list(catalog.walk(q="tea", limit="3"))
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [item["product_id"] for page in pages for item in page]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made


def test_a_query_without_words_finds_nothing(catalog: Catalog) -> None:
    catalog.create("Tea")
    reply = catalog.list(q="!!! ???")
    assert reply.status == 200
    assert reply.body == {"items": []}
