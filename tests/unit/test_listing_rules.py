"""Where products are listed, how their sort keys order, and which match a listing's filters."""

from __future__ import annotations

import pytest
from commerce.domain.categories import (
    Category,
    category_path,
    is_valid_category_id,
    name_key,
    parent_refusal,
    tree,
)
from commerce.domain.listing import (
    ALL,
    Listed,
    ListingFilter,
    PriceRange,
    RangeError,
    Sort,
    descending,
    matches,
    newest_key,
    partition_for,
    partitions,
    price_key,
    price_key_bound,
    sort_key,
)
from commerce.domain.money import MAX_AMOUNT
from commerce.domain.product import (
    TAG_MAX,
    ProductStatus,
    normalise_tag,
    normalise_tags,
    tag_problem,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

TOP = Category("a" * 32, "Clothing")
CHILD = Category("b" * 32, "Dresses", TOP.category_id)


def test_an_active_product_is_listed_everywhere_it_belongs() -> None:
    assert partitions(ProductStatus.ACTIVE, category_path(CHILD), ["summer"]) == (
        ALL,
        f"CAT#{TOP.category_id}",
        f"CAT#{CHILD.category_id}",
        "TAG#summer",
    )


def test_an_archived_product_is_listed_nowhere() -> None:
    assert partitions(ProductStatus.ARCHIVED, category_path(CHILD), ["summer"]) == ()


def test_two_levels_at_most() -> None:
    assert parent_refusal(TOP) is None
    assert parent_refusal(CHILD) is not None
    assert category_path(TOP) == (TOP.category_id,)


def test_the_tree_nests_children_under_their_parents_by_name() -> None:
    shoes = Category("c" * 32, "Shoes")
    coats = Category("d" * 32, "coats", TOP.category_id)
    orphan = Category("e" * 32, "Lost", "f" * 32)
    nodes = tree([CHILD, shoes, coats, TOP, orphan])
    assert [n.category.name for n in nodes] == ["Clothing", "Shoes"]
    assert [c.name for c in nodes[0].children] == ["coats", "Dresses"]
    assert nodes[1].children == ()


def test_sibling_names_compare_without_case_or_spacing() -> None:
    assert name_key("  Summer   Dresses ") == name_key("summer dresses")
    assert is_valid_category_id("0" * 32)
    assert not is_valid_category_id("Z" * 32)


def test_tags_are_normalised_and_bounded() -> None:
    assert normalise_tag("  Summer   SALE ") == "summer sale"
    assert normalise_tags(["Silk", "silk", " gift "]) == ("silk", "gift")
    assert tag_problem("x" * TAG_MAX) is None
    assert tag_problem("x" * (TAG_MAX + 1)) is not None
    assert tag_problem("   ") is not None
    assert tag_problem("bad\x00tag") is not None


def test_a_range_whose_low_end_is_above_its_high_end_is_refused() -> None:
    with pytest.raises(RangeError):
        PriceRange(500, 100)


amounts = st.integers(0, MAX_AMOUNT)


@given(st.lists(amounts, min_size=1, max_size=5), st.none() | amounts, st.none() | amounts)
def test_a_range_matches_when_any_sku_price_is_inside(
    prices: list[int], low: int | None, high: int | None
) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    inside = any((low is None or p >= low) and (high is None or p <= high) for p in prices)
    assert PriceRange(low, high).matches(prices) == inside


@given(amounts, amounts)
def test_price_keys_order_like_amounts(a: int, b: int) -> None:
    at = "2026-05-01T00:00:00.000000Z"
    key_a, key_b = price_key(a, at, "p" * 32), price_key(b, at, "q" * 32)
    assert (key_a < key_b) == (a < b) or a == b
    assert price_key_bound(a) <= key_a < price_key_bound(a + 1)


def test_newest_keys_sort_by_time_then_id() -> None:
    assert newest_key("2026-01-01T00:00:00Z", "b") < newest_key("2026-01-02T00:00:00Z", "a")


def _listed(**overrides: object) -> Listed:
    values: dict[str, object] = {
        "product_id": "p",
        "created_at": "2026-01-01T00:00:00Z",
        "prices": (1000, 5000),
        "categories": (TOP.category_id, CHILD.category_id),
        "tags": ("summer",),
    }
    values.update(overrides)
    return Listed(**values)  # type: ignore[arg-type]


def test_filters_beyond_the_partition_are_checked_on_the_entry() -> None:
    item = _listed()
    assert matches(item, ListingFilter(category_id=TOP.category_id, tag="summer"))
    assert not matches(item, ListingFilter(tag="winter"))
    assert not matches(item, ListingFilter(category_id="c" * 32))
    assert matches(item, ListingFilter(prices=PriceRange(4000, 6000)))
    assert not matches(item, ListingFilter(prices=PriceRange(2000, 4000)))


def test_a_tag_is_read_before_a_category() -> None:
    assert partition_for(ListingFilter(category_id="c" * 32, tag="x")) == "TAG#x"
    assert partition_for(ListingFilter(category_id="c" * 32)) == f"CAT#{'c' * 32}"
    assert partition_for(ListingFilter()) == ALL


def test_sort_keys_and_directions() -> None:
    cheap, dear = _listed(product_id="a", prices=(100,)), _listed(product_id="b", prices=(900,))
    assert sort_key(cheap, Sort.PRICE_ASC) < sort_key(dear, Sort.PRICE_ASC)
    assert not descending(Sort.PRICE_ASC)
    assert descending(Sort.PRICE_DESC)
    assert sort_key(_listed(sold=5), Sort.BEST_SELLING) > sort_key(
        _listed(sold=2), Sort.BEST_SELLING
    )
