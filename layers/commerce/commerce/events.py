"""Domain events out of the system: one small port, an SQS adapter, and an in-memory double.

Services say *what happened* (``DomainEvent``) and hand it to ``publisher()``; they never build
SQS calls. The default publisher sends to the notifications queue named by settings
(``NOTIFICATIONS_QUEUE_URL``); tests and the local stack may swap it with ``use_publisher``.

Delivery is at least once: a consumer must treat ``event_id`` as the idempotency key. Producers
therefore derive it from the fact itself (``stable_event_id``), never from a random number, so a
re-sent event carries the same id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from commerce.ports import Adapter
from commerce.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

#: Message attribute that names the event type, so consumers and subscriptions can filter.
EVENT_TYPE_ATTRIBUTE = "event_type"


class EventPublishError(RuntimeError):
    """The event could not be handed to the queue (not configured, or the send failed)."""


def stable_event_id(*parts: str) -> str:
    """An id that the same fact always gets: sha256 of its identifying parts."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened, as consumers receive it (JSON message body)."""

    event_id: str
    type: str
    occurred_at: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "data": dict(self.data),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_message(), separators=(",", ":"), ensure_ascii=False)


class EventPublisher(Protocol):
    """Where domain events go. ``publish`` returns once the event is durably accepted."""

    def publish(self, event: DomainEvent) -> None: ...


class SqsEventPublisher:
    """Sends each event as one SQS message, its type also as the ``event_type`` attribute.

    The boto3 client is created on first publish, not at import: functions that never emit an
    event pay nothing for it at cold start. The endpoint comes from botocore's own variables
    (``AWS_ENDPOINT_URL_SQS`` locally), so there is no local branch here.
    """

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3  # deferred: only publishers need it

            self._client = boto3.client("sqs", region_name=get_settings().region)
        return self._client

    def publish(self, event: DomainEvent) -> None:
        if not self.queue_url:
            raise EventPublishError("no queue URL configured for domain events")
        try:
            self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=event.to_json(),
                MessageAttributes={
                    EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event.type}
                },
            )
        except Exception as error:  # botocore's errors share no useful base with ours
            raise EventPublishError(f"could not send {event.type} {event.event_id}") from error


@dataclass
class MemoryEventPublisher:
    """Keeps events in a list: for unit tests of services that emit events."""

    events: list[DomainEvent] = field(default_factory=list)

    def publish(self, event: DomainEvent) -> None:
        self.events.append(event)


def _sqs_publisher() -> EventPublisher:
    return SqsEventPublisher(get_settings().notifications_queue_url)


#: The process's publisher: SQS to the notifications queue unless one was installed
#: (``use_publisher``).
publisher: Final = Adapter[EventPublisher](_sqs_publisher)
use_publisher: Final = publisher.use
