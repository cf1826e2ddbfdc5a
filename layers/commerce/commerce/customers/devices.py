"""Push devices of a customer: registered by token, removed by id."""

from __future__ import annotations

import re
from typing import Final

from commerce.customers.profiles import Identity, ensure_profile, now_iso
from commerce.errors import Conflict, NotFound
from commerce.store import customers as store

_DEVICE_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


def register(identity: Identity, platform: str, token: str) -> str:
    """The device's id; the same token registered again is the same device."""
    if ensure_profile(identity).erasing:
        raise Conflict("This account is being erased")
    return store.put_device(identity.sub, platform, token, at=now_iso())


def remove(identity: Identity, device_id: str) -> None:
    """404 unless the caller has a device with this id (someone else's is not theirs)."""
    if not _DEVICE_ID_RE.fullmatch(device_id) or not store.delete_device(identity.sub, device_id):
        raise NotFound("No such device")
