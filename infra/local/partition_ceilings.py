"""DynamoDB's per-partition-key ceilings, simulated in the DynamoDB proxy and scaled down.

On AWS one partition key value takes at most 1,000 write units and 3,000 read units a second,
on-demand or not; past that, calls on it are throttled while the rest of the table is not. DynamoDB
Local has no such ceiling, so a benchmark on it cannot show what spreading a hot item over
shards buys. This hook (``infra/local/dynamodb_proxy.py``) enforces the ceilings divided by a
scale (``--partition-scale 50``: 20 write and 60 read units a second per key) so that one
machine reaches them.

Counting, as AWS counts: the units of each item a call touches come from the metering's
estimate (``metering.item_units``: 1 KB write units with a put's item measured, 4 KB read units,
eventually consistent reads half, transactional reads and writes twice); a single-item call's
figure is then corrected by the ``ConsumedCapacity`` DynamoDB returns (an update's real item
size, a Query's pages). A Query counts against the partition key its key condition names, on
the table or on the index it reads; a Scan spans partitions and counts against none. Global
secondary index writes are not counted. A throttled call costs nothing; a call refused by its
condition costs what it would have written, as on AWS.

Each partition key of each table (and index) has a token bucket per direction that refills at
the ceiling and holds one second of it; a call goes through when every key it touches has the
units it needs (or a full bucket: one item larger than a second's units still passes, alone),
and takes them. Over the ceiling:

- a single-item call, a Query, or a batch none of whose keys may pass:
  ``ProvisionedThroughputExceededException`` with ``ThrottlingReasons``
  (``TableWriteKeyRangeThroughputExceeded`` or ``Table|IndexReadKeyRangeThroughputExceeded``
  and the table's ARN);
- a transaction (``TransactWriteItems``, ``TransactGetItems``): ``TransactionCanceledException``
  whose reason is ``ThrottlingError`` for each throttled item and ``None`` for the others;
- a batch some of whose keys may pass: those are forwarded, the others come back in
  ``UnprocessedKeys`` / ``UnprocessedItems``, as BatchGetItem and BatchWriteItem answer.

``PartitionCeilings.scale`` may change at run time (``/_local/faults``); None turns it off.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from infra.local import metering
from infra.local.dynamodb_proxy import (
    THROTTLING_ERROR,
    Call,
    Decision,
    Hook,
    table_arn,
    throughput_exceeded,
    transaction_canceled,
)

#: DynamoDB's ceilings per partition key, in units a second.
WRITE_UNITS_PER_KEY: Final = 1000.0
READ_UNITS_PER_KEY: Final = 3000.0
SINGLE_ITEM: Final = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"})
TRANSACTIONS: Final = frozenset({"TransactWriteItems", "TransactGetItems"})
BATCHES: Final = frozenset({"BatchGetItem", "BatchWriteItem"})
#: Where a call keeps what it took from each bucket, until ``settle``.
_NOTE: Final = "partition_ceilings"
_EQUALITY: Final = re.compile(r"(#?[A-Za-z0-9_.\-]+)\s*=\s*(:[A-Za-z0-9_]+)")

#: (table, index or None, partition key value as JSON, "read" | "write")
BucketKey = tuple[str, str | None, str, str]
#: The partition key attribute of a table or one of its indexes (None when unknown).
PartitionKeyOf = Callable[[str, str | None], str | None]


@dataclass
class Bucket:
    """Units a partition key may still spend this second."""

    rate: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def admits(self, units: float) -> bool:
        return self.tokens >= units or self.tokens >= self.rate


@dataclass(frozen=True)
class _Touch:
    """One item of a call, placed on its bucket."""

    position: int
    bucket: BucketKey | None
    units: float


class PartitionCeilings(Hook):
    """The hook: token buckets per partition key (see the module docstring)."""

    def __init__(
        self,
        partition_key: PartitionKeyOf,
        scale: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_throttle: Callable[[int], object] | None = None,
    ) -> None:
        self._partition_key = partition_key
        self._scale = scale
        self._clock = clock
        self._on_throttle = on_throttle
        self._buckets: dict[BucketKey, Bucket] = {}
        self._lock = threading.Lock()

    @property
    def scale(self) -> float | None:
        return self._scale

    @scale.setter
    def scale(self, value: float | None) -> None:
        with self._lock:
            if value != self._scale:
                self._scale = value
                self._buckets.clear()

    def ceiling(self, direction: str) -> float:
        """Units a second one partition key takes at the current scale."""
        full = WRITE_UNITS_PER_KEY if direction == "write" else READ_UNITS_PER_KEY
        return full / (self._scale or 1.0)

    # -- deciding ------------------------------------------------------------------------------
    def decide(self, call: Call) -> Decision | None:
        operation = call.operation
        if not self._scale or operation not in metering.CAPACITY_OPERATIONS:
            return None
        touches = self._touches(operation, call.params)
        with self._lock:
            now = self._clock()
            needed: dict[BucketKey, float] = {}
            for touch in touches:
                if touch.bucket is not None:
                    needed[touch.bucket] = needed.get(touch.bucket, 0.0) + touch.units
            refused = {k for k, units in needed.items() if not self._bucket(k, now).admits(units)}
            partial = operation in BATCHES and any(t.bucket not in refused for t in touches)
            if not refused or partial:
                taken = {k: units for k, units in needed.items() if k not in refused}
                for key, units in taken.items():
                    self._buckets[key].tokens -= units
                call.notes[_NOTE] = taken
        if not refused:
            # A single item's estimate is corrected by what DynamoDB says it consumed.
            measure = operation in SINGLE_ITEM and len(needed) == 1
            return Decision(measure=True) if measure else None
        if self._on_throttle is not None:
            self._on_throttle(1)
        if partial:
            return _partial_batch(operation, call.params, touches, refused)
        if operation in TRANSACTIONS:
            codes = [THROTTLING_ERROR if t.bucket in refused else None for t in touches]
            return Decision(error=transaction_canceled(codes))
        first = min(refused, key=str)
        return Decision(error=throughput_exceeded(_reason(first), table_arn(first[0], first[1])))

    def _bucket(self, key: BucketKey, now: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = self.ceiling(key[3])
            bucket = self._buckets[key] = Bucket(rate=rate, tokens=rate, stamp=now)
        bucket.refill(now)
        return bucket

    def _touches(self, operation: str, params: Mapping[str, Any]) -> list[_Touch]:
        direction = "read" if operation in metering.READS else "write"
        touches: list[_Touch] = []
        for position, units in enumerate(metering.item_units(operation, params)):
            amount = units.read if direction == "read" else units.write
            index = params.get("IndexName") if operation == "Query" else None
            value = self._partition_value(operation, params, units, index)
            bucket = None if value is None else (units.table, index, value, direction)
            touches.append(_Touch(position, bucket, amount))
        return touches

    def _partition_value(
        self,
        operation: str,
        params: Mapping[str, Any],
        units: metering.ItemUnits,
        index: str | None,
    ) -> str | None:
        name = self._partition_key(units.table, index) if units.table else None
        if name is None:
            return None
        if operation == "Query":
            return _queried_partition(params, name)
        value = (units.key or {}).get(name)
        return None if value is None else json.dumps(value, sort_keys=True)

    # -- settling --------------------------------------------------------------------------
    def settle(self, call: Call, response: Mapping[str, Any] | None) -> None:
        """Give back what a call refused by a later hook took; correct a single-item call's
        estimate by what DynamoDB says it consumed."""
        taken: dict[BucketKey, float] = call.notes.get(_NOTE) or {}
        if call.refused is not None:
            self._give(taken, lambda estimate: -estimate)
            return
        if len(taken) != 1 or response is None or call.operation not in SINGLE_ITEM:
            return
        consumed = metering.consumed_units(call.operation, response.get("ConsumedCapacity"))
        if consumed is not None:
            ((key, _),) = taken.items()
            actual = consumed[0] if key[3] == "read" else consumed[1]
            self._give(taken, lambda estimate: actual - estimate)

    def _give(self, taken: Mapping[BucketKey, float], extra: Callable[[float], float]) -> None:
        """Take ``extra(estimate)`` more units from each bucket a call took from."""
        with self._lock:
            for key, estimate in taken.items():
                bucket = self._buckets.get(key)
                if bucket is not None:
                    bucket.tokens -= extra(estimate)


def _reason(key: BucketKey) -> str:
    resource = "Index" if key[1] else "Table"
    return f"{resource}{key[3].capitalize()}KeyRangeThroughputExceeded"


def _queried_partition(params: Mapping[str, Any], attribute: str) -> str | None:
    """The partition key value a Query's key condition names (as JSON), if it names one."""
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for name, placeholder in _EQUALITY.findall(str(params.get("KeyConditionExpression", ""))):
        if names.get(name, name) == attribute and placeholder in values:
            return json.dumps(values[placeholder], sort_keys=True)
    return None


def _partial_batch(
    operation: str, params: Mapping[str, Any], touches: list[_Touch], refused: set[BucketKey]
) -> Decision:
    """Forward a batch without its throttled items; hand those back as unprocessed."""
    held_back = {t.position for t in touches if t.bucket in refused}
    forwarded: dict[str, Any] = {}
    unprocessed: dict[str, Any] = {}
    position = 0
    for table, spec in (params.get("RequestItems") or {}).items():
        entries = spec["Keys"] if operation == "BatchGetItem" else spec
        kept, held = [], []
        for entry in entries:
            (held if position in held_back else kept).append(entry)
            position += 1
        if operation == "BatchGetItem":
            if kept:
                forwarded[table] = {**spec, "Keys": kept}
            if held:
                unprocessed[table] = {**spec, "Keys": held}
        else:
            if kept:
                forwarded[table] = kept
            if held:
                unprocessed[table] = held
    return Decision(params={**params, "RequestItems": forwarded}, unprocessed=unprocessed)
