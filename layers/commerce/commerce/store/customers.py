"""Customer storage: profile and consent history, plus erasure's writes elsewhere.

Layout (CustomersTable, one partition per customer, ``customer_id`` = the Cognito sub):

- profile: pk=CUSTOMER#{sub}, sk=PROFILE. ``email``, ``name``?, ``phone``?, ``locale``,
  ``marketing_consent`` (the current consent, kept beside its history so a read needs one item),
  ``notification_channels`` (absent: never chose, so email), ``created_at`` / ``updated_at``
  (ISO 8601), ``version`` (+1 per write; every update is conditioned on it), ``erasing`` (set by
  the first step of an erasure, so a half-done erasure is visible and its retry finishes it).
- consent: pk=CUSTOMER#{sub}, sk=CONSENT#{at:012d}#{seq:010d}: ``what``, ``action`` (given |
  withdrawn), ``at`` (epoch s), ``source``. Appended in the same transaction as the profile
  change it records, never rewritten: the history is what was expressed, in order. ``seq`` is
  the profile version the change wrote, so records of the same second still sort as made.
- devices: pk=CUSTOMER#{sub}, sk=DEVICE#{device_id}, kept by ``store/devices.py``.

Erasure's steps in this table are here; its writes to the Orders table (each order anonymised)
and the Carts table (each cart deleted) belong to ``store/orders.py`` and ``store/carts.py``,
the one writer of each of those items.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import boto3

from commerce.domain.consent import ConsentAction, ConsentRecord
from commerce.settings import get_settings
from commerce.store import kit
from commerce.store.tables.customers import ConsentModel, ProfileModel
from commerce.store.transactions import LabelledTransaction

_settings = get_settings()
PROFILE_SK: Final = "PROFILE"
CONSENT_SK_PREFIX: Final = "CONSENT#"


def customer_pk(sub: str) -> str:
    return f"CUSTOMER#{sub}"


def consent_sk(at: int, seq: int) -> str:
    """Consent records sort by time (zero-padded epoch seconds), then by the profile version
    that wrote them (unique: every profile write is conditioned on the version before)."""
    return f"{CONSENT_SK_PREFIX}{at:012d}#{seq:010d}"


# --- Profiles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A customer's profile as stored; ``notification_channels`` None means never chose."""

    customer_id: str
    email: str | None
    locale: str
    created_at: str
    updated_at: str
    version: int
    name: str | None = None
    phone: str | None = None
    marketing_consent: bool = False
    notification_channels: tuple[str, ...] | None = None
    erasing: bool = False

    def to_record(self) -> dict[str, Any]:
        """The profile's own fields (what the export shows), without storage keys."""
        record: dict[str, Any] = {
            "customer_id": self.customer_id,
            "email": self.email,
            "name": self.name,
            "phone": self.phone,
            "locale": self.locale,
            "marketing_consent": self.marketing_consent,
            "notification_channels": (
                list(self.notification_channels) if self.notification_channels is not None else None
            ),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        return {k: v for k, v in record.items() if v is not None}


def _profile(model: ProfileModel) -> Profile:
    channels = model.notification_channels
    return Profile(
        customer_id=model.customer_id,
        email=model.email,
        name=model.name,
        phone=model.phone,
        locale=model.locale,
        marketing_consent=bool(model.marketing_consent),
        notification_channels=tuple(str(c) for c in channels) if channels is not None else None,
        created_at=model.created_at,
        updated_at=model.updated_at,
        version=int(model.version),
        erasing=bool(model.erasing),
    )


def load_profile(sub: str) -> Profile | None:
    try:
        return _profile(ProfileModel.get(customer_pk(sub), PROFILE_SK, consistent_read=True))
    except ProfileModel.DoesNotExist:
        return None


def create_profile(profile: Profile) -> Profile:
    """Put the first profile of a customer; if another request created it first, that one.

    One conditional put (``attribute_not_exists(pk)``), so concurrent first calls leave exactly
    one profile and every caller gets it.
    """
    model = ProfileModel(
        customer_pk(profile.customer_id),
        PROFILE_SK,
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
        version=profile.version,
    )
    if kit.applied(lambda: model.save(condition=ProfileModel.pk.does_not_exist())):
        return profile
    existing = load_profile(profile.customer_id)
    if existing is None:  # created and erased in between: nothing to hand back
        raise RuntimeError(f"profile of {profile.customer_id} was created and erased meanwhile")
    return existing


@dataclass(frozen=True)
class ProfileChange:
    """What ``PATCH /me`` sets; ``clear_phone`` removes the phone. None leaves a field alone."""

    locale: str | None = None
    phone: str | None = None
    clear_phone: bool = False
    marketing_consent: bool | None = None
    notification_channels: tuple[str, ...] | None = None
    consents: Sequence[ConsentRecord] = field(default_factory=tuple)


def update_profile(current: Profile, change: ProfileChange, *, updated_at: str) -> bool:
    """Apply ``change`` to the profile read as ``current`` and append its consent records, in one
    transaction conditioned on the version read. False when someone else wrote first."""
    model = ProfileModel(customer_pk(current.customer_id), PROFILE_SK)
    actions: list[Any] = [
        ProfileModel.version.set(current.version + 1),
        ProfileModel.updated_at.set(updated_at),
    ]
    if change.locale is not None:
        actions.append(ProfileModel.locale.set(change.locale))
    if change.clear_phone:
        actions.append(ProfileModel.phone.remove())
    elif change.phone is not None:
        actions.append(ProfileModel.phone.set(change.phone))
    if change.marketing_consent is not None:
        actions.append(ProfileModel.marketing_consent.set(change.marketing_consent))
    if change.notification_channels is not None:
        actions.append(ProfileModel.notification_channels.set(list(change.notification_channels)))
    tx = LabelledTransaction()
    tx.update(
        "profile",
        model,
        actions,
        condition=(ProfileModel.version == current.version) & ProfileModel.erasing.does_not_exist(),
    )
    for index, record in enumerate(change.consents):
        record_id = f"{current.version + 1}-{index}"
        tx.put(
            f"consent:{record_id}",
            ConsentModel(
                customer_pk(current.customer_id),
                consent_sk(record.at, current.version + 1),
                customer_id=current.customer_id,
                consent_id=record_id,
                what=record.what,
                action=record.action.value,
                at=record.at,
                source=record.source,
            ),
            condition=ConsentModel.pk.does_not_exist(),
        )
    failures = tx.commit()
    if any(f.code == kit.CONDITION_FAILED and f.label == "profile" for f in failures):
        return False
    if failures:
        raise RuntimeError(f"profile update cancelled: {[f.code for f in failures]}")
    return True


# --- Consents ---------------------------------------------------------------------------------


def consent_history(sub: str) -> list[ConsentRecord]:
    """Every consent record of the customer, oldest first."""
    return [
        ConsentRecord(what=m.what, action=ConsentAction(m.action), at=int(m.at), source=m.source)
        for m in ConsentModel.query(
            customer_pk(sub),
            ConsentModel.sk.startswith(CONSENT_SK_PREFIX),
            consistent_read=True,
        )
    ]


# --- Erasure ----------------------------------------------------------------------------------


def mark_erasing(sub: str) -> None:
    """Step 1 of an erasure: the profile says so (no-op without a profile, or if already so)."""
    kit.applied(
        lambda: ProfileModel(customer_pk(sub), PROFILE_SK).update(
            actions=[ProfileModel.erasing.set(True)], condition=ProfileModel.pk.exists()
        )
    )


def delete_customer_records(sub: str) -> int:
    """Delete every record in the customer's partition but the profile, which goes last."""
    deleted = 0
    for model in _partition(sub):
        if model["sk"] == PROFILE_SK:
            continue
        _client().delete_item(
            TableName=_settings.customers_table,
            Key={"pk": {"S": model["pk"]}, "sk": {"S": model["sk"]}},
        )
        deleted += 1
    return deleted


def delete_profile(sub: str) -> None:
    """The last step of an erasure; deleting a missing profile is no error."""
    _client().delete_item(
        TableName=_settings.customers_table,
        Key={"pk": {"S": customer_pk(sub)}, "sk": {"S": PROFILE_SK}},
    )


def _partition(sub: str) -> Iterator[dict[str, Any]]:
    paginator = _client().get_paginator("query")
    for page in paginator.paginate(
        TableName=_settings.customers_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": customer_pk(sub)}},
        ConsistentRead=True,
        ProjectionExpression="pk, sk",
    ):
        for item in page["Items"]:
            yield {"pk": item["pk"]["S"], "sk": item["sk"]["S"]}


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("dynamodb", region_name=_settings.region)
