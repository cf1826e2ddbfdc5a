"""Request and response bodies of the order routes (API.md, "Checkout and orders")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from commerce.domain.cart import MAX_QUANTITY_PER_LINE
from commerce.domain.money import SUPPORTED_CURRENCIES
from commerce.domain.refunds import MAX_REASON_CHARS as MAX_REFUND_REASON_CHARS
from commerce.domain.returns import MAX_REASON_CHARS
from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut, ShippingAddressOut, TotalsOut

_FORBID = ConfigDict(extra="forbid")
#: A deliberately loose address check (something@domain.tld); the mail provider has the last word.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class PaymentIn(Schema):
    """How the order is paid: a provider token, never card data."""

    model_config = _FORBID

    method: Literal["card", "alipay", "wechat_pay"] = Field(
        description="card (with a token), alipay or wechat_pay (no token: the answer carries "
        "payment.next_action, and the provider's notification settles the order)"
    )
    token: Annotated[
        StrictStr | None,
        Field(
            min_length=1,
            max_length=255,
            description="Cards only: the payment provider's token (sandbox: tok_ok, "
            "tok_declined, tok_flaky; Stripe: a PaymentMethod id such as pm_card_visa)",
        ),
    ] = None


class PlaceOrderIn(Schema):
    """Body of ``POST /orders``."""

    model_config = _FORBID

    cart_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    email: Annotated[
        StrictStr | None,
        Field(
            default=None,
            max_length=254,
            pattern=EMAIL_PATTERN,
            description="Where order mail goes: required for guests; customers default to "
            "their account's email",
        ),
    ] = None
    payment: PaymentIn
    redeem_points: Annotated[
        StrictInt,
        Field(
            ge=0,
            le=100_000_000,
            description="Loyalty points to redeem (signed-in customers; a guest's is a 400). "
            "More than the balance is a 409; more than the order allows redeems what it allows "
            "(docs/customers.md, Points)",
        ),
    ] = 0


class PlacedOrderOut(Schema):
    """The 202 of ``POST /orders``: payment runs asynchronously; poll ``GET /orders/{id}``."""

    order_id: str
    status: str
    order_token: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Guests only, once: send it back as X-Order-Token to read or cancel the "
        "order (X-Cart-Token works too)",
    )
    totals: TotalsOut
    payment: PaymentOut | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Alipay and WeChat Pay: the method and its next_action (absent while the "
        "provider could not be reached; poll the order for it)",
    )


class OrderLineOut(Schema):
    sku: str
    quantity: int
    unit_price: MoneyOut = Field(description="The price when the order was placed")


class NextActionOut(Schema):
    """What the customer must do at the provider for the payment to happen."""

    type: Literal["redirect", "qr_code"] = Field(
        description="`redirect`: open `url` (Alipay); `qr_code`: show `code_url` as a QR code "
        "for the customer to scan (WeChat Pay)"
    )
    url: str | None = Field(default=None, exclude_if=lambda value: value is None)
    code_url: str | None = Field(default=None, exclude_if=lambda value: value is None)


class PaymentOut(Schema):
    status: str = Field(description="PENDING, APPROVED, DECLINED, REFUNDED, PARTIALLY_REFUNDED")
    method: str = Field(description="card, alipay or wechat_pay")
    next_action: NextActionOut | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Alipay and WeChat Pay, until paid: what the customer must do",
    )


class RefundOut(Schema):
    """One refund of an order (``POST /admin/orders/{order_id}/refunds`` and ``refunds``)."""

    refund_id: str
    amount: MoneyOut
    status: str = Field(
        description="pending (asked of the provider), succeeded, or failed (nothing refunded)"
    )
    at: str | None = Field(default=None, exclude_if=lambda value: value is None)


class HistoryEntryOut(Schema):
    status: str
    at: str


class ShipmentOut(Schema):
    carrier: str
    tracking_number: str


class TrackingEventOut(Schema):
    status: Literal["in_transit", "out_for_delivery", "delivered", "exception"]
    at: str = Field(description="When the carrier says it happened (UTC ISO 8601)")
    location: str | None = Field(default=None, exclude_if=lambda value: value is None)


class OrderOut(Schema):
    order_id: str
    status: str
    lines: list[OrderLineOut]
    totals: TotalsOut
    payment: PaymentOut
    shipping_address: ShippingAddressOut | None = Field(
        default=None, description="null when the cart had no shipping address"
    )
    history: list[HistoryEntryOut]
    refunds: list[RefundOut] = Field(
        default_factory=list,
        exclude_if=lambda value: not value,
        description="Every refund of the payment, oldest first: staff refunds, refunds made "
        "at the provider, cancels and received returns (absent while there is none)",
    )
    created_at: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Staff and the signed-in owner only",
    )
    email: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Staff and the signed-in owner only",
    )
    shipment: ShipmentOut | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Carrier and tracking number once shipped",
    )
    tracking: list[TrackingEventOut] = Field(
        default_factory=list,
        description="The carrier's events for the shipment, in the order they happened",
    )


class OrderListOut(Schema):
    items: list[OrderOut]
    next_token: str | None = Field(default=None, exclude_if=lambda value: value is None)


class ShipmentIn(Schema):
    """Body of ``POST /admin/orders/{order_id}/shipments``."""

    model_config = _FORBID

    carrier: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    tracking_number: Annotated[StrictStr, Field(min_length=1, max_length=128)]


class ReturnLineIn(Schema):
    model_config = _FORBID

    sku: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY_PER_LINE)]


class ReturnIn(Schema):
    """Body of ``POST /orders/{order_id}/returns``."""

    model_config = _FORBID

    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=50)]
    reason: Annotated[StrictStr, Field(max_length=MAX_REASON_CHARS)] = ""


class ReturnLineOut(Schema):
    sku: str
    quantity: int


class ReturnOut(Schema):
    return_id: str
    order_id: str
    status: str = Field(description="REQUESTED until ops receive the goods, then RECEIVED")
    lines: list[ReturnLineOut]
    reason: str
    refund: MoneyOut = Field(description="What will be (or was) refunded for these lines")


class RefundAmountIn(Schema):
    """A refund's amount: positive integer minor units (fen) in the order's currency."""

    model_config = _FORBID

    amount: Annotated[StrictInt, Field(ge=1, le=10**12)]
    currency: Annotated[StrictStr, Field(json_schema_extra={"enum": sorted(SUPPORTED_CURRENCIES)})]


class RefundIn(Schema):
    """Body of ``POST /admin/orders/{order_id}/refunds``."""

    model_config = _FORBID

    amount: RefundAmountIn
    reason: Annotated[StrictStr, Field(min_length=1, max_length=MAX_REFUND_REASON_CHARS)]
