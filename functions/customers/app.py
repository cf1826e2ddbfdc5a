"""CustomersFunction: the caller's profile, devices and privacy rights; support's customer view
(API.md, "Customers and privacy")."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Request, Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from commerce.customers import devices, privacy, profiles, support
from commerce.customers.profiles import Identity
from commerce.customers.schemas import (
    CustomerAdminOut,
    DeviceIn,
    DeviceListOut,
    DeviceOut,
    ExportOut,
    MePatchIn,
    ProfileOut,
)
from commerce.customers.views import device_view, profile_view
from commerce.http.api import install, lambda_entrypoint
from commerce.http.auth import Caller, request_claims, require_roles
from commerce.http.docs import problems, responses

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["customers"]
_STAFF_TAGS = ["customers", "support"]


def signed_in(request: Request) -> Identity:
    """The caller from the authorizer's claims (username included: erasure disables it)."""
    return Identity.from_claims(request_claims(request))


Me = Annotated[Identity, Depends(signed_in)]
Staff = Annotated[Caller, Depends(require_roles("support", "ops"))]


@app.get(
    "/me",
    summary="My profile",
    description="The caller's profile, created from the token's claims on the first call.",
    tags=_TAGS,
    responses=responses(200, ProfileOut, "The profile", 401),
)
def get_me(me: Me) -> ProfileOut:
    return profile_view(profiles.ensure_profile(me))


@app.patch(
    "/me",
    summary="Change my profile",
    description=(
        "Only the fields sent change. A change of marketing_consent is recorded in the consent "
        "history (what, given or withdrawn, when, source). Unknown fields: 400."
    ),
    tags=_TAGS,
    responses=responses(200, ProfileOut, "The changed profile", 400, 401, 409),
)
def patch_me(me: Me, body: MePatchIn) -> ProfileOut:
    sent = body.model_fields_set
    patch = profiles.Patch(
        marketing_consent=body.marketing_consent,
        notification_channels=(
            tuple(dict.fromkeys(body.notification_channels))
            if body.notification_channels is not None
            else None
        ),
        locale=body.locale,
        phone=body.phone,
        phone_set="phone" in sent,
    )
    return profile_view(profiles.update_me(me, patch))


@app.get(
    "/me/export",
    summary="Export my data",
    description=(
        "Everything held about the caller as one JSON document: profile, consents, devices, "
        "addresses, orders, points ledger and messages (every section present)."
    ),
    tags=_TAGS,
    responses=responses(200, ExportOut, "The export document", 401),
)
def export_me(me: Me) -> dict[str, Any]:
    return privacy.export(me)


@app.delete(
    "/me",
    summary="Erase my account",
    description=(
        "Profile, consents and devices deleted, the sign-in disabled, and every order kept for "
        "accounting with its personal fields anonymised. 409 while an order is still open "
        "(order_ids lists them). A retry completes an interrupted erasure."
    ),
    tags=_TAGS,
    responses={204: {"description": "Erased"}, **problems(401, 409)},
)
def erase_me(me: Me) -> Response[None]:
    privacy.erase(me)
    return Response(status_code=204)


@app.get(
    "/me/devices",
    summary="My push devices",
    description="Every device registered for push, oldest id first.",
    tags=_TAGS,
    responses=responses(200, DeviceListOut, "The devices", 401),
)
def list_devices(me: Me) -> DeviceListOut:
    return DeviceListOut(items=[device_view(d) for d in devices.listed(me)])


@app.post(
    "/me/devices",
    status_code=201,
    summary="Register a device for push",
    description=(
        "Makes the device a push target (an SNS platform endpoint). Registering the same token "
        "again returns the same device_id; a token registered by another account before moves "
        "to the caller. 409 when push is not set up for the platform."
    ),
    tags=_TAGS,
    responses=responses(201, DeviceOut, "The device", 400, 401, 409),
)
def add_device(me: Me, body: DeviceIn) -> DeviceOut:
    return device_view(devices.register(me, body.platform, body.token))


@app.delete(
    "/me/devices/<device_id>",
    summary="Remove a device",
    description="404 when the caller has no device with this id.",
    tags=_TAGS,
    responses={204: {"description": "Removed"}, **problems(401, 404)},
)
def remove_device(
    me: Me, device_id: Annotated[str, Path(description="As POST /me/devices returned it")]
) -> Response[None]:
    devices.remove(me, device_id)
    return Response(status_code=204)


@app.get(
    "/admin/customers/<customer_id>",
    summary="A customer, for support",
    description="Profile, tier, points and the five newest orders. Roles: support, ops, admin.",
    tags=_STAFF_TAGS,
    responses=responses(200, CustomerAdminOut, "The customer", 401, 403, 404),
)
def get_customer(
    customer_id: Annotated[str, Path(description="The customer's id (Cognito sub)")],
    caller: Staff,
) -> CustomerAdminOut:
    return support.customer_view(customer_id)


install(app)
lambda_handler = lambda_entrypoint(app)
