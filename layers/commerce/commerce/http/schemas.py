"""Response shapes every API function shares: money, totals and a shipping address.

Carts, orders, coupons and customers all show these the same way (API.md, "Conventions"), so
the models and the builders from domain values live once here, below every use case.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from commerce.domain.cart import ShippingAddress
from commerce.domain.money import Money
from commerce.domain.pricing import Totals


class MoneyOut(BaseModel):
    amount: int
    currency: str


class TotalsOut(BaseModel):
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    points_redeemed: MoneyOut
    total: MoneyOut


class ShippingAddressOut(BaseModel):
    name: str
    line1: str
    line2: str | None = Field(default=None, exclude_if=lambda value: value is None)
    city: str
    region: str | None = Field(default=None, exclude_if=lambda value: value is None)
    postal_code: str
    country: str
    phone: str


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
