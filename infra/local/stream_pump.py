"""DynamoDB stream event sources: Lambda's stream poller, over DynamoDB Local's Streams API.

For each ``DynamoDB`` event of a function whose table declares a ``StreamSpecification``, one
poller reads the stream's shards in order (a parent shard before its children) with the
``dynamodbstreams`` client at DynamoDB Local's own endpoint, and hands batches to the function
as Lambda does:

- **batching**: up to ``BatchSize`` records, waiting at most ``MaximumBatchingWindowInSeconds``
  for a batch to fill; the shard's records are never reordered, and the next batch waits for
  the one before it to be done;
- **filtering**: records that match none of ``FilterCriteria``'s patterns are dropped before the
  function sees them (as Lambda does: they count as processed). Patterns support exact values,
  ``prefix``, ``exists`` and ``anything-but`` lists, the forms the template uses and more;
- **starting position**: ``TRIM_HORIZON`` or ``LATEST`` for the shards there are at start;
  shards that appear later are read from their beginning;
- **partial failures** (``ReportBatchItemFailures``): the batch is retried from the lowest
  reported sequence number; a malformed or foreign identifier fails the whole batch;
- **errors**: a handler that raises (or times out, or dies) fails the batch; with
  ``BisectBatchOnFunctionError`` a failed batch of more than one record is split in two and
  each half tried on its own;
- **retries and destination**: after ``MaximumRetryAttempts`` retries (-1: until the record
  expires) or past ``MaximumRecordAgeInSeconds``, the batch's description goes to the
  ``DestinationConfig.OnFailure`` queue in Lambda's own format, and the shard goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local.functions import FunctionSpec
from infra.local.resources import CreatedResources
from infra.local.template import Resolver
from infra.local.workers import FunctionPool, InvokeError

log = logging.getLogger("infra.local.streams")

#: How often an idle shard is polled (Lambda polls each shard about four times a second).
POLL_INTERVAL = 0.25
#: How often the stream is described again for new shards.
SHARDS_REFRESH = 5.0
#: The pause before a failed batch is tried again: doubling from this, at most RETRY_CAP.
RETRY_BASE = 0.1
RETRY_CAP = 2.0


@dataclass
class StreamMapping:
    """One DynamoDB stream event of one function."""

    function: str
    function_arn: str
    table_logical_id: str
    stream_arn: str
    batch_size: int = 100
    batching_window: float = 0.0
    starting_position: str = "LATEST"
    report_failures: bool = False
    bisect: bool = False
    max_retries: int = -1
    max_record_age: int = -1
    destination_url: str | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)
    enabled: bool = True


def _table_of(stream: Any) -> str | None:
    """The table logical id of ``!GetAtt Table.StreamArn``."""
    if isinstance(stream, dict) and "Fn::GetAtt" in stream:
        target = stream["Fn::GetAtt"]
        parts = target if isinstance(target, list) else str(target).split(".", 1)
        if len(parts) == 2 and parts[1] in ("StreamArn", "LatestStreamArn"):
            return str(parts[0])
    return None


def _queue_url(arn: str, created: CreatedResources) -> str | None:
    name = arn.rsplit(":", 1)[-1]
    return next((url for url in created.queues.values() if url.rsplit("/", 1)[-1] == name), None)


def load_stream_mappings(
    functions: list[FunctionSpec], created: CreatedResources, resolver: Resolver
) -> list[StreamMapping]:
    """Every DynamoDB stream event whose table the template declares with a stream."""
    mappings: list[StreamMapping] = []
    for function in functions:
        for name, event in function.events.items():
            if not isinstance(event, dict) or event.get("Type") != "DynamoDB":
                continue
            raw = event.get("Properties") or {}
            table = _table_of(raw.get("Stream"))
            if table is None or table not in created.streams:
                log.warning("%s.%s: its table declares no stream", function.logical_id, name)
                continue
            props = resolver.resolve(raw)
            destination = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
            patterns = [
                json.loads(f["Pattern"])
                for f in (props.get("FilterCriteria") or {}).get("Filters") or []
                if f.get("Pattern")
            ]
            mappings.append(
                StreamMapping(
                    function=function.logical_id,
                    function_arn=function.arn,
                    table_logical_id=table,
                    stream_arn=created.streams[table],
                    batch_size=int(props.get("BatchSize", 100)),
                    batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    starting_position=str(props.get("StartingPosition", "LATEST")),
                    report_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    bisect=props.get("BisectBatchOnFunctionError") in (True, "true", "True"),
                    max_retries=int(props.get("MaximumRetryAttempts", -1)),
                    max_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
                    destination_url=(
                        _queue_url(str(destination["Destination"]), created)
                        if destination.get("Destination")
                        else None
                    ),
                    filters=patterns,
                    enabled=props.get("Enabled", True) not in (False, "false", "False"),
                )
            )
    return mappings


# --- Filter patterns (Lambda event filtering, the EventBridge pattern language) ----------------


def _value_matches(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return bool(rule["exists"]) is present
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(str(rule["prefix"]))
        if "anything-but" in rule:
            refused = rule["anything-but"]
            refused = refused if isinstance(refused, list) else [refused]
            return present and value not in refused
        raise ValueError(f"unsupported filter rule {rule}")
    return present and value == rule


def pattern_matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether ``record`` matches one filter pattern (every key of it)."""
    for key, expected in pattern.items():
        present = key in record
        value = record.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not pattern_matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not any(_value_matches(rule, value, present) for rule in expected):
                return False
        else:
            raise ValueError(f"a filter pattern's leaf must be a list, not {expected!r}")
    return True


