"""CustomersFunction: the caller's personal centre (profile, tier and points, points ledger,
address book, devices, privacy rights); support's customer view (API.md, "Customers and
privacy", "Members, support and delivery")."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Request, Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from commerce import clock
from commerce.customers import addresses, devices, points, privacy, profiles, support
from commerce.customers.profiles import Identity
from commerce.customers.schemas import (
    AddressIn,
    AddressListOut,
    AddressOut,
    AddressPatchIn,
    CustomerAdminOut,
    DeviceIn,
    DeviceListOut,
    DeviceOut,
    ErasureScheduledOut,
    ExportOut,
    MeOut,
    MePatchIn,
    PointsLedgerOut,
)
from commerce.customers.views import address_view, device_view, me_view
from commerce.http.api import install, lambda_entrypoint
from commerce.http.auth import request_claims
from commerce.http.docs import problems, responses
from commerce.http.params import Authorized, PageLimit, PageToken
from commerce.loyalty.tiers import standing
from commerce.store.customers import Profile
from commerce.store.points import balance_of

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["customers"]
_STAFF_TAGS = ["customers", "support"]


def signed_in(request: Request) -> Identity:
    """The caller from the authorizer's claims (username included: erasure disables it)."""
    return Identity.from_claims(request_claims(request))


Me = Annotated[Identity, Depends(signed_in)]
AddressId = Annotated[str, Path(description="As POST /me/addresses returned it")]


def _me(me: Identity, profile: Profile) -> MeOut:
    return me_view(profile, standing(me.sub, clock.now()), balance_of(me.sub))


@app.get(
    "/me",
    summary="My profile",
    description=(
        "The caller's profile (created from the token's claims on the first call), member tier "
        "with its discount, benefits and the spend to the next tier, and points balance."
    ),
    tags=_TAGS,
    responses=responses(200, MeOut, "The profile", 401),
)
def get_me(me: Me) -> MeOut:
    return _me(me, profiles.ensure_profile(me))


@app.patch(
    "/me",
    summary="Change my profile",
    description=(
        "Only the fields sent change. A change of marketing_consent is recorded in the consent "
        "history (what, given or withdrawn, when, source). Unknown fields: 400."
    ),
    tags=_TAGS,
    responses=responses(200, MeOut, "The changed profile", 400, 401, 409),
)
def patch_me(me: Me, body: MePatchIn) -> MeOut:
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
    return _me(me, profiles.update_me(me, patch))


@app.get(
    "/me/points",
    summary="My points",
    description=(
        "The points balance and the ledger, newest first, a page at a time: every point earned "
        "(on delivery), redeemed (at checkout), restored (order cancelled) or reversed (refund)."
    ),
    tags=_TAGS,
    responses=responses(200, PointsLedgerOut, "The ledger", 400, 401),
)
def my_points(me: Me, limit: PageLimit = None, next_token: PageToken = None) -> PointsLedgerOut:
    return points.ledger(me, limit, next_token)


@app.get(
    "/me/addresses",
    summary="My addresses",
    description="The address book, oldest first; exactly one is the default while any exist.",
    tags=_TAGS,
    responses=responses(200, AddressListOut, "The addresses", 401),
)
def list_addresses(me: Me) -> AddressListOut:
    book = addresses.book(me)
    return AddressListOut(
        items=[address_view(e, e.address_id == book.default_id) for e in book.entries]
    )


@app.post(
    "/me/addresses",
    status_code=201,
    summary="Add an address",
    description=(
        "An address as for carts (validated and normalised the same way; every bad field in one "
        "400), with an optional label. The first address is the default; `default: true` makes "
        "a later one the default. At most 20: the 21st is 409 and nothing changes. Carts take "
        "it by id (PUT /carts/{cart_id}/shipping-address with address_id)."
    ),
    tags=_TAGS,
    responses=responses(201, AddressOut, "The address", 400, 401, 409),
)
def add_address(me: Me, body: AddressIn) -> AddressOut:
    fields = body.model_dump(exclude_none=True, exclude={"label", "default"})
    saved, default = addresses.add(me, fields, body.label, default=body.default)
    return address_view(saved, default)


@app.patch(
    "/me/addresses/<address_id>",
    summary="Change an address",
    description=(
        "Only the fields sent change (null removes line2, region or label); the result is "
        "checked as a new address would be. `default: true` makes it the default. Another "
        "customer's address, or an unknown id: 404."
    ),
    tags=_TAGS,
    responses=responses(200, AddressOut, "The address", 400, 401, 404, 409),
)
def change_address(me: Me, address_id: AddressId, body: AddressPatchIn) -> AddressOut:
    sent = body.model_fields_set
    changes = {name: getattr(body, name) for name in sent if name not in ("label", "default")}
    saved, default = addresses.change(
        me,
        address_id,
        changes,
        label=body.label,
        label_set="label" in sent,
        make_default=body.default is True,
    )
    return address_view(saved, default)


@app.delete(
    "/me/addresses/<address_id>",
    summary="Delete an address",
    description=(
        "Deleting the default makes the newest of the others the default. Another customer's "
        "address, or an unknown id: 404."
    ),
    tags=_TAGS,
    responses={204: {"description": "Deleted"}, **problems(401, 404, 409)},
)
def remove_address(me: Me, address_id: AddressId) -> Response[None]:
    addresses.remove(me, address_id)
    return Response(status_code=204)


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
        "Sign-in is revoked at once (the user disabled and signed out everywhere; every token "
        "of the account, however fresh, is 401 from then on) and marketing stops. With no "
        "order open, everything is erased now: profile, consents, devices, addresses, carts "
        "(their holds given back), points, tickets and messages deleted, and every order kept "
        "for accounting with its personal fields anonymised (204). With orders still open the "
        "rest is erased now and the answer is 202 `scheduled` with their ids: each is "
        "anonymised when it is delivered, cancelled or refunded, with no second request."
    ),
    tags=_TAGS,
    responses={
        202: {
            "description": "Erased but for the open orders, each anonymised when it closes",
            "content": {"application/json": {"model": ErasureScheduledOut}},
        },
        204: {"description": "Erased"},
        **problems(401, 429),
    },
)
def erase_me(me: Me) -> Response[str | None]:
    erasure = privacy.erase(me)
    if not erasure.scheduled:
        return Response(status_code=204)
    body = ErasureScheduledOut(order_ids=list(erasure.open_order_ids))
    return Response(202, content_type="application/json", body=body.model_dump_json())


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
    description=(
        "Profile, tier, points, the five newest orders, the ten newest tickets and the ten "
        "latest messages sent to the customer. Roles: support, ops, admin."
    ),
    tags=_STAFF_TAGS,
    responses=responses(200, CustomerAdminOut, "The customer", 401, 403, 404),
)
def get_customer(
    customer_id: Annotated[str, Path(description="The customer's id (Cognito sub)")],
    caller: Authorized,
) -> CustomerAdminOut:
    return support.customer_view(customer_id)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
