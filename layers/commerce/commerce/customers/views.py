"""Profiles, addresses, points and devices as clients see them."""

from __future__ import annotations

from commerce.customers.schemas import (
    AddressOut,
    DeviceOut,
    MembershipOut,
    MeOut,
    NextTierOut,
    PointsEntryOut,
    ProfileOut,
)
from commerce.domain.addresses import SavedAddress
from commerce.http.schemas import money_out
from commerce.loyalty.tiers import Standing
from commerce.store.customers import Profile
from commerce.store.devices import Device
from commerce.store.points import StoredEntry


def profile_view(profile: Profile) -> ProfileOut:
    return ProfileOut(
        customer_id=profile.customer_id,
        email=profile.email,
        name=profile.name,
        phone=profile.phone,
        locale=profile.locale,
        marketing_consent=profile.marketing_consent,
        notification_channels=(
            list(profile.notification_channels)
            if profile.notification_channels is not None
            else None
        ),
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def membership_view(standing: Standing) -> MembershipOut:
    tier = standing.tier
    upcoming = standing.next
    return MembershipOut(
        tier=tier.name,
        discount_bp=tier.rate_bp,
        price_bp=tier.price_bp,
        benefits=list(tier.benefits),
        trailing_spend=money_out(standing.spend),
        next_tier=(
            NextTierOut(tier=upcoming[0].name, spend_needed=money_out(upcoming[1]))
            if upcoming is not None
            else None
        ),
    )


def me_view(profile: Profile, standing: Standing, points_balance: int) -> MeOut:
    """``GET /me``: the profile with the tier and the points balance."""
    return MeOut(
        **profile_view(profile).model_dump(),
        tier=standing.tier.name,
        points_balance=points_balance,
        membership=membership_view(standing),
    )


def address_view(saved: SavedAddress, default: bool) -> AddressOut:
    return AddressOut(
        **saved.address.to_dict(),
        address_id=saved.address_id,
        label=saved.label,
        default=default,
        created_at=saved.created_at,
        updated_at=saved.updated_at,
    )


def points_entry_view(entry: StoredEntry) -> PointsEntryOut:
    return PointsEntryOut(
        delta=entry.delta,
        reason=entry.reason.value,
        order_id=entry.order_id,
        ref=entry.ref,
        at=entry.at,
    )


def device_view(device: Device) -> DeviceOut:
    return DeviceOut.model_validate(
        {
            "device_id": device.device_id,
            "platform": device.platform,
            "created_at": device.created_at,
        }
    )
