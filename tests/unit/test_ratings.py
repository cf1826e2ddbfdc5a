"""A product's rating: every interleaving of reviews, hides and restores keeps it exact."""

from __future__ import annotations

import pytest
from commerce.domain.ratings import (
    NO_CHANGE,
    Rating,
    RatingDelta,
    ReviewStatus,
    delta,
    is_valid_rating,
    recompute,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

PUBLISHED, HIDDEN = ReviewStatus.PUBLISHED, ReviewStatus.HIDDEN


def test_average_is_none_without_reviews_and_rounded_with_them() -> None:
    assert Rating().average is None
    assert Rating(5, 1).average == 5.0
    assert Rating(14, 3).average == 4.67


@pytest.mark.parametrize("value", [0, 6, -1, True])
def test_ratings_outside_one_to_five_are_invalid(value: int) -> None:
    assert not is_valid_rating(value)


def test_only_changes_into_or_out_of_published_move_the_rating() -> None:
    assert delta(4, None, PUBLISHED) == RatingDelta(4, 1)
    assert delta(4, None, HIDDEN) == NO_CHANGE
    assert delta(4, PUBLISHED, HIDDEN) == RatingDelta(-4, -1)
    assert delta(4, HIDDEN, PUBLISHED) == RatingDelta(4, 1)
    assert delta(4, PUBLISHED, PUBLISHED) == NO_CHANGE
    assert delta(4, HIDDEN, HIDDEN) == NO_CHANGE


@pytest.mark.parametrize(("total", "count"), [(-1, 0), (1, 0), (6, 1), (0, 1), (3, -1)])
def test_impossible_ratings_are_refused(total: int, count: int) -> None:
    with pytest.raises(ValueError, match="impossible rating"):
        Rating(total, count)


#: One step: post review i with rating r (once), hide it, or restore it.
steps = st.lists(
    st.tuples(
        st.sampled_from(["post", "hide", "restore"]),
        st.integers(0, 5),
        st.integers(1, 5),
    ),
    max_size=60,
)


@given(steps)
def test_any_interleaving_keeps_the_rating_equal_to_a_recomputation(
    plan: list[tuple[str, int, int]],
) -> None:
    reviews: dict[int, tuple[int, ReviewStatus]] = {}
    rating = Rating()
    for action, review, stars in plan:
        current = reviews.get(review)
        if action == "post":
            if current is not None:
                continue  # once per customer and product
            rating = rating.plus(delta(stars, None, PUBLISHED))
            reviews[review] = (stars, PUBLISHED)
        elif current is not None:
            target = HIDDEN if action == "hide" else PUBLISHED
            rating = rating.plus(delta(current[0], current[1], target))
            reviews[review] = (current[0], target)
        assert rating == recompute(reviews.values())
    published = [s for s, status in reviews.values() if status is PUBLISHED]
    expected = round(sum(published) / len(published), 2) if published else None
    assert rating.average == expected
