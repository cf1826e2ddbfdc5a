"""The campaigns queue's messages and the queue itself, a port: what starting a campaign needs.

``POST /admin/campaigns`` (``analytics.campaigns``) queues a campaign's first expansion and
nothing more, so it imports this and not the consumer (``campaign_queue``), which renders and
sends and would bring the notifications stack into the API function's cold start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Protocol

from commerce.ports import Adapter
from commerce.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

#: SendMessageBatch takes at most this many entries.
_SQS_BATCH: Final = 10


def expand_message(campaign_id: str, page: int, start: str | None) -> str:
    return json.dumps(
        {"kind": "expand", "campaign_id": campaign_id, "page": page, "start": start},
        separators=(",", ":"),
    )


def deliver_message(campaign_id: str, customer_id: str) -> str:
    return json.dumps(
        {"kind": "deliver", "campaign_id": campaign_id, "customer_id": customer_id},
        separators=(",", ":"),
    )


@lru_cache(maxsize=1)
def _sqs() -> SQSClient:
    import boto3  # deferred: only a send needs it

    return boto3.client("sqs", region_name=get_settings().region)


class WorkQueue(Protocol):
    """Where campaign work waits; ``send`` raises unless every message was accepted."""

    def send(self, bodies: Sequence[str]) -> None: ...


class SqsWorkQueue:
    """The campaigns queue named by settings (``CAMPAIGNS_QUEUE_URL``)."""

    def send(self, bodies: Sequence[str]) -> None:
        url = get_settings().campaigns_queue_url
        for start in range(0, len(bodies), _SQS_BATCH):
            chunk = bodies[start : start + _SQS_BATCH]
            answer = _sqs().send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
            )
            if answer.get("Failed"):
                raise ConnectionError(f"the campaigns queue refused {len(answer['Failed'])}")


@dataclass
class MemoryWorkQueue:
    """Keeps the bodies sent, in order (service tests)."""

    sent: list[str] = field(default_factory=list)

    def send(self, bodies: Sequence[str]) -> None:
        self.sent.extend(bodies)


work_queue: Final = Adapter[WorkQueue](SqsWorkQueue)
