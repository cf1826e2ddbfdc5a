"""Request and response bodies of the customer routes (API.md, "Customers and privacy")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from commerce.http.schemas import MoneyOut
from commerce.orders.schemas import OrderOut

_FORBID = ConfigDict(extra="forbid")
#: E.164: a plus, a country code and up to 15 digits in all.
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"

ChannelName = Literal["email", "sms", "push"]
LocaleName = Literal["zh-CN", "en"]


class MePatchIn(BaseModel):
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


class ProfileOut(BaseModel):
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


class DeviceIn(BaseModel):
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


class DeviceOut(BaseModel):
    """A registered device; the token is not echoed back (the app has it)."""

    device_id: str
    platform: Literal["ios", "android", "web"]
    created_at: str = Field(description="When the caller first registered it (UTC ISO 8601)")


class DeviceListOut(BaseModel):
    items: list[DeviceOut]


class ExportOut(BaseModel):
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


class RfmScoresOut(BaseModel):
    recency: int = Field(ge=1, le=5)
    frequency: int = Field(ge=1, le=5)
    monetary: int = Field(ge=1, le=5)


class RfmOut(BaseModel):
    """A customer's RFM: recency in whole days (null before a first paid order), paid orders,
    spend (paid less refunded), the named segment and the 1..5 scores behind it."""

    recency_days: int | None
    frequency: int
    monetary: MoneyOut
    segment: str
    scores: RfmScoresOut | None = None


class CustomerAdminOut(BaseModel):
    """Support's view of one customer."""

    profile: ProfileOut
    tier: str = Field(description="Member tier (member, silver, gold)")
    points: int = Field(description="Points balance")
    recent_orders: list[OrderOut] = Field(description="The five newest orders")
    rfm: RfmOut = Field(description="From the order stream (docs/analytics.md, RFM)")
