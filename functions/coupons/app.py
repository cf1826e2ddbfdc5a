"""CouponsFunction: the pricing rules ops configure, readable by support: coupon definitions
(API.md, issue 7) and the shipping zone table (API.md, "Members, support and delivery")."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from commerce.coupons import admin
from commerce.coupons.schemas import CouponOut, CouponPageOut
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, PageLimit, PageToken
from commerce.shipping import zones
from commerce.shipping.schemas import ZoneTableIn, ZoneTableOut

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["coupons"]
_CODE = Path(description="Coupon code (any case)", max_length=64)
_FIELDS = (
    "Fields: code, kind (percentage | amount | spend_reduction | free_shipping), rate_bp, cap, "
    "amount, threshold, repeat, min_spend, valid_from, valid_until (ISO 8601 UTC), usage_limit, "
    "per_customer_limit, active, stackable (docs/customers.md). Every bad field is listed in "
    "one 400."
)

JsonObject = Annotated[dict[str, Any], Body(description="Coupon fields")]


@app.post(
    "/admin/coupons",
    status_code=201,
    summary="Define a coupon",
    description=f"A new coupon with no uses; 409 if the code exists. Role: ops or admin. {_FIELDS}",
    tags=_TAGS,
    responses=responses(201, CouponOut, "The new coupon", 400, 401, 403, 409),
)
def create_coupon(body: JsonObject, caller: Authorized) -> CouponOut:
    return admin.create_coupon(body, caller)


@app.get(
    "/admin/coupons",
    summary="List coupons",
    description="Every coupon by code, with its uses. Roles: ops, admin, support.",
    tags=_TAGS,
    responses=responses(200, CouponPageOut, "A page of coupons", 400, 401, 403),
)
def list_coupons(
    caller: Authorized,
    limit: PageLimit = None,
    next_token: PageToken = None,
) -> CouponPageOut:
    del caller
    return admin.list_coupons(limit, next_token)


@app.get(
    "/admin/coupons/<code>",
    summary="Get a coupon",
    description="One coupon with its uses. Roles: ops, admin, support.",
    tags=_TAGS,
    responses=responses(200, CouponOut, "The coupon", 400, 401, 403, 404),
)
def get_coupon(code: Annotated[str, _CODE], caller: Authorized) -> CouponOut:
    del caller
    return admin.get_coupon(code)


@app.patch(
    "/admin/coupons/<code>",
    summary="Change a coupon",
    description=(
        "Changes the given fields and re-validates the whole coupon; code and kind never change "
        f"(define a new coupon); null returns a field to its default. Role: ops or admin. {_FIELDS}"
    ),
    tags=_TAGS,
    responses=responses(200, CouponOut, "The coupon", 400, 401, 403, 404, 429),
)
def patch_coupon(code: Annotated[str, _CODE], body: JsonObject, caller: Authorized) -> CouponOut:
    return admin.update_coupon(code, body, caller)


@app.get(
    "/admin/shipping-zones",
    summary="The shipping zone table",
    description=(
        "Every zone with the places it covers, its fee and free-shipping threshold; the zone "
        "`default` covers every other place (10.00 CNY, free from 99.00 CNY until ops change "
        "it). Roles: ops, admin, support."
    ),
    tags=["shipping"],
    responses=responses(200, ZoneTableOut, "The zone table", 401, 403),
)
def get_shipping_zones(caller: Authorized) -> ZoneTableOut:
    return ZoneTableOut.model_validate(zones.zone_table().to_dict())


@app.put(
    "/admin/shipping-zones",
    summary="Replace the shipping zone table",
    description=(
        "The whole table at once: exactly one zone `default` (no places), every other zone with "
        "its places (`CC` or `CC/Region`), each place in one zone only. Carts and checkout "
        "price shipping by it from then on (orders already placed keep theirs). With `version`, "
        "only if the table is still at that version (409 otherwise). Every bad field is listed "
        "in one 400. Role: ops or admin."
    ),
    tags=["shipping"],
    responses=responses(200, ZoneTableOut, "The new table", 400, 401, 403, 409),
)
def put_shipping_zones(body: ZoneTableIn, caller: Authorized) -> ZoneTableOut:
    sent = [zone.model_dump(exclude_none=True) for zone in body.zones]
    table = zones.replace_table(caller, sent, body.version)
    return ZoneTableOut.model_validate(table.to_dict())


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
