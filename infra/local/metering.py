"""Opt-in metering of the local stack: what a flow costs in AWS requests and capacity units.

Off unless the stack is started with ``--metering-dir DIR`` (or ``LOCAL_METERING_DIR=DIR``);
nothing here runs, and nothing is patched, otherwise. When on, every process appends JSON lines
to its own file in DIR (``<role>-<pid>.jsonl``, one line per fact, flushed at once):

- ``dispatch`` (the stack process, in ``FunctionPool.invoke``, the one place the gateway, the SQS
  pollers and the schedules hand an event to a function): function, request id, source
  (``api``, ``sqs`` with its record count, ``schedule``, ``other``), wall milliseconds, outcome.
- ``invoke`` (the function's worker, around the handler call): function, request id, source,
  handler milliseconds (what Lambda bills), ok.
- ``call`` (the function's worker, from a wrapper around botocore's
  ``BaseClient._make_api_call``, through which boto3 and PynamoDB both go): service, operation,
  the request id of the invocation it belongs to (None during init), error code if any, and
  for DynamoDB the read and write request units it consumed, split by table (``by_table``)
  and by item (``items``: table, key, units; what a hot key such as a stock shard takes);
  for SQS sends, the message count, body bytes and queue name.

Capacity: the wrapper asks DynamoDB for ``ReturnConsumedCapacity`` on every operation that
accepts it when the caller did not (and hands the response back in the shape the caller asked
for, so handler code sees no difference). DynamoDB Local returns ``CapacityUnits`` for all ten
of those operations, by AWS's rules (4 KB read units, halved for eventually consistent reads;
1 KB write units; transactions x2; global secondary index writes included, 2 units when an
update moves an item's index key), as checked against DynamoDB Local 2.x; it gives no
read/write split, so the operation decides which kind they are. One exception, corrected here:
it rounds a TransactWriteItems' items of one table up together, where AWS rounds each item
(``transact_write_units``; ``capacity: "response+per-item"``). It returns nothing on an error
(a failed condition, a cancelled transaction), which AWS still bills: those calls are estimated
from the request (``capacity: "estimated"``): a put's item size, the minimum unit where the
item is not in the request (update, delete, get), doubled in transactions.
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ENV_VAR: Final = "LOCAL_METERING_DIR"
#: The key of WorkerConfig.extra that carries the directory into a worker.
CONFIG_KEY: Final = "metering_dir"

READS: Final = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
WRITES: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
CAPACITY_OPERATIONS: Final = READS | WRITES
SQS_SENDS: Final = frozenset({"SendMessage", "SendMessageBatch"})


class _Writer:
    """Appends one JSON line per record to ``<directory>/<role>-<pid>.jsonl``, thread-safe."""

    def __init__(self, directory: Path, role: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in role)
        self.path = directory / f"{safe}-{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8", buffering=1)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({"t": time.time(), "pid": os.getpid(), **record}, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


# -- where an event came from --------------------------------------------------------------------
def classify(event: Any) -> tuple[str, int]:
    """The trigger an event came from, and how many records it carries (SQS and stream
    batches)."""
    if isinstance(event, dict):
        if "httpMethod" in event and "requestContext" in event:
            return "api", 1
        records = event.get("Records")
        if isinstance(records, list) and records:
            first = records[0] if isinstance(records[0], dict) else {}
            if first.get("eventSource") == "aws:sqs":
                return "sqs", len(records)
            if first.get("eventSource") == "aws:dynamodb":
                return "stream", len(records)
        if event.get("source") in ("aws.events", "aws.scheduler"):
            return "schedule", 1
    return "other", 1


# -- the stack side: one dispatch line per invocation ------------------------------------------
class DispatchMeter:
    """Counts invocations where the stack hands an event to a function's pool."""

    def __init__(self, directory: Path) -> None:
        self._writer = _Writer(directory, "dispatch")

    def record(
        self, function: str, request_id: str, event: Any, wall_ms: float, outcome: str
    ) -> None:
        source, records = classify(event)
        self._writer.write(
            {
                "kind": "dispatch",
                "function": function,
                "request_id": request_id,
                "source": source,
                "records": records,
                "wall_ms": round(wall_ms, 3),
                "outcome": outcome,
            }
        )


_dispatch_meters: dict[str, DispatchMeter] = {}
_dispatch_lock = threading.Lock()


def dispatch_meter(directory: str | None) -> DispatchMeter | None:
    """The stack process's meter for ``directory`` (one file per process), or None when off."""
    if not directory:
        return None
    with _dispatch_lock:
        if directory not in _dispatch_meters:
            _dispatch_meters[directory] = DispatchMeter(Path(directory))
        return _dispatch_meters[directory]


