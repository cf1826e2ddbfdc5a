"""SQS event source mappings: Lambda's poller, with its batch semantics.

For each SQS event of a function: receive up to BatchSize messages, invoke the function with
one SQS event, then delete what succeeded. At most ScalingConfig.MaximumConcurrency batches run
at a time when the event sets it (else as many as the function has workers). With
ReportBatchItemFailures only the reported items stay; a handler error leaves the whole batch.
What stays becomes visible again after the queue's visibility timeout, and moto moves it to the
dead-letter queue once its receive count passes the redrive policy's maxReceiveCount, as SQS
does. With ``sqs_duplicates`` on (``infra/local/faults.py``), a record is also delivered a second
time, in another invocation started at the same moment: SQS's at-least-once delivery, made
likely. The duplicate deletes nothing: the first delivery's outcome decides what stays.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from infra.local.faults import SQS_DUPLICATED, Faults
from infra.local.functions import FunctionSpec
from infra.local.resources import CreatedResources
from infra.local.template import ACCOUNT_ID, REGION, Resolver
from infra.local.workers import FunctionPool, InvokeError

log = logging.getLogger("infra.local.sqs")

#: Seconds a poller's first receive waits for a message, as Lambda's own pollers long-poll: a
#: message is answered the moment it arrives, and an idle queue costs one request per poller
#: every 20 s instead of every second (the stack's idle CPU went mostly to those requests).
LONG_POLL_SECONDS = 20
#: How long ``stop`` waits for the pollers, all together: one busy with a batch finishes it; one
#: in a long poll is left to end with the emulator (the threads are daemons).
STOP_GRACE_SECONDS = 0.5


@dataclass
class Mapping:
    """One SQS event of one function."""

    function: str
    queue_logical_id: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window: float = 0.0
    report_failures: bool = False
    enabled: bool = True
    #: ScalingConfig.MaximumConcurrency: at most this many batches at a time (None: no cap).
    max_concurrency: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _queue_logical_id(queue: Any) -> str | None:
    if isinstance(queue, dict):
        if "Fn::GetAtt" in queue:
            target = queue["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
        if "Ref" in queue:
            return str(queue["Ref"])
    return None


def load_mappings(
    functions: list[FunctionSpec], created: CreatedResources, resolver: Resolver | None = None
) -> list[Mapping]:
    """Every SQS event whose queue the template declares; ``resolver`` resolves a
    ``ScalingConfig`` given by parameters and conditions."""
    mappings: list[Mapping] = []
    for function in functions:
        for name, event in function.events.items():
            if not isinstance(event, dict) or event.get("Type") != "SQS":
                continue
            props = event.get("Properties") or {}
            logical = _queue_logical_id(props.get("Queue"))
            if logical is None or logical not in created.queues:
                log.warning("%s.%s: queue not declared in the template", function.logical_id, name)
                continue
            url = created.queues[logical]
            mappings.append(
                Mapping(
                    function=function.logical_id,
                    queue_logical_id=logical,
                    queue_url=url,
                    queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{url.rsplit('/', 1)[-1]}",
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    enabled=props.get("Enabled", True) not in (False, "false", "False"),
                    max_concurrency=_max_concurrency(props, resolver),
                )
            )
    return mappings


def _max_concurrency(props: dict[str, Any], resolver: Resolver | None) -> int | None:
    config = props.get("ScalingConfig")
    if resolver is not None:
        config = resolver.resolve(config)
    value = (config if isinstance(config, dict) else {}).get("MaximumConcurrency")
    return int(value) if value is not None else None


def sqs_record(message: dict[str, Any], mapping: Mapping) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a ReceiveMessage result."""
    attributes = {str(k): str(v) for k, v in (message.get("Attributes") or {}).items()}
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        message_attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": REGION,
    }


def messages_to_delete(
    records: list[dict[str, Any]], result: Any, report_failures: bool
) -> list[dict[str, Any]]:
    """Lambda's rule for what a successful invocation consumed.

    With ReportBatchItemFailures, the listed items stay; an item id that is not in the batch
    (or a malformed response) fails the whole batch.
    """
    if not report_failures or not isinstance(result, dict):
        return records
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return []
    ids = {record["messageId"] for record in records}
    failed: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or item not in ids:
            return []
        failed.add(str(item))
    return [record for record in records if record["messageId"] not in failed]


class SqsPump:
    """Pollers for one mapping: as many threads as the function may run workers."""

    def __init__(
        self, mapping: Mapping, pool: FunctionPool, sqs: Any, faults: Faults | None = None
    ) -> None:
        self.mapping = mapping
        self.pool = pool
        self.sqs = sqs
        self.faults = faults
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self.mapping.enabled:
            return
        pollers = self.pool.max_size
        if self.mapping.max_concurrency is not None:
            pollers = max(1, min(pollers, self.mapping.max_concurrency))
        for index in range(pollers):
            thread = threading.Thread(
                target=self._run,
                name=f"sqs-{self.mapping.function}-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _visibility_timeout(self) -> int:
        answer = self.sqs.get_queue_attributes(
            QueueUrl=self.mapping.queue_url, AttributeNames=["VisibilityTimeout"]
        )
        return int(answer["Attributes"]["VisibilityTimeout"])

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        wait = LONG_POLL_SECONDS
        applied = self._visibility_timeout()
        while len(messages) < self.mapping.batch_size and not self._stop.is_set():
            response = self.sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = response.get("Messages") or []
            if not batch:
                break
            messages.extend(batch)
            wait = 0
        if messages:
            self._apply_current_visibility(messages, applied)
        return messages

    def _apply_current_visibility(self, messages: list[dict[str, Any]], applied: int) -> None:
        """SQS hides a received message for the queue's VisibilityTimeout as it is when the
        message is received; moto takes it as it was when the receive began. A long poll spans
        a change (a test lowers a queue's timeout to see retries sooner), so messages received
        across one get the timeout the queue has now."""
        current = self._visibility_timeout()
        if current == applied:
            return
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": current}
            for i, m in enumerate(messages)
        ]
        for start in range(0, len(entries), 10):  # at most 10 entries per call
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.mapping.queue_url, Entries=entries[start : start + 10]
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("SQS poller for %s failed; retrying", self.mapping.function)
                self._stop.wait(1.0)

    def _deliver_again(self, records: list[dict[str, Any]]) -> None:
        """Hand ``records`` to the function once more, now, from another thread."""
        if not records or self.faults is None:
            return
        self.faults.record(SQS_DUPLICATED, len(records))

        def deliver() -> None:
            try:
                self.pool.invoke({"Records": records})
            except InvokeError:
                log.info("%s: a duplicate delivery found no worker", self.mapping.function)

        threading.Thread(
            target=deliver, name=f"sqs-duplicate-{self.mapping.function}", daemon=True
        ).start()

    def poll_once(self) -> int:
        """Receive one batch, invoke, delete what was consumed; returns the batch size."""
        messages = self._receive()
        if not messages:
            return 0
        records = [sqs_record(message, self.mapping) for message in messages]
        self._deliver_again([r for r in records if self.faults and self.faults.duplicate()])
        try:
            result = self.pool.invoke({"Records": records})
        except InvokeError:
            if self._stop.is_set():
                return len(records)
            log.exception("%s failed on an SQS batch", self.mapping.function)
            return len(records)
        if not result.ok:
            log.error("%s raised on an SQS batch: %s", self.mapping.function, result.payload)
            return len(records)
        done = messages_to_delete(records, result.payload, self.mapping.report_failures)
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": record["receiptHandle"]}
                    for i, record in enumerate(chunk)
                ],
            )
        return len(records)
