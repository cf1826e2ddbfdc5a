"""Taking messages off an SQS queue in tests, the same way in every layer of the suite.

``drain`` receives and deletes every message waiting on a queue (moto or the stack's emulator)
and hands back the raw messages, with their attributes when asked for, so each test decodes
only what it looks at.
"""

from __future__ import annotations

import json
from typing import Any


def drain(sqs: Any, url: str, *, attributes: bool = False) -> list[dict[str, Any]]:
    """Every message waiting on ``url``, received and deleted, in the order received. With
    ``attributes``, each carries its message attributes and ApproximateReceiveCount."""
    extra: dict[str, Any] = {}
    if attributes:
        extra = {
            "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
    taken: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **extra).get(
            "Messages", []
        )
        if not batch:
            return taken
        for message in batch:
            taken.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def events_on(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The domain events waiting on ``url`` (drained), each body with its ``event_type``
    message attribute attached as ``_event_type``."""
    found: list[dict[str, Any]] = []
    for message in drain(sqs, url, attributes=True):
        body = json.loads(message["Body"])
        body["_event_type"] = message["MessageAttributes"]["event_type"]["StringValue"]
        found.append(body)
    return found
