"""Push devices: which customer a device token belongs to, and its SNS platform endpoint.

Layout (CustomersTable):

- device: pk=CUSTOMER#{sub}, sk=DEVICE#{device_id}: ``platform``, ``device_token``,
  ``endpoint_arn`` (the SNS platform endpoint messages are published to), ``created_at``.
  ``device_id`` is derived from the sub and the token, so registering the same token twice is
  the same device.
- token owner: pk=PUSHTOKEN#{sha256(token)}, sk=OWNER: ``customer_id``, ``device_id``. A token
  identifies one app install; SNS keeps one endpoint per token, so the install belongs to whoever
  registered it last. Moving the token to a new customer deletes the previous customer's device
  in the same transaction, so a phone handed to someone else never shows them the first
  customer's orders.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from commerce.store.customers import customer_pk
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.customers import DeviceModel, TokenOwnerModel
from commerce.store.transactions import LabelledTransaction

DEVICE_SK_PREFIX: Final = "DEVICE#"
TOKEN_OWNER_SK: Final = "OWNER"  # noqa: S105 - a sort key, not a secret


def device_id_for(sub: str, token: str) -> str:
    """A stable id for one device token of one customer (the token itself stays out of keys)."""
    return hashlib.sha256(f"{sub}\n{token}".encode()).hexdigest()[:32]


def token_pk(token: str) -> str:
    return f"PUSHTOKEN#{hashlib.sha256(token.encode()).hexdigest()}"


@dataclass(frozen=True)
class Device:
    device_id: str
    platform: str
    device_token: str
    created_at: str
    endpoint_arn: str | None = None

    def to_record(self) -> dict[str, Any]:
        """What the customer's export shows (the endpoint is the shop's own resource name)."""
        return {
            "device_id": self.device_id,
            "platform": self.platform,
            "device_token": self.device_token,
            "created_at": self.created_at,
        }


def _device(model: DeviceModel) -> Device:
    return Device(
        model.device_id, model.platform, model.device_token, model.created_at, model.endpoint_arn
    )


def devices(sub: str) -> list[Device]:
    """Every device of the customer."""
    return [
        _device(m)
        for m in DeviceModel.query(
            customer_pk(sub), DeviceModel.sk.startswith(DEVICE_SK_PREFIX), consistent_read=True
        )
    ]


def load_device(sub: str, device_id: str) -> Device | None:
    try:
        model = DeviceModel.get(
            customer_pk(sub), f"{DEVICE_SK_PREFIX}{device_id}", consistent_read=True
        )
    except DeviceModel.DoesNotExist:
        return None
    return _device(model)


def token_owner(token: str) -> tuple[str, str] | None:
    """(customer_id, device_id) the token is registered to, if anyone."""
    try:
        model = TokenOwnerModel.get(token_pk(token), TOKEN_OWNER_SK, consistent_read=True)
    except TokenOwnerModel.DoesNotExist:
        return None
    return model.customer_id, model.device_id


class OwnerChanged(RuntimeError):
    """The token changed hands between reading its owner and writing: read again."""


def put_device(
    sub: str,
    platform: str,
    token: str,
    *,
    endpoint_arn: str,
    at: str,
    previous: tuple[str, str] | None,
) -> Device:
    """Store the device and make ``sub`` the token's owner, in one transaction.

    ``previous`` is the owner read before (``token_owner``); the write is conditioned on it, and a
    previous owner other than ``sub`` loses their device record for this token. ``OwnerChanged``
    when the owner moved meanwhile.
    """
    device = Device(device_id_for(sub, token), platform, token, at, endpoint_arn)
    tx = LabelledTransaction()
    tx.put(
        "device",
        DeviceModel(
            customer_pk(sub),
            f"{DEVICE_SK_PREFIX}{device.device_id}",
            customer_id=sub,
            device_id=device.device_id,
            platform=platform,
            device_token=token,
            endpoint_arn=endpoint_arn,
            created_at=at,
        ),
    )
    owner = TokenOwnerModel(
        token_pk(token), TOKEN_OWNER_SK, customer_id=sub, device_id=device.device_id
    )
    if previous is None:
        tx.put("owner", owner, condition=TokenOwnerModel.pk.does_not_exist())
    else:
        previous_sub, previous_device = previous
        tx.put(
            "owner",
            owner,
            condition=(TokenOwnerModel.customer_id == previous_sub)
            & (TokenOwnerModel.device_id == previous_device),
        )
        if previous_sub != sub:
            tx.delete(
                "previous",
                DeviceModel(customer_pk(previous_sub), f"{DEVICE_SK_PREFIX}{previous_device}"),
            )
    failures = tx.commit()
    if any(f.code == CONDITION_FAILED for f in failures):
        raise OwnerChanged(token_pk(token))
    if failures:
        raise RuntimeError(f"device registration cancelled: {[f.code for f in failures]}")
    return device


def delete_device(sub: str, device: Device) -> None:
    """Remove the device and, while ``sub`` still owns its token, the token's owner record.

    Deleting a device already gone is no error (a retried ``DELETE`` or erasure).
    """
    tx = LabelledTransaction()
    tx.delete("device", DeviceModel(customer_pk(sub), f"{DEVICE_SK_PREFIX}{device.device_id}"))
    tx.delete(
        "owner",
        TokenOwnerModel(token_pk(device.device_token), TOKEN_OWNER_SK),
        condition=TokenOwnerModel.pk.does_not_exist()
        | ((TokenOwnerModel.customer_id == sub) & (TokenOwnerModel.device_id == device.device_id)),
    )
    failures = tx.commit()
    if any(f.code == CONDITION_FAILED and f.label == "owner" for f in failures):
        # Someone else owns the token now (and the transfer deleted this device already):
        # only this customer's record may go.
        DeviceModel(customer_pk(sub), f"{DEVICE_SK_PREFIX}{device.device_id}").delete()
        return
    if failures:
        raise RuntimeError(f"device removal cancelled: {[f.code for f in failures]}")