# -- the worker side: AWS calls and handler time -----------------------------------------------
class WorkerMeter:
    """Installed once in a worker: wraps botocore, and brackets each handler call."""

    def __init__(self, directory: Path, function: str) -> None:
        self.function = function
        self.request_id: str | None = None  # a worker runs one event at a time
        self._writer = _Writer(directory, f"worker-{function}")
        self._original: Callable[..., Any] | None = None

    # invocations
    def begin(self, request_id: str) -> None:
        self.request_id = request_id

    def end(self, event: Any, duration_ms: float, ok: bool) -> None:
        source, records = classify(event)
        self._writer.write(
            {
                "kind": "invoke",
                "function": self.function,
                "request_id": self.request_id,
                "source": source,
                "records": records,
                "duration_ms": round(duration_ms, 3),
                "ok": ok,
            }
        )
        self.request_id = None

    # botocore
    def install(self) -> None:
        from botocore.client import BaseClient

        if self._original is not None:
            return
        original: Callable[..., Any] = getattr(BaseClient, "_make_api_call")  # noqa: B009
        meter = self

        def metered_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            return meter.call(original, client, operation_name, api_params)

        self._original = original
        setattr(BaseClient, "_make_api_call", metered_call)  # noqa: B010 (private: no stub)

    def uninstall(self) -> None:
        from botocore.client import BaseClient

        if self._original is not None:
            setattr(BaseClient, "_make_api_call", self._original)  # noqa: B010
            self._original = None
        self._writer.close()

    def call(
        self,
        original: Callable[..., Any],
        client: Any,
        operation: str,
        params: dict[str, Any],
    ) -> Any:
        service = str(client.meta.service_model.service_name)
        metered_capacity = service == "dynamodb" and operation in CAPACITY_OPERATIONS
        asked = params.get("ReturnConsumedCapacity")
        strip = metered_capacity and asked in (None, "NONE")
        # Transactions ask for the table/index split, to correct the table part (see below).
        wanted = "INDEXES" if operation == "TransactWriteItems" else "TOTAL"
        if metered_capacity and asked != "INDEXES":
            params = {**params, "ReturnConsumedCapacity": wanted}
        record: dict[str, Any] = {
            "kind": "call",
            "function": self.function,
            "request_id": self.request_id,
            "service": service,
            "operation": operation,
            "error": None,
        }
        if service == "sqs" and operation in SQS_SENDS:
            record.update(sqs_send_facts(operation, params))
        started = time.perf_counter()
        try:
            response = original(client, operation, params)
        except Exception as exc:
            error = getattr(exc, "response", None)
            code = (error or {}).get("Error", {}).get("Code") if isinstance(error, dict) else None
            record["error"] = code or type(exc).__name__
            if metered_capacity:
                rcu, wcu = estimate_units(operation, params)
                record.update({"rcu": rcu, "wcu": wcu, "capacity": "estimated"})
                record.update(breakdown(operation, params, None, (rcu, wcu)))
            record["ms"] = round((time.perf_counter() - started) * 1000, 3)
            self._writer.write(record)
            raise
        record["ms"] = round((time.perf_counter() - started) * 1000, 3)
        if metered_capacity:
            units = consumed_units(operation, response.get("ConsumedCapacity"))
            if units is None:
                rcu, wcu = estimate_units(operation, params)
                record.update({"rcu": rcu, "wcu": wcu, "capacity": "estimated"})
            elif operation == "TransactWriteItems":
                corrected = transact_write_units(params, response.get("ConsumedCapacity"))
                record.update({"rcu": 0.0, "wcu": corrected, "capacity": "response+per-item"})
                record["reported_wcu"] = units[1]
            else:
                record.update({"rcu": units[0], "wcu": units[1], "capacity": "response"})
            record["tables"] = sorted(tables_of(operation, params))
            figure = (float(record["rcu"]), float(record["wcu"]))
            record.update(breakdown(operation, params, response.get("ConsumedCapacity"), figure))
        self._writer.write(record)
        if isinstance(response, dict) and "ConsumedCapacity" in response:
            if strip:
                response = {k: v for k, v in response.items() if k != "ConsumedCapacity"}
            elif asked == "TOTAL" and wanted == "INDEXES":
                response = {**response, "ConsumedCapacity": _totals_only(response)}
        return response


_worker_meter: WorkerMeter | None = None


def install_worker(directory: str | None, function: str) -> WorkerMeter | None:
    """Turn metering on in this worker process (None, and nothing patched, when off)."""
    global _worker_meter  # one per process
    if not directory:
        return None
    if _worker_meter is None:
        _worker_meter = WorkerMeter(Path(directory), function)
        _worker_meter.install()
    return _worker_meter


def uninstall_worker() -> None:
    """Undo install_worker (tests that install it in their own process)."""
    global _worker_meter
    if _worker_meter is not None:
        _worker_meter.uninstall()
        _worker_meter = None


