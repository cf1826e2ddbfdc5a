"""The webhook replay guard: one item per (sender, event id), written once.

pk=WEBHOOK#{sender}#{event_id}, sk=WEBHOOK in the Orders table (``WebhookEventModel``), put with
``attribute_not_exists``: of two deliveries of one event, exactly one writes it and acts. The
guard of an event whose action then failed is removed again, so the sender's retry is judged
afresh; only events acted upon are remembered. ``ttl`` (7 days, well past the 5-minute
signature tolerance that bounds any replay) only tidies the table.
"""

from __future__ import annotations

from typing import Final

from commerce.store import keys, kit
from commerce.store.tables.orders import WebhookEventModel

#: How long a webhook event is remembered (the signature stops replays older than 5 minutes).
RETENTION_SECONDS: Final = 7 * 24 * 60 * 60


def _row(sender: str, event_id: str) -> WebhookEventModel:
    return WebhookEventModel(keys.webhook_pk(sender, event_id), keys.WEBHOOK_SK)


def record_once(sender: str, event_id: str, *, now: int, received_at: str) -> bool:
    """Remember the event; False when it was already remembered (a replay)."""
    item = _row(sender, event_id)
    item.sender = sender
    item.event_id = event_id
    item.received_at = received_at
    item.ttl = now + RETENTION_SECONDS
    return kit.applied(lambda: item.save(condition=WebhookEventModel.pk.does_not_exist()))


def forget(sender: str, event_id: str) -> None:
    """Drop the guard of an event whose action failed, so a retry of it is not a replay."""
    _row(sender, event_id).delete()
