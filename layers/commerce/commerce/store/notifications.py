"""Sent-records of notifications: one claim per message, so a message is sent at most once.

Layout (CustomersTable, ``NotificationSentModel``): pk=NOTIFY#{dedupe_key}, sk=SENT, ``status``
SENDING | SENT, ``claimed_at`` (epoch s), ``sent_at``, ``ttl`` (30 days, housekeeping only).

The protocol (docs/notifications.md, "Exactly once"):

1. :func:`claim` puts SENDING with ``attribute_not_exists(pk) OR (status = SENDING AND
   claimed_at < stale)``: of two deliveries of one event exactly one sends; a claim left by a
   consumer that died mid-send is taken over once it is older than the queue's visibility
   timeout.
2. :func:`mark_sent` turns the claim into SENT, conditioned on still holding it.
3. :func:`release` deletes the claim after a failed send, so the queue's retry sends afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from commerce.store import keys, kit
from commerce.store.orders import StoredOrder, from_model
from commerce.store.tables.customers import NotificationSentModel
from commerce.store.tables.orders import OrderModel

SENDING: Final = "SENDING"
SENT: Final = "SENT"
#: How long a sent-record is kept: far past any redelivery of the event it guards.
RETENTION_SECONDS: Final = 30 * 24 * 60 * 60


def _row(dedupe_key: str) -> NotificationSentModel:
    return NotificationSentModel(keys.notify_pk(dedupe_key), keys.NOTIFY_SENT_SK)


@dataclass(frozen=True)
class MessageSummary:
    """What a customer's export says of one message: no address, no text."""

    customer_id: str
    channel: str
    template: str
    event_type: str
    ref: str | None


def claim(
    dedupe_key: str, *, now: int, stale_after: int, summary: MessageSummary | None = None
) -> bool:
    """Claim the message for sending; False when it was sent or is being sent right now.

    With a ``summary`` (a customer's own message) the record is also listed under the
    customer, so their export shows it and their erasure removes it.
    """
    item = _row(dedupe_key)
    item.status = SENDING
    item.claimed_at = now
    item.ttl = now + RETENTION_SECONDS
    if summary is not None:
        item.customer_id = summary.customer_id
        item.channel = summary.channel
        item.template = summary.template
        item.event_type = summary.event_type
        item.ref = summary.ref
        item.gsi1pk = keys.customer_messages_gsi1pk(summary.customer_id)
        item.gsi1sk = f"{now:012d}#{dedupe_key}"
    model = NotificationSentModel
    condition = model.pk.does_not_exist() | (
        (model.status == SENDING) & (model.claimed_at < now - stale_after)
    )
    return kit.applied(lambda: item.save(condition=condition))


def mark_sent(dedupe_key: str, *, claimed_at: int, now: int) -> bool:
    """Record the send; False if the claim was lost meanwhile (taken over as stale)."""
    model = NotificationSentModel
    return kit.applied(
        lambda: _row(dedupe_key).update(
            actions=[model.status.set(SENT), model.sent_at.set(now)],
            condition=(model.status == SENDING) & (model.claimed_at == claimed_at),
        )
    )


def release(dedupe_key: str, *, claimed_at: int) -> None:
    """Drop our claim after a failed send, so the next delivery may send."""
    model = NotificationSentModel
    kit.applied(
        lambda: _row(dedupe_key).delete(
            condition=(model.status == SENDING) & (model.claimed_at == claimed_at)
        )
    )


def status_of(dedupe_key: str) -> str | None:
    """The record's status (None when there is none): for tests and support."""
    try:
        item = NotificationSentModel.get(
            keys.notify_pk(dedupe_key), keys.NOTIFY_SENT_SK, consistent_read=True
        )
    except NotificationSentModel.DoesNotExist:
        return None
    return str(item.status)


def load_order_with_locale(order_id: str) -> tuple[StoredOrder, str | None] | None:
    """The order and the locale its messages use (the checkout's ``Accept-Language`` or the
    customer's stored locale, when checkout recorded one), in one consistent read."""
    try:
        row = OrderModel.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=True)
    except OrderModel.DoesNotExist:
        return None
    return from_model(row), row.locale


def _customer_rows(customer_id: str) -> Iterator[NotificationSentModel]:
    return NotificationSentModel.gsi1.query(keys.customer_messages_gsi1pk(customer_id))


def customer_messages(customer_id: str) -> list[dict[str, Any]]:
    """The customer's messages that were sent, oldest first, as their export lists them."""
    return [
        {
            "customer_id": customer_id,
            "channel": row.channel,
            "template": row.template,
            "event_type": row.event_type,
            "ref": row.ref,
            "sent_at": row.sent_at,
        }
        for row in _customer_rows(customer_id)
        if row.status == SENT
    ]


def delete_customer_messages(customer_id: str) -> int:
    """Forget every message record of the customer (erasure); safe to repeat."""
    deleted = 0
    for row in _customer_rows(customer_id):
        NotificationSentModel(row.pk, row.sk).delete()
        deleted += 1
    return deleted