# -- DynamoDB capacity -------------------------------------------------------------------------
def consumed_units(operation: str, consumed: Any) -> tuple[float, float] | None:
    """(read units, write units) from a response's ConsumedCapacity, None if there is none."""
    if consumed is None:
        return None
    entries = consumed if isinstance(consumed, list) else [consumed]
    rcu = wcu = 0.0
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if "ReadCapacityUnits" in entry or "WriteCapacityUnits" in entry:
            rcu += float(entry.get("ReadCapacityUnits") or 0)
            wcu += float(entry.get("WriteCapacityUnits") or 0)
        elif operation in READS:
            rcu += float(entry.get("CapacityUnits") or 0)
        else:
            wcu += float(entry.get("CapacityUnits") or 0)
    return rcu, wcu


_BREAKDOWN = ("Table", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def _totals_only(response: Mapping[str, Any]) -> Any:
    """The ConsumedCapacity of an INDEXES response as a TOTAL response has it."""
    consumed = response["ConsumedCapacity"]
    if not isinstance(consumed, list):
        return consumed
    return [{k: v for k, v in e.items() if k not in _BREAKDOWN} for e in consumed]


def transact_write_units(params: Mapping[str, Any], consumed: Any) -> float:
    """Write units of a TransactWriteItems, by AWS's rule: 2 per started KB of *each* item.

    DynamoDB Local (2.x) sums a transaction's items of one table before rounding up (two new
    100-byte items: 2 units, where AWS bills 4). So each table's part is the larger of its figure
    and 2 x each of its items' units (a put's size is in the request; an update, delete or
    condition check counts at least 1 KB, its stored size being unknown here); the index part
    is taken as reported (``units_by_table``).
    """
    return sum(wcu for _, wcu in units_by_table("TransactWriteItems", params, consumed).values())


def units_by_table(
    operation: str, params: Mapping[str, Any], consumed: Any
) -> dict[str, tuple[float, float]]:
    """(read, write) units per table from a response's ``ConsumedCapacity`` (one entry per
    table, ``TableName`` in each), a TransactWriteItems' table part corrected per item."""
    per_item: dict[str, float] = {}
    if operation == "TransactWriteItems":
        for units in item_units(operation, params):
            per_item[units.table] = per_item.get(units.table, 0.0) + units.write
    found: dict[str, tuple[float, float]] = {}
    for entry in consumed if isinstance(consumed, list) else [consumed]:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("TableName", ""))
        rcu, wcu = consumed_units(operation, entry) or (0.0, 0.0)
        if operation == "TransactWriteItems":
            table = entry.get("Table")
            table_part = float(table.get("CapacityUnits") or 0) if isinstance(table, dict) else wcu
            wcu = max(table_part, per_item.get(name, 0.0)) + wcu - table_part
        before = found.get(name, (0.0, 0.0))
        found[name] = (before[0] + rcu, before[1] + wcu)
    return found


def breakdown(
    operation: str, params: Mapping[str, Any], consumed: Any, figure: tuple[float, float]
) -> dict[str, Any]:
    """Where a call's units went, for a record: ``by_table`` ({table: [read, write]}) and
    ``items`` ([table, key, read, write] per item touched, in request order).

    A table's figure is DynamoDB's (``units_by_table``), or the request's estimate when the call
    got none (a failed call); an item's is the estimate (``item_units``), except that a
    single-item call's one item carries the call's ``figure`` (an update's real size). The key is
    the item's key values joined by ``|`` in attribute-name order; None for a put (its key
    attributes cannot be told from its other attributes here) and for a Query or Scan.
    """
    estimated = item_units(operation, params)
    by_table = units_by_table(operation, params, consumed) if consumed is not None else {}
    if not by_table:
        for units in estimated:
            before = by_table.get(units.table, (0.0, 0.0))
            by_table[units.table] = (before[0] + units.read, before[1] + units.write)
    items: list[list[Any]] = []
    for units in estimated:
        read, write = figure if len(estimated) == 1 else (units.read, units.write)
        items.append([units.table, None if units.put else _key_text(units.key), read, write])
    return {"by_table": {t: list(u) for t, u in sorted(by_table.items())}, "items": items}


def _key_text(key: Mapping[str, Any] | None) -> str | None:
    """An item key's values joined by ``|`` in attribute-name order (``STOCK#A-1#0|STOCK``)."""
    if not key:
        return None
    values = (
        next(iter(value.values())) if isinstance(value, dict) and value else value
        for _, value in sorted(key.items())
    )
    return "|".join(str(value) for value in values)


