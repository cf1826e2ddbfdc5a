"""Push devices of a customer: registered by token (which makes an SNS platform endpoint),
removed by id, forgotten on erasure or when the push service reports the token dead.

Order of writes: the endpoint is created before the device record that names it, and deleted
before the record goes, so a record never outlives the reason to keep it unnoticed: a record
whose endpoint is gone is pruned by the first push that finds it so (``forget_endpoint``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from commerce.clock import now_iso
from commerce.customers.profiles import Identity, ensure_profile
from commerce.errors import Conflict, FieldError, NotFound, ValidationFailed
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import devices as store
from commerce.store import kit
from commerce.store.devices import Device, OwnerChanged
from commerce.store.endpoints import InvalidToken, PlatformEndpoints

_DEVICE_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
_ATTEMPTS: Final = 5

#: The push service of each platform ``POST /me/devices`` accepts: FCM also delivers web push.
PUSH_SERVICES: Final[Mapping[str, str]] = {"android": "fcm", "web": "fcm", "ios": "apns"}


def application_for(platform: str) -> str:
    """The platform application of ``platform``'s push service; 409 when it is not set up."""
    settings = get_settings()
    arn = {
        "fcm": settings.fcm_platform_application_arn,
        "apns": settings.apns_platform_application_arn,
    }.get(PUSH_SERVICES.get(platform, ""), "")
    if not arn:
        raise Conflict(f"Push notifications are not available for {platform} devices")
    return arn


def listed(identity: Identity) -> list[Device]:
    """The caller's devices (none before their profile exists)."""
    return store.devices(identity.sub)


def register(
    identity: Identity, platform: str, token: str, endpoints: PlatformEndpoints | None = None
) -> Device:
    """The device, with its endpoint; the same token registered again is the same device, and
    a token registered by someone else before becomes this customer's (theirs is removed)."""
    application = application_for(platform)  # first: a refused registration writes nothing
    if ensure_profile(identity).erasing:
        raise Conflict("This account is being erased")
    device_id = store.device_id_for(identity.sub, token)
    try:
        endpoint_arn = (endpoints or PlatformEndpoints()).ensure(application, token, device_id)
    except InvalidToken:
        message = f"not a device token of the {platform} push service"
        raise ValidationFailed([FieldError("token", message)]) from None

    def attempt(_: int) -> Device | kit.Retry:
        previous = store.token_owner(token)
        if previous == (identity.sub, device_id):
            same = store.load_device(identity.sub, device_id)
            if same is not None and (same.platform, same.endpoint_arn) == (platform, endpoint_arn):
                return same  # registered again as it was: nothing to write
        try:
            return store.put_device(
                identity.sub,
                platform,
                token,
                endpoint_arn=endpoint_arn,
                at=now_iso(),
                previous=previous,
            )
        except OwnerChanged:
            return kit.RETRY  # registered elsewhere at the same moment: read the owner again

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: Conflict("This device is being registered by another request; try again"),
        attempts=_ATTEMPTS,
    )


def remove(identity: Identity, device_id: str, endpoints: PlatformEndpoints | None = None) -> None:
    """404 unless the caller has a device with this id (someone else's is not theirs)."""
    device = (
        store.load_device(identity.sub, device_id) if _DEVICE_ID_RE.fullmatch(device_id) else None
    )
    if device is None:
        raise NotFound("No such device")
    _forget(identity.sub, device, endpoints or PlatformEndpoints())


def forget_all(sub: str, endpoints: PlatformEndpoints | None = None) -> int:
    """Every device of the customer, endpoints included (erasure); returns how many."""
    found = store.devices(sub)
    adapter = endpoints or PlatformEndpoints()
    for device in found:
        _forget(sub, device, adapter)
    return len(found)


def forget_endpoint(
    sub: str, endpoint_arn: str, endpoints: PlatformEndpoints | None = None
) -> bool:
    """Remove the customer's device published to ``endpoint_arn``, which the push service said
    is disabled or gone; the app registers again when it has a fresh token. False if none."""
    for device in store.devices(sub):
        if device.endpoint_arn == endpoint_arn:
            _forget(sub, device, endpoints or PlatformEndpoints())
            return True
    return False


def _forget(sub: str, device: Device, endpoints: PlatformEndpoints) -> None:
    owner = store.token_owner(device.device_token)
    if device.endpoint_arn and owner == (sub, device.device_id):
        # The endpoint belongs to the token, so it goes only with the token's current owner.
        endpoints.delete(device.endpoint_arn)
    store.delete_device(sub, device)
    logger.info("push device removed", extra={"device_id": device.device_id})
