"""InsightFunction: sales and product figures, segments and campaigns for ops (API.md, "Insight").

Every route needs the ops role (or admin): customers and support get 403.
"""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from commerce.analytics import campaigns, figures, segments
from commerce.analytics.schemas import (
    CampaignAcceptedOut,
    CampaignIn,
    CampaignOut,
    CampaignPageOut,
    MemberPageOut,
    ProductsOut,
    SalesOut,
    SegmentIn,
    SegmentOut,
    SegmentPageOut,
)
from commerce.domain.figures import MAX_PRODUCTS, MAX_RANGE_DAYS
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, PageLimit, PageToken

app = APIGatewayRestResolver(enable_validation=True)

_FIGURES = ["insight"]
_SEGMENTS = ["insight", "segments"]
_CAMPAIGNS = ["insight", "campaigns"]
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
From = Annotated[str, Query(alias="from", pattern=_DATE, description="First UTC day, YYYY-MM-DD")]
To = Annotated[str, Query(pattern=_DATE, description="Last UTC day, YYYY-MM-DD (included)")]
SegmentId = Annotated[str, Path(description="Segment id, as POST /admin/segments returned it")]
CampaignId = Annotated[str, Path(description="Campaign id, as POST /admin/campaigns returned it")]
_RANGE = (
    f"UTC days, both included, at most {MAX_RANGE_DAYS}; from after to, or a longer range, is "
    "400. Figures follow the order stream within seconds. Role: ops (or admin)."
)


@app.get(
    "/admin/analytics/sales",
    summary="Sales figures",
    description=(
        "Orders paid, GMV, refunds, net, AOV, units and distinct buyers per day and in total, "
        "with repeat buyers, the repurchase rate, carts created and the conversion rate. An "
        "order counts once, on the day it was paid; refunds on the day they were made. "
        f"{_RANGE}"
    ),
    tags=_FIGURES,
    responses=responses(200, SalesOut, "The range's figures", 400, 401, 403),
)
def sales(first: From, to: To, caller: Authorized) -> SalesOut:
    return figures.sales(first, to)


@app.get(
    "/admin/analytics/products",
    summary="Top products",
    description=(
        "The SKUs with the most revenue in the range (units x unit price as paid for), with "
        f"their product and units, highest first; limit 1..{MAX_PRODUCTS}, default 20. {_RANGE}"
    ),
    tags=_FIGURES,
    responses=responses(200, ProductsOut, "The range's top products", 400, 401, 403),
)
def products(
    first: From,
    to: To,
    caller: Authorized,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PRODUCTS, description="How many, default 20")
    ] = None,
) -> ProductsOut:
    return figures.products(first, to, limit)


@app.post(
    "/admin/segments",
    status_code=201,
    summary="Define a segment",
    description=(
        "Customers with a paid order for whom every rule holds: min_orders, min_spend, "
        "last_order_within_days, no_order_within_days, tiers, rfm_segments (docs/analytics.md "
        "names the RFM segments). Unknown rules, tiers or segments are 400. Role: ops."
    ),
    tags=_SEGMENTS,
    responses=responses(201, SegmentOut, "The new segment", 400, 401, 403),
)
def create_segment(body: SegmentIn, caller: Authorized) -> SegmentOut:
    return segments.create_segment(body, caller)


@app.get(
    "/admin/segments",
    summary="List segments",
    description="Every segment, newest first, a page at a time. Role: ops.",
    tags=_SEGMENTS,
    responses=responses(200, SegmentPageOut, "A page of segments", 400, 401, 403),
)
def list_segments(
    caller: Authorized, limit: PageLimit = None, next_token: PageToken = None
) -> SegmentPageOut:
    return segments.list_segments(limit, next_token)


@app.get(
    "/admin/segments/<segment_id>",
    summary="Get a segment",
    description="The segment's name and rules. Role: ops.",
    tags=_SEGMENTS,
    responses=responses(200, SegmentOut, "The segment", 401, 403, 404),
)
def get_segment(segment_id: SegmentId, caller: Authorized) -> SegmentOut:
    return segments.get_segment(segment_id)


@app.get(
    "/admin/segments/<segment_id>/members",
    summary="List a segment's members",
    description=(
        "The customers the rules hold for now, read from the customer-values index (never a "
        "table scan). A page may hold fewer than limit customers while next_token says more "
        "of the index remains. Role: ops."
    ),
    tags=_SEGMENTS,
    responses=responses(200, MemberPageOut, "A page of members", 400, 401, 403, 404),
)
def segment_members(
    segment_id: SegmentId, caller: Authorized, limit: PageLimit = None, next_token: PageToken = None
) -> MemberPageOut:
    return segments.members(segment_id, limit, next_token)


@app.post(
    "/admin/campaigns",
    status_code=202,
    summary="Send a campaign",
    description=(
        "Sends the subject and body to every member of the segment, once per chosen channel, "
        "only on channels where the member consented to marketing; at a bounded rate, apart "
        "from order messages. The Idempotency-Key header is required: the same key and body "
        "return the same campaign; the same key with another body is 422. A missing segment "
        "is 404. Orders paid by a recipient within 7 days after their message count for the "
        "campaign. Role: ops."
    ),
    tags=_CAMPAIGNS,
    responses=responses(
        202, CampaignAcceptedOut, "The campaign, being sent", 400, 401, 403, 404, 422
    ),
)
def create_campaign(
    body: CampaignIn,
    caller: Authorized,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            description="Client-chosen, unique per campaign; reuse it to retry safely",
        ),
    ],
) -> CampaignAcceptedOut:
    return campaigns.create_campaign(body, caller, idempotency_key)


@app.get(
    "/admin/campaigns",
    summary="List campaigns",
    description="Every campaign with its progress and results, newest first. Role: ops.",
    tags=_CAMPAIGNS,
    responses=responses(200, CampaignPageOut, "A page of campaigns", 400, 401, 403),
)
def list_campaigns(
    caller: Authorized, limit: PageLimit = None, next_token: PageToken = None
) -> CampaignPageOut:
    return campaigns.list_campaigns(limit, next_token)


@app.get(
    "/admin/campaigns/<campaign_id>",
    summary="Get a campaign",
    description=(
        "Its status (sending, then sent), recipients, messages sent and skipped (no consent), "
        "and the orders and revenue of recipients within 7 days after their message. Role: ops."
    ),
    tags=_CAMPAIGNS,
    responses=responses(200, CampaignOut, "The campaign", 401, 403, 404),
)
def get_campaign(campaign_id: CampaignId, caller: Authorized) -> CampaignOut:
    return campaigns.get_campaign(campaign_id)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
