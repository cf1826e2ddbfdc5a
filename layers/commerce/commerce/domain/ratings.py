"""Reviews and a product's rating: who may review, and the arithmetic that keeps it exact.

A product's rating is the sum and the count of its *published* reviews' ratings; the average is
derived when it is shown. Every change to a review's status says what it does to the pair
(``delta``), and storage applies exactly that delta in the same write that changes the status,
conditioned on the status it was decided on. So however reviews, hides and restores interleave,
the pair equals a recomputation from the published reviews (tests/unit/test_ratings.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

RATING_MIN: Final = 1
RATING_MAX: Final = 5
TEXT_MAX: Final = 2000


class ReviewStatus(StrEnum):
    """Published reviews are listed and counted; ops hide one (and may restore it)."""

    PUBLISHED = "published"
    HIDDEN = "hidden"


def is_valid_rating(value: int) -> bool:
    return not isinstance(value, bool) and RATING_MIN <= value <= RATING_MAX


@dataclass(frozen=True)
class Rating:
    """The sum and the count of the published ratings of one product."""

    total: int = 0
    count: int = 0

    def __post_init__(self) -> None:
        if self.count < 0 or self.total < 0 or self.total < self.count * RATING_MIN:
            raise ValueError(f"impossible rating: total {self.total} over {self.count}")
        if self.total > self.count * RATING_MAX:
            raise ValueError(f"impossible rating: total {self.total} over {self.count}")

    @property
    def average(self) -> float | None:
        """The mean to two decimals; None while nothing is published."""
        if self.count == 0:
            return None
        return round(self.total / self.count, 2)

    def plus(self, delta: RatingDelta) -> Rating:
        return Rating(self.total + delta.total, self.count + delta.count)


@dataclass(frozen=True)
class RatingDelta:
    """What one status change adds to a product's rating (negative to take away)."""

    total: int = 0
    count: int = 0

    @property
    def is_zero(self) -> bool:
        return self.total == 0 and self.count == 0


NO_CHANGE: Final = RatingDelta()


def delta(rating: int, before: ReviewStatus | None, after: ReviewStatus) -> RatingDelta:
    """What moving a review of ``rating`` from ``before`` (None: it is new) to ``after`` does
    to its product's rating: a review counts exactly while it is published."""
    counted_before = before is ReviewStatus.PUBLISHED
    counted_after = after is ReviewStatus.PUBLISHED
    if counted_before == counted_after:
        return NO_CHANGE
    sign = 1 if counted_after else -1
    return RatingDelta(sign * rating, sign)


def recompute(reviews: Iterable[tuple[int, ReviewStatus]]) -> Rating:
    """The rating from scratch: the published reviews' sum and count."""
    published = [rating for rating, status in reviews if status is ReviewStatus.PUBLISHED]
    return Rating(sum(published), len(published))
