"""Profiles and devices as clients see them."""

from __future__ import annotations

from commerce.customers.schemas import DeviceOut, ProfileOut
from commerce.store.customers import Profile
from commerce.store.devices import Device


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


def device_view(device: Device) -> DeviceOut:
    return DeviceOut.model_validate(
        {
            "device_id": device.device_id,
            "platform": device.platform,
            "created_at": device.created_at,
        }
    )
