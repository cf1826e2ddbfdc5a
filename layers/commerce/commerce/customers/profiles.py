"""Profiles: created on a customer's first signed-in call, read and changed by ``/me``.

The profile is created from the token's claims (sub, email, name, locale) by one conditional put,
so concurrent first calls leave one profile. A change of marketing consent is recorded as a
consent record (what, given or withdrawn, when, source) in the same transaction as the profile's
current flag, so the history and the flag never disagree.

``preferences_for(sub)`` is how the notifications function reads a customer's channels, locale,
addresses and consent without knowing the table layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from commerce import clock
from commerce.clock import now_iso
from commerce.domain import consent as rules
from commerce.domain.consent import MARKETING, Audience, Channel, ConsentAction, ConsentRecord
from commerce.domain.locale import negotiate
from commerce.errors import Conflict, Unauthorized
from commerce.http.claims import parse_groups
from commerce.store import customers as store
from commerce.store import devices as device_store
from commerce.store import kit
from commerce.store.customers import Profile, ProfileChange
from commerce.store.devices import Device

#: ``source`` of consent records expressed through the API (``PATCH /me``).
API_SOURCE: Final = "api"
_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class Identity:
    """The signed-in caller as the authorizer's claims describe them. Only ``sub`` is in its
    ``repr``: email, username and name identify the person and never reach a log."""

    sub: str
    email: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    name: str | None = field(default=None, repr=False)
    locale: str | None = None
    groups: frozenset[str] = frozenset()

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Identity:
        """401 without a ``sub``: these routes are behind the authorizer."""
        if not claims or not claims.get("sub"):
            raise Unauthorized("A valid bearer token is required")

        def text(name: str) -> str | None:
            value = claims.get(name)
            return str(value) if value else None

        return cls(
            sub=str(claims["sub"]),
            email=text("email"),
            username=text("cognito:username"),
            name=text("name"),
            locale=text("locale"),
            groups=parse_groups(claims.get("cognito:groups")),
        )


def ensure_profile(identity: Identity) -> Profile:
    """The caller's profile, created from their claims on their first signed-in call."""
    existing = store.load_profile(identity.sub)
    if existing is not None:
        return existing
    at = now_iso()
    return store.create_profile(
        Profile(
            customer_id=identity.sub,
            email=identity.email,
            name=identity.name,
            locale=negotiate(identity.locale).value,
            created_at=at,
            updated_at=at,
            version=1,
        )
    )


@dataclass(frozen=True)
class Patch:
    """``PATCH /me`` after validation; ``phone_set`` tells "phone: null" from "no phone"."""

    marketing_consent: bool | None = None
    notification_channels: tuple[str, ...] | None = None
    locale: str | None = None
    phone: str | None = None
    phone_set: bool = False


def update_me(identity: Identity, patch: Patch) -> Profile:
    """Apply the patch; a change of marketing consent appends a consent record with it."""

    def attempt(_: int) -> Profile | kit.Retry:
        current = ensure_profile(identity)
        if current.erasing:
            raise Conflict("This account is being erased")
        consents: tuple[ConsentRecord, ...] = ()
        if patch.marketing_consent is not None and (
            patch.marketing_consent != current.marketing_consent
        ):
            action = ConsentAction.GIVEN if patch.marketing_consent else ConsentAction.WITHDRAWN
            consents = (ConsentRecord(MARKETING, action, clock.now(), API_SOURCE),)
        change = ProfileChange(
            locale=patch.locale,
            phone=patch.phone if patch.phone_set else None,
            clear_phone=patch.phone_set and patch.phone is None,
            marketing_consent=patch.marketing_consent,
            notification_channels=patch.notification_channels,
            consents=consents,
        )
        if store.update_profile(current, change, updated_at=now_iso()):
            updated = store.load_profile(identity.sub)
            if updated is not None:
                return updated
        return kit.RETRY

    return kit.retry_on_conflict(
        attempt, give_up=lambda: Conflict("The profile kept changing; retry"), attempts=_ATTEMPTS
    )


@dataclass(frozen=True)
class Preferences:
    """What the notifications function needs to know about a customer.

    ``channels`` None: never chose (email); empty: every channel off. ``consents`` is the whole
    history (``rules.current_consent`` reads it). ``devices`` are the registered push devices.
    """

    customer_id: str
    locale: str
    email: str | None
    phone: str | None
    name: str | None
    channels: frozenset[Channel] | None
    consents: tuple[ConsentRecord, ...]
    devices: tuple[Device, ...]

    def rules(self) -> rules.Preferences:
        """The recipient as ``consent.channels_for`` sees them."""
        return rules.Preferences(
            audience=Audience.CUSTOMER,
            channels=self.channels,
            has_email=bool(self.email),
            has_phone=bool(self.phone),
            has_device=bool(self.push_targets),
        )

    @property
    def push_targets(self) -> tuple[str, ...]:
        """The platform endpoints of the customer's devices: where push messages go."""
        return tuple(d.endpoint_arn for d in self.devices if d.endpoint_arn)


def preferences_for(sub: str) -> Preferences | None:
    """A customer's channels, locale, addresses and consent history; None without a profile
    (never signed in, or erased): treat them as a guest, by the order's email only.

    A profile being erased also gives None, so no message goes out while it is erased.
    """
    profile = store.load_profile(sub)
    if profile is None or profile.erasing:
        return None
    channels = (
        frozenset(Channel(c) for c in profile.notification_channels)
        if profile.notification_channels is not None
        else None
    )
    return Preferences(
        customer_id=sub,
        locale=profile.locale,
        email=profile.email,
        phone=profile.phone,
        name=profile.name,
        channels=channels,
        consents=tuple(store.consent_history(sub)),
        devices=tuple(device_store.devices(sub)),
    )
