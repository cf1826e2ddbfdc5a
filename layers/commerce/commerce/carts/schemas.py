"""Request and response bodies of the cart routes (API.md, "Cart and stock reservation").

Limits come from the domain (``commerce.domain.cart``) so the schema and the rules cannot drift;
the address schema only checks shapes and types, the domain checks the content and reports
every bad field at once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from commerce.domain.cart import MAX_QUANTITY_PER_LINE
from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut, ShippingAddressIn, ShippingAddressOut, TotalsOut

__all__ = ["CartOut", "SavedAddressIn", "SetQuantityIn", "ShippingAddressIn"]

_FORBID = ConfigDict(extra="forbid")


class SetQuantityIn(Schema):
    """Body of ``PUT /carts/{cart_id}/items/{sku}``."""

    model_config = _FORBID

    quantity: Annotated[
        StrictInt,
        Field(
            ge=0,
            le=MAX_QUANTITY_PER_LINE,
            description="Units to hold for this cart; 0 removes the line and releases its hold",
        ),
    ]


class SavedAddressIn(Schema):
    """Body of ``PUT /carts/{cart_id}/shipping-address`` naming an address of the cart owner's
    address book (``/me/addresses``) instead of spelling one out."""

    model_config = _FORBID

    address_id: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=64,
            description="An address of the cart's owner (any other id, or a guest cart: 404)",
        ),
    ]


class CartLineOut(Schema):
    sku: str
    quantity: int
    unit_price: MoneyOut = Field(description="The price when the line was last set")
    reserved_until: str | None = Field(
        description="When this line's stock hold ends; null once it has lapsed"
    )


class CartOut(Schema):
    cart_id: str
    cart_token: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Guests only, once, in the response that created the cart: send it back "
        "as X-Cart-Token",
    )
    lines: list[CartLineOut]
    shipping_address: ShippingAddressOut | None = Field(
        default=None, exclude_if=lambda value: value is None
    )
    coupons: list[str]
    totals: TotalsOut