def _value_size(value: Any) -> int:
    """Bytes of one attribute value by DynamoDB's sizing rules (numbers approximated)."""
    if not isinstance(value, dict) or len(value) != 1:
        return 1
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return len(str(raw).lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: member}) for member in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(member) for member in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in raw.items())
    return 1


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes of an item: attribute names plus values (DynamoDB's item size rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _write_units(item: Mapping[str, Any] | None) -> float:
    return float(max(1, math.ceil(item_size(item) / 1024))) if item else 1.0


@dataclass(frozen=True)
class ItemUnits:
    """What one item of a request is estimated to cost, before DynamoDB says: its table, its key
    (a put's whole item; None for a Query or Scan, which read a range) and its units."""

    table: str
    key: Mapping[str, Any] | None
    read: float
    write: float
    #: ``key`` is a put's whole item, not its key.
    put: bool = False


def _read_unit(spec: Mapping[str, Any]) -> float:
    """One item read: a 4 KB unit, halved for an eventually consistent read."""
    return 1.0 if spec.get("ConsistentRead") else 0.5


def _written(table: str, put: Mapping[str, Any] | None, key: Any, factor: float) -> ItemUnits:
    """A write of ``put``'s item (its size known) or of the item at ``key`` (at least 1 KB)."""
    if put is not None:
        item = put.get("Item")
        return ItemUnits(table, item, 0.0, factor * _write_units(item), put=True)
    return ItemUnits(table, key, 0.0, factor * 1.0)


def item_units(operation: str, params: Mapping[str, Any]) -> list[ItemUnits]:
    """The items a call touches and the units each is billed, estimated from the request by
    AWS's rules: reads in 4 KB units (an item is assumed to fit one), eventually consistent
    reads half; writes in 1 KB units (a put's item is measured, an update or delete counts
    one); transactional reads and writes twice. DynamoDB's own figure replaces the estimate
    where it reports one (``consumed_units``)."""
    table = str(params.get("TableName", ""))
    if operation == "GetItem":
        return [ItemUnits(table, params.get("Key"), _read_unit(params), 0.0)]
    if operation in ("Query", "Scan"):
        return [ItemUnits(table, None, _read_unit(params), 0.0)]
    if operation == "PutItem":
        return [_written(table, params, None, 1.0)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [_written(table, None, params.get("Key"), 1.0)]
    found: list[ItemUnits] = []
    if operation == "BatchGetItem":
        for name, spec in (params.get("RequestItems") or {}).items():
            keys = spec.get("Keys") or []
            found += [ItemUnits(str(name), key, _read_unit(spec), 0.0) for key in keys]
    elif operation == "BatchWriteItem":
        for name, requests in (params.get("RequestItems") or {}).items():
            for request in requests:
                delete = (request.get("DeleteRequest") or {}).get("Key")
                found.append(_written(str(name), request.get("PutRequest"), delete, 1.0))
    elif operation == "TransactGetItems":
        for entry in params.get("TransactItems") or []:
            get = entry.get("Get") or {}
            found.append(ItemUnits(str(get.get("TableName", "")), get.get("Key"), 2.0, 0.0))
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems") or []:
            for kind, action in entry.items():
                name, put = str(action.get("TableName", "")), action if kind == "Put" else None
                found.append(_written(name, put, action.get("Key"), 2.0))
    return found


def estimate_units(operation: str, params: Mapping[str, Any]) -> tuple[float, float]:
    """(read, write) units a call is billed when no ConsumedCapacity came back."""
    units = item_units(operation, params)
    return sum(u.read for u in units), sum(u.write for u in units)


def tables_of(operation: str, params: Mapping[str, Any]) -> set[str]:
    """The tables a DynamoDB call touches."""
    if "TableName" in params:
        return {str(params["TableName"])}
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return {str(name) for name in (params.get("RequestItems") or {})}
    names: set[str] = set()
    for entry in params.get("TransactItems") or []:
        for action in entry.values():
            if isinstance(action, dict) and "TableName" in action:
                names.add(str(action["TableName"]))
    return names


# -- SQS ---------------------------------------------------------------------------------------
def sqs_send_facts(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Messages, body bytes and queue name of a SendMessage or SendMessageBatch request."""
    if operation == "SendMessageBatch":
        bodies = [str(entry.get("MessageBody", "")) for entry in params.get("Entries") or []]
    else:
        bodies = [str(params.get("MessageBody", ""))]
    return {
        "messages": len(bodies),
        "bytes": sum(len(body.encode()) for body in bodies),
        "queue": str(params.get("QueueUrl", "")).rsplit("/", 1)[-1],
    }


# -- reading -----------------------------------------------------------------------------------
def read_records(directory: Path) -> list[dict[str, Any]]:
    """Every complete record in ``directory``, oldest first."""
    records: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
    records.sort(key=lambda record: float(record.get("t", 0)))
    return records


def select(records: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The records of one kind."""
    return [record for record in records if record.get("kind") == kind]
