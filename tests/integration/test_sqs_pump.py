"""The local SQS poller against moto: a message received during a long poll that began before
the queue's VisibilityTimeout changed is hidden for the new timeout, as SQS does.

The function behind the pump is a pool of our own port (``FunctionPool``'s ``invoke`` and
``max_size``) that fails every batch and records when it was called, so each failure leaves the
message to come back once its visibility timeout has passed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.sqs_pump import LONG_POLL_SECONDS, Mapping, SqsPump
from infra.local.workers import InvokeResult

pytestmark = pytest.mark.integration

#: The queue's timeout when the poll begins: long enough that a message hidden for it cannot
#: come back during the test.
OLD_TIMEOUT = 60
NEW_TIMEOUT = 1


class FailingPool:
    """Every batch fails (the handler raised), so nothing is deleted."""

    max_size = 1

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.called = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> InvokeResult:
        with self.called:
            self.calls.append(time.monotonic())
            self.called.notify_all()
        return InvokeResult(ok=False, payload={"errorType": "Boom", "errorMessage": "failed"})

    def wait_for(self, count: int, timeout: float) -> list[float]:
        with self.called:
            self.called.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def test_a_timeout_lowered_during_a_long_poll_applies_to_what_it_receives(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="pumped", Attributes={"VisibilityTimeout": str(OLD_TIMEOUT)})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pool = FailingPool()
    pump = SqsPump(Mapping("Fn", "Pumped", url, arn), pool, sqs)  # type: ignore[arg-type]
    pump.start()
    try:
        time.sleep(0.5)  # the poller is now inside a long poll begun under the old timeout
        assert LONG_POLL_SECONDS > 5
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(NEW_TIMEOUT)})
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        calls = pool.wait_for(2, timeout=OLD_TIMEOUT / 3)
    finally:
        pump.stop()
    # Received, failed, hidden for the new timeout and received again: long before the old
    # timeout could have let it back.
    assert len(calls) >= 2, calls
    assert calls[1] - calls[0] < OLD_TIMEOUT / 3
    assert calls[1] - calls[0] >= NEW_TIMEOUT - 0.5
