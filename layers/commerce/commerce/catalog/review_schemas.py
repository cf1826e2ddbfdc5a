"""Request and response bodies of the review routes (API.md, "Catalog management and
discovery"). The bounds come from ``domain.ratings`` so the schema and the rules agree."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from commerce.domain.ratings import RATING_MAX, RATING_MIN, TEXT_MAX
from commerce.http.model import Schema

_FORBID = ConfigDict(extra="forbid")


class ReviewIn(Schema):
    """Body of ``POST /products/{product_id}/reviews``."""

    model_config = _FORBID

    rating: Annotated[StrictInt, Field(ge=RATING_MIN, le=RATING_MAX)]
    text: Annotated[StrictStr, Field(max_length=TEXT_MAX)]


class ReviewStatusIn(Schema):
    """Body of ``PATCH /admin/reviews/{review_id}``."""

    model_config = _FORBID

    status: Literal["published", "hidden"]


class ReviewOut(Schema):
    review_id: str
    rating: int
    text: str
    status: Literal["published", "hidden"]
    created_at: str
    # Extension of API.md's review: which product it is of.
    product_id: str


class ReviewPageOut(Schema):
    items: list[ReviewOut]
    next_token: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Pass as `next_token` for the next page; absent on the last page",
    )
