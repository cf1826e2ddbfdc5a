"""Wire shapes of the coupon admin API: a coupon with its use count, and a page of them.

Request bodies are read as plain JSON objects and validated by ``domain.coupons.parse_coupon``,
which reports every bad field at once (unknown fields included) in the API's error shape.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from commerce.http.model import Schema


class CouponOut(Schema):
    """A coupon as ``Coupon.to_dict`` writes it, plus ``uses_total`` and its timestamps."""

    model_config = ConfigDict(extra="allow")

    code: str
    kind: str
    uses_total: int
    created_at: str
    updated_at: str


class CouponPageOut(Schema):
    items: list[CouponOut]
    next_token: str | None = None


class ApplyCouponIn(Schema):
    """``POST /carts/{cart_id}/coupons``: the code as the customer typed it (any case)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
