"""Shapes every API function shares: money, totals and a shipping address (as shown, and as a
client sends one).

Carts, orders, coupons and customers all show these the same way (API.md, "Conventions"), so
the models and the builders from domain values live once here, below every use case. The
address a client sends is one shape too, for a cart and for the address book: the schema only
checks shapes and types, ``domain.cart`` checks the content and reports every bad field at once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictStr

from commerce.domain.money import Money
from commerce.domain.pricing import Totals
from commerce.domain.shipping_address import ShippingAddress
from commerce.http.model import Schema


class MoneyOut(Schema):
    amount: int
    currency: str


class TotalsOut(Schema):
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    points_redeemed: MoneyOut
    total: MoneyOut


class ShippingAddressOut(Schema):
    name: str
    line1: str
    line2: str | None = Field(default=None, exclude_if=lambda value: value is None)
    city: str
    region: str | None = Field(default=None, exclude_if=lambda value: value is None)
    postal_code: str
    country: str
    phone: str


#: Generous bounds on address text before the domain's own limits apply.
_Text = Annotated[StrictStr, Field(max_length=1000)]


class ShippingAddressIn(Schema):
    """An address as a client sends it (``PUT /carts/{cart_id}/shipping-address``)."""

    model_config = ConfigDict(extra="forbid")

    name: _Text
    line1: _Text
    line2: _Text | None = None
    city: _Text
    region: _Text | None = None
    postal_code: _Text
    country: _Text = Field(description="ISO 3166-1 alpha-2, e.g. CN")
    phone: _Text = Field(description="International (E.164) or a CN mobile number")


def money_out(money: Money) -> MoneyOut:
    return MoneyOut(amount=money.amount, currency=money.currency)


def totals_out(totals: Totals) -> TotalsOut:
    return TotalsOut(
        subtotal=money_out(totals.subtotal),
        discount=money_out(totals.discount),
        shipping=money_out(totals.shipping),
        points_redeemed=money_out(totals.points_redeemed),
        total=money_out(totals.total),
    )


def address_out(address: ShippingAddress | None) -> ShippingAddressOut | None:
    return ShippingAddressOut(**address.to_dict()) if address is not None else None