def passes(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """No filters pass everything; otherwise any one matching pattern does."""
    return not filters or any(pattern_matches(p, record) for p in filters)


# --- Records as Lambda hands them over ---------------------------------------------------------


def _epoch(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    return int(float(value))


def lambda_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's DynamoDB event, from a GetRecords result."""
    change = dict(raw.get("dynamodb") or {})
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = _epoch(change["ApproximateCreationDateTime"])
    return {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def _sequence(record: Mapping[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def failed_from(records: Sequence[Mapping[str, Any]], result: Any) -> int | None:
    """Where a batch must be tried again from, by Lambda's rule for a successful invocation:
    None when every record is done; 0 (all of it) for a malformed response."""
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return 0
    positions = {_sequence(record): index for index, record in enumerate(records)}
    found: list[int] = []
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or str(item) not in positions:
            return 0
        found.append(positions[str(item)])
    return min(found) if found else None


def batch_info(
    records: Sequence[Mapping[str, Any]], shard_id: str, stream_arn: str
) -> dict[str, Any]:
    """``DDBStreamBatchInfo`` of an on-failure destination message."""

    def arrival(record: Mapping[str, Any]) -> str:
        at = record["dynamodb"].get("ApproximateCreationDateTime", 0)
        return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "shardId": shard_id,
        "startSequenceNumber": _sequence(records[0]),
        "endSequenceNumber": _sequence(records[-1]),
        "approximateArrivalOfFirstRecord": arrival(records[0]),
        "approximateArrivalOfLastRecord": arrival(records[-1]),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }


@dataclass
class Shard:
    """A shard being read: its iterator, and the last record handed to the function."""

    shard_id: str
    parent: str | None
    position: str  # where reading starts while nothing was delivered: TRIM_HORIZON or LATEST
    iterator: str | None = None
    closed: bool = False
    checkpoint: str | None = None


class StreamPump:
    """One mapping's poller: its shards read one batch at a time, in order."""

    def __init__(
        self,
        mapping: StreamMapping,
        pool: FunctionPool,
        streams: Any,
        sqs: Any,
        *,
        region: str = "us-east-1",
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.mapping = mapping
        self.pool = pool
        self.streams = streams
        self.sqs = sqs
        self.region = region
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread: threading.Thread | None = None
        self._shards: dict[str, Shard] = {}
        self._described = 0.0
        self.delivered = 0  # records the function was handed, for tests and logs
        self.dead_lettered = 0  # batches sent to the on-failure destination

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if not self.mapping.enabled:
            return
        self._refresh_shards(initial=True)
        self._thread = threading.Thread(
            target=self._run, name=f"stream-{self.mapping.function}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(POLL_INTERVAL)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("stream poller for %s failed; retrying", self.mapping.function)
                self._stop.wait(1.0)

    # -- shards --------------------------------------------------------------------------------
    def _refresh_shards(self, initial: bool = False) -> None:
        described = self.streams.describe_stream(StreamArn=self.mapping.stream_arn)
        for raw in described["StreamDescription"].get("Shards") or []:
            shard_id = raw["ShardId"]
            if shard_id in self._shards:
                continue
            position = self.mapping.starting_position if initial else "TRIM_HORIZON"
            shard = Shard(shard_id, raw.get("ParentShardId"), position)
            self._acquire(shard)
            self._shards[shard_id] = shard
        self._described = time.monotonic()

    def _acquire(self, shard: Shard) -> None:
        """A fresh iterator: just after the last record delivered, else the start position.

        DynamoDB Local numbers stream records across all its tables, and an iterator taken on
        an empty shard can then point before the shard's first record, which it answers with
        TrimmedDataAccessException; an iterator also expires after 15 minutes. Either way the
        shard is read again from where delivery stopped, so nothing is skipped or repeated.
        """
        kwargs: dict[str, Any] = {"StreamArn": self.mapping.stream_arn, "ShardId": shard.shard_id}
        if shard.checkpoint is not None:
            kwargs |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": shard.checkpoint,
            }
        else:
            kwargs["ShardIteratorType"] = shard.position
            shard.position = "TRIM_HORIZON"  # LATEST holds only for the first iterator
        shard.iterator = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]
        shard.closed = False

    def _ready(self) -> list[Shard]:
        """Open shards whose parent (if we know it) is read to its end."""
        return [
            s
            for s in self._shards.values()
            if not s.closed
            and (s.parent is None or s.parent not in self._shards or self._shards[s.parent].closed)
        ]

    # -- polling -------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Read each ready shard once and deliver what it had; returns the records read."""
        if time.monotonic() - self._described > SHARDS_REFRESH:
            self._refresh_shards()
        read = 0
        for shard in self._ready():
            read += self._poll_shard(shard)
        return read

    def _get(self, shard: Shard, limit: int) -> list[dict[str, Any]]:
        if shard.iterator is None:
            shard.closed = True
            return []
        errors = self.streams.exceptions
        try:
            answer = self.streams.get_records(ShardIterator=shard.iterator, Limit=limit)
        except (errors.TrimmedDataAccessException, errors.ExpiredIteratorException):
            self._acquire(shard)
            answer = self.streams.get_records(ShardIterator=shard.iterator, Limit=limit)
        shard.iterator = answer.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        return list(answer.get("Records") or [])

    def _poll_shard(self, shard: Shard) -> int:
        m = self.mapping
        batch = [
            lambda_record(r, m.stream_arn, self.region) for r in self._get(shard, m.batch_size)
        ]
        if not batch:
            return 0
        deadline = time.monotonic() + m.batching_window
        while len(batch) < m.batch_size and not shard.closed and time.monotonic() < deadline:
            more = self._get(shard, m.batch_size - len(batch))
            if not more:
                self._stop.wait(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
                continue
            batch += [lambda_record(r, m.stream_arn, self.region) for r in more]
        try:
            self.deliver(batch, shard.shard_id)
        except BaseException:
            self._acquire(shard)  # read this batch again on the next poll
            raise
        shard.checkpoint = _sequence(batch[-1])
        return len(batch)

    # -- delivery ------------------------------------------------------------------------------
    def deliver(self, records: list[dict[str, Any]], shard_id: str) -> None:
        """Hand ``records`` (one shard's, in order) to the function by Lambda's rules; returns
        when each is done: processed, filtered out, or described to the destination."""
        kept = [r for r in records if passes(self.mapping.filters, r)]
        if kept:
            self._attempt(kept, shard_id, retries=0)

    def _expired(self, records: list[dict[str, Any]]) -> int:
        """How many leading records are past MaximumRecordAgeInSeconds."""
        limit = self.mapping.max_record_age
        if limit < 0:
            return 0
        now = time.time()
        count = 0
        for record in records:
            if now - record["dynamodb"].get("ApproximateCreationDateTime", now) <= limit:
                break
            count += 1
        return count

    def _attempt(self, pending: list[dict[str, Any]], shard_id: str, retries: int) -> None:
        m = self.mapping
        while pending and not self._stop.is_set():
            expired = self._expired(pending)
            if expired:
                self._give_up(pending[:expired], shard_id, "RecordAgeExceeded", retries)
                pending = pending[expired:]
                continue
            ok, result = self._invoke(pending)
            self.delivered += len(pending)
            if ok:
                start = failed_from(pending, result) if m.report_failures else None
                if start is None:
                    return
                pending = pending[start:]  # retried from the first failed record
            elif m.bisect and len(pending) > 1:
                half = len(pending) // 2
                self._attempt(pending[:half], shard_id, retries)
                self._attempt(pending[half:], shard_id, retries)
                return
            retries += 1
            if 0 <= m.max_retries < retries:
                self._give_up(pending, shard_id, "RetryAttemptsExhausted", retries)
                return
            self._sleep(min(RETRY_CAP, RETRY_BASE * 2 ** (retries - 1)))

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[bool, Any]:
        try:
            result = self.pool.invoke({"Records": records})
        except InvokeError as error:
            if not self._stop.is_set():
                log.error("%s failed on a stream batch: %s", self.mapping.function, error)
            return False, None
        if not result.ok:
            log.error("%s raised on a stream batch: %s", self.mapping.function, result.payload)
        return result.ok, result.payload

    def _give_up(
        self, records: list[dict[str, Any]], shard_id: str, condition: str, invokes: int
    ) -> None:
        """Lambda's on-failure record for a batch it stops retrying, then the shard goes on."""
        self.dead_lettered += 1
        log.error(
            "%s: %d stream record(s) given up (%s)", self.mapping.function, len(records), condition
        )
        if self.mapping.destination_url is None:
            return
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.mapping.function_arn,
                "condition": condition,
                "approximateInvokeCount": invokes,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "DDBStreamBatchInfo": batch_info(records, shard_id, self.mapping.stream_arn),
        }
        self.sqs.send_message(QueueUrl=self.mapping.destination_url, MessageBody=json.dumps(body))
