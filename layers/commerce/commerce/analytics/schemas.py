"""Request and response bodies of the insight routes (API.md, "Insight (v1.1)").

Requests are strict (unknown fields refused, a float or a boolean is never a count); what the
schema cannot say (a tier or RFM segment that does not exist, recency rules that exclude each
other) is checked by ``domain.segments.check`` and reported in the same error shape.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr, field_validator

from commerce.catalog.schemas import MoneyIn
from commerce.domain.campaigns import MAX_BODY_CHARS, MAX_SUBJECT_CHARS, CampaignStatus
from commerce.domain.segments import MAX_DAYS
from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut

_FORBID = ConfigDict(extra="forbid")
#: Longest name of a segment or campaign.
NAME_MAX = 100

ChannelName = Literal["email", "sms", "push"]
Days = Annotated[StrictInt, Field(ge=1, le=MAX_DAYS)]
Names = Annotated[
    list[Annotated[StrictStr, Field(min_length=1, max_length=64)]], Field(max_length=20)
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("Must not be blank")
    return value.strip()


# --- Figures -------------------------------------------------------------------------------------


class SalesDayOut(Schema):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    orders: int = Field(description="Orders paid that day")
    gmv: MoneyOut = Field(description="Totals of the orders paid that day")
    refunds: MoneyOut = Field(description="Money refunded that day (any order)")
    net: MoneyOut = Field(description="gmv - refunds")
    aov: MoneyOut = Field(description="gmv / orders, rounded half up; 0 without orders")
    units: int = Field(description="Units of the orders paid that day")
    customers: int = Field(description="Distinct buyers that day (guests by email)")


class SalesTotalsOut(Schema):
    orders: int
    gmv: MoneyOut
    refunds: MoneyOut
    net: MoneyOut
    aov: MoneyOut
    units: int
    customers: int = Field(description="Distinct buyers in the range")
    repeat_customers: int = Field(description="Buyers with 2 or more paid orders in the range")
    repurchase_rate: float = Field(ge=0, le=1, description="repeat_customers / customers")
    carts: int = Field(description="Carts created in the range")
    conversion_rate: float = Field(ge=0, le=1, description="orders / carts, at most 1")


class SalesOut(Schema):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="First UTC day of the range")
    to: str = Field(description="Last UTC day of the range (included)")
    days: list[SalesDayOut] = Field(description="Every day of the range, oldest first")
    totals: SalesTotalsOut


class ProductFiguresOut(Schema):
    sku: str
    product_id: str | None = Field(description="The SKU's product; null if it left the catalog")
    units: int = Field(description="Units paid for in the range")
    revenue: MoneyOut = Field(description="Line amounts (unit price x quantity) paid for")


class ProductsOut(Schema):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    items: list[ProductFiguresOut] = Field(description="By revenue, highest first")


# --- Segments ------------------------------------------------------------------------------------


class RulesIn(Schema):
    """Rules a member satisfies, all of them; none at all: every customer with a paid order."""

    model_config = _FORBID

    min_orders: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="At least this many paid orders"
    )
    min_spend: MoneyIn | None = Field(
        default=None, description="At least this much spent (paid less refunded)"
    )
    last_order_within_days: Days | None = Field(
        default=None, description="A paid order in the last N days"
    )
    no_order_within_days: Days | None = Field(
        default=None, description="No paid order in the last N days"
    )
    tiers: Names | None = Field(default=None, description="Member tier is one of these")
    rfm_segments: Names | None = Field(
        default=None, description="RFM segment is one of these (docs/analytics.md)"
    )


class SegmentIn(Schema):
    model_config = _FORBID

    name: Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX)]
    rules: RulesIn

    _name = field_validator("name")(_not_blank)


class SegmentOut(Schema):
    segment_id: str
    name: str
    rules: dict[str, object] = Field(description="The rules given (others left out)")
    created_at: str


class SegmentPageOut(Schema):
    items: list[SegmentOut]
    next_token: str | None = None


class MemberOut(Schema):
    customer_id: str


class MemberPageOut(Schema):
    items: list[MemberOut]
    next_token: str | None = Field(
        default=None, description="Present while more customers remain to be read"
    )


# --- Campaigns -----------------------------------------------------------------------------------


class CampaignIn(Schema):
    model_config = _FORBID

    name: Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX)]
    segment_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=3)] = Field(
        description="Channels to send on; each member gets one message per channel they "
        "consented to marketing on"
    )
    subject: Annotated[StrictStr, Field(min_length=1, max_length=MAX_SUBJECT_CHARS)] = Field(
        description="Email subject, push title"
    )
    body: Annotated[StrictStr, Field(min_length=1, max_length=MAX_BODY_CHARS)] = Field(
        description="Plain text; an SMS carries it shortened"
    )

    _name = field_validator("name", "subject", "body")(_not_blank)

    @field_validator("channels")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("Name each channel once")
        return value


class CampaignAcceptedOut(Schema):
    campaign_id: str
    status: CampaignStatus


class CampaignOut(Schema):
    campaign_id: str
    name: str
    segment_id: str
    channels: list[str]
    status: CampaignStatus = Field(description="sending until every member is done, then sent")
    recipients: int = Field(description="Members of the segment the campaign was sent to")
    sent: int = Field(description="Messages sent (one per member and channel)")
    skipped: int = Field(description="Member and channel pairs without marketing consent")
    orders: int = Field(description="Orders paid by recipients within 7 days after their message")
    revenue: MoneyOut = Field(description="Totals of those orders")
    created_at: str


class CampaignPageOut(Schema):
    items: list[CampaignOut]
    next_token: str | None = None
