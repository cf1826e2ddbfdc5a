"""Request and response bodies of the customer routes (API.md, "Customers and privacy")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictStr

from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut, ShippingAddressIn, ShippingAddressOut
from commerce.orders.schemas import OrderOut
from commerce.tickets.schemas import TicketSummaryOut

_FORBID = ConfigDict(extra="forbid")
#: E.164: a plus, a country code and up to 15 digits in all.
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"

ChannelName = Literal["email", "sms", "push"]
LocaleName = Literal["zh-CN", "en"]


class MePatchIn(Schema):
    """Body of ``PATCH /me``: only the fields sent change; unknown fields are refused."""

    model_config = _FORBID

    marketing_consent: StrictBool | None = Field(
        default=None,
        description="Marketing messages: true gives consent, false withdraws it (recorded with "
        "its time in the consent history)",
    )
    notification_channels: Annotated[
        list[ChannelName] | None,
        Field(
            default=None,
            max_length=3,
            description="Channels for order messages; an empty list turns every channel off",
        ),
    ] = None
    locale: LocaleName | None = Field(default=None, description="Language of messages")
    phone: Annotated[
        StrictStr | None,
        Field(default=None, pattern=PHONE_PATTERN, description="E.164 phone number; null removes"),
    ] = None


class ProfileOut(Schema):
    """The caller's profile."""

    customer_id: str
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    locale: str
    marketing_consent: bool
    notification_channels: list[str] | None = Field(
        default=None, description="null: never chose (email is used)"
    )
    created_at: str
    updated_at: str


class NextTierOut(Schema):
    tier: str
    spend_needed: MoneyOut = Field(description="Trailing spend still needed to reach it")


class MembershipOut(Schema):
    """The caller's member tier and what it gives (docs/customers.md, "Member tiers")."""

    tier: str
    discount_bp: int = Field(description="Off the merchandise, in basis points (500 = 5 %)")
    price_bp: int = Field(description="What the tier pays of list prices (9500 = 9.5折)")
    benefits: list[str] = Field(description="free_shipping waives shipping; others are shown")
    trailing_spend: MoneyOut = Field(description="Delivered orders of the last 12 months")
    next_tier: NextTierOut | None = Field(description="null at the top tier")


class MeOut(ProfileOut):
    """The caller's personal centre: the profile, their tier and their points."""

    tier: str = Field(description="Member tier (member, silver, gold by default)")
    points_balance: int = Field(description="Loyalty points held now")
    membership: MembershipOut


class PointsEntryOut(Schema):
    delta: int = Field(description="Points gained (> 0) or spent or taken back (< 0)")
    reason: Literal["earned", "reversed", "redeemed", "restored", "adjusted"]
    order_id: str | None
    ref: str | None = Field(
        default=None, exclude_if=lambda value: value is None, description="The return, if any"
    )
    at: str


class PointsLedgerOut(Schema):
    balance: int
    items: list[PointsEntryOut] = Field(description="Newest first")
    next_token: str | None = Field(default=None, exclude_if=lambda value: value is None)


_AddressText = Annotated[StrictStr, Field(max_length=1000)]
_Label = Annotated[
    StrictStr, Field(min_length=1, max_length=40, description="How the customer names it")
]


class AddressIn(ShippingAddressIn):
    """Body of ``POST /me/addresses``: an address as for carts, with an optional label."""

    label: _Label | None = None
    default: StrictBool = Field(
        default=False, description="Make it the default (the first address always is)"
    )


class AddressPatchIn(Schema):
    """Body of ``PATCH /me/addresses/{address_id}``: only the fields sent change; null removes
    an optional field (line2, region, label)."""

    model_config = _FORBID

    name: _AddressText | None = None
    line1: _AddressText | None = None
    line2: _AddressText | None = None
    city: _AddressText | None = None
    region: _AddressText | None = None
    postal_code: _AddressText | None = None
    country: _AddressText | None = None
    phone: _AddressText | None = None
    label: _Label | None = None
    default: Literal[True] | None = Field(
        default=None, description="true makes it the default (another takes the default away)"
    )


class AddressOut(ShippingAddressOut):
    address_id: str
    label: str | None = Field(default=None, exclude_if=lambda value: value is None)
    default: bool
    created_at: str
    updated_at: str


class AddressListOut(Schema):
    items: list[AddressOut] = Field(description="Oldest first")


class DeviceIn(Schema):
    """Body of ``POST /me/devices``: a push token of one of the customer's devices."""

    model_config = _FORBID

    platform: Literal["ios", "android", "web"]
    #: APNs tokens are hex, FCM tokens URL-safe text with ":": printable ASCII, no spaces.
    token: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=4096,
            pattern=r"^[!-~]+$",
            description="The push service's device token (printable ASCII, no spaces)",
        ),
    ]


class DeviceOut(Schema):
    """A registered device; the token is not echoed back (the app has it)."""

    device_id: str
    platform: Literal["ios", "android", "web"]
    created_at: str = Field(description="When the caller first registered it (UTC ISO 8601)")


class DeviceListOut(Schema):
    items: list[DeviceOut]


class ErasureScheduledOut(Schema):
    """``DELETE /me`` with orders still open: erased but for them (docs/customers.md)."""

    status: Literal["scheduled"] = "scheduled"
    order_ids: list[str] = Field(
        description=(
            "The open orders: each is anonymised as soon as it is delivered, cancelled or "
            "refunded, with no second request"
        )
    )


class ExportOut(Schema):
    """Everything held about the caller (docs/customers.md, "Export")."""

    model_config = ConfigDict(extra="allow")

    schema_version: int
    generated_at: str
    profile: dict[str, Any]
    consents: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    points: dict[str, Any]
    messages: list[dict[str, Any]]
    rfm: dict[str, Any] = Field(
        default_factory=dict, description="Recency, frequency, monetary and RFM segment"
    )


class RfmScoresOut(Schema):
    recency: int = Field(ge=1, le=5)
    frequency: int = Field(ge=1, le=5)
    monetary: int = Field(ge=1, le=5)


class RfmOut(Schema):
    """A customer's RFM: recency in whole days (null before a first paid order), paid orders,
    spend (paid less refunded), the named segment and the 1..5 scores behind it."""

    recency_days: int | None
    frequency: int
    monetary: MoneyOut
    segment: str
    scores: RfmScoresOut | None = None


class ContactOut(Schema):
    """A message the shop sent the customer (never its address or text)."""

    channel: str
    template: str | None
    event_type: str | None
    ref: str | None = Field(description="The order, cart or ticket it was about")
    sent_at: str | None


class CustomerAdminOut(Schema):
    """Support's view of one customer."""

    profile: ProfileOut
    tier: str = Field(description="Member tier (member, silver, gold)")
    points: int = Field(description="Points balance")
    recent_orders: list[OrderOut] = Field(description="The five newest orders")
    tickets: list[TicketSummaryOut] = Field(description="The ten newest tickets")
    recent_contacts: list[ContactOut] = Field(
        description="The ten latest messages sent to the customer, newest first"
    )
    rfm: RfmOut = Field(description="From the order stream (docs/analytics.md, RFM)")
