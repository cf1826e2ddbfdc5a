"""Faults on demand: what the local stack may do wrong on purpose, and what it has done.

A :class:`FaultPlan` says which faults are on; the stack takes it from its command line
(``python -m infra.local --kill-workers 0.05 ...``) and arms it once it is ready (demo data is
loaded without faults), and ``/_local/faults`` reads or changes it while it runs. Each fault is
injected where the real one would happen:

- ``kill_workers`` (``--kill-workers RATE``): a function worker killed mid-request. The
  gateway SIGKILLs the worker of that share of API requests at a random moment of its first
  ``KILL_WINDOW_SECONDS``, or as its answer comes if it answers sooner (the work done, the
  answer lost); the client gets the 502 problem API Gateway answers for a crashed Lambda.
- ``dynamodb_latency_ms`` and ``dynamodb_jitter_ms`` (``--dynamodb-latency MS``,
  ``--dynamodb-jitter MS``): every DynamoDB data call waits the latency plus a random share
  of the jitter in the DynamoDB proxy.
- ``dynamodb_throttle`` (``--dynamodb-throttle RATE``): the proxy answers
  ``ProvisionedThroughputExceededException`` (a transaction: ``TransactionCanceledException``
  with one item's ``ThrottlingError``), as DynamoDB does.
- ``dynamodb_errors`` (``--dynamodb-errors RATE``): the proxy answers ``InternalServerError``
  (500) before DynamoDB sees the call.
- ``partition_scale`` (``--partition-scale N``): DynamoDB's 1,000 WCU/s and 3,000 RCU/s per
  partition key, divided by N, enforced by the proxy (``partition_ceilings.py``).
- ``sqs_duplicates`` (``--sqs-duplicates RATE``): the SQS pump delivers the record a second
  time, at the same moment, in another invocation, as SQS's at-least-once delivery may.
- ``provider_timeouts`` (``--provider-timeouts RATE``): the sandbox payment provider times
  out (``SANDBOX_PROVIDER_TIMEOUT_RATE``): half of the time before it charges or refunds,
  half after, the answer lost.

Rates are shares from 0 to 1 of the chances each fault has (calls, requests, records,
provider calls). DynamoDB's faults strike at random, as they do on AWS (bursts included);
killed workers, duplicates and provider timeouts are spread evenly over their chances, so that
every run meets its share, and a provider timing out at a rate up to 1/2 never times out twice
in a row (a payment's five receives are never spent on timeouts alone).

The DynamoDB proxy (``dynamodb_proxy.py``) runs only once a DynamoDB fault or a ceiling is
asked for; when that happens at run time, the stack starts it and points the functions at it.
Functions pick up a change of their environment (the provider's timeouts, the proxy's
endpoint) in new workers, as Lambda does after a configuration change; only the functions
whose policies grant the sandbox provider's ledger are restarted for its timeouts.

What was injected is counted by kind (``injected``), except the provider's timeouts, which
happen inside the functions: each is a log line ``sandbox provider timed out`` in the log of
the worker it happened in (``--log-dir``; ``StackProcess.log_lines()`` reads them all).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

from infra.local.dynamodb_proxy import (
    THROTTLING_ERROR,
    Call,
    Decision,
    Hook,
    internal_server_error,
    table_arn,
    throughput_exceeded,
    transaction_canceled,
)
from infra.local.metering import CAPACITY_OPERATIONS, READS, item_units, tables_of

#: A killed worker dies at a random moment this long after it was handed the request.
KILL_WINDOW_SECONDS: Final = 0.25
#: The environment variable the sandbox payment provider reads its timeout rate from.
PROVIDER_TIMEOUT_VAR: Final = "SANDBOX_PROVIDER_TIMEOUT_RATE"

#: Kinds of injected faults, as ``injected`` counts them.
WORKER_KILLED: Final = "worker_killed"
DYNAMODB_DELAYED: Final = "dynamodb_delayed"
DYNAMODB_THROTTLED: Final = "dynamodb_throttled"
DYNAMODB_FAILED: Final = "dynamodb_failed"
PARTITION_THROTTLED: Final = "partition_throttled"
SQS_DUPLICATED: Final = "sqs_duplicated"

_RATES: Final = ("kill_workers", "dynamodb_throttle", "dynamodb_errors", "sqs_duplicates")
_RATES_ALL: Final = (*_RATES, "provider_timeouts")
_MILLISECONDS: Final = ("dynamodb_latency_ms", "dynamodb_jitter_ms")
#: No delay past this, so a typo cannot hang the stack.
MAX_LATENCY_MS: Final = 10_000.0


class FaultPlanInvalid(ValueError):
    """A plan with unknown fields or values out of range; ``errors`` say which."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class FaultPlan:
    """Which faults are on (every field off by default; see the module docstring)."""

    kill_workers: float = 0.0
    dynamodb_latency_ms: float = 0.0
    dynamodb_jitter_ms: float = 0.0
    dynamodb_throttle: float = 0.0
    dynamodb_errors: float = 0.0
    partition_scale: float | None = None
    sqs_duplicates: float = 0.0
    provider_timeouts: float = 0.0

    @property
    def needs_proxy(self) -> bool:
        """Whether a DynamoDB fault or ceiling is on, which only the proxy can inject."""
        return bool(
            self.dynamodb_latency_ms
            or self.dynamodb_jitter_ms
            or self.dynamodb_throttle
            or self.dynamodb_errors
            or self.partition_scale
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self, changes: Any) -> FaultPlan:
        """This plan with ``changes`` (a JSON object of fields) applied; FaultPlanInvalid names
        every field that is unknown or out of range."""
        if not isinstance(changes, Mapping):
            raise FaultPlanInvalid([{"field": "body", "message": "must be a JSON object"}])
        known = {f.name for f in fields(self)}
        errors: list[dict[str, str]] = []
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                errors.append({"field": str(name), "message": f"unknown; one of {sorted(known)}"})
                continue
            problem = _invalid(name, value)
            if problem is not None:
                errors.append({"field": name, "message": problem})
            else:
                values[name] = None if value is None else float(value)
        if errors:
            raise FaultPlanInvalid(errors)
        return replace(self, **values)


def _invalid(name: str, value: Any) -> str | None:
    if name == "partition_scale":
        if value is None:
            return None
        ok = _number(value) and value >= 1
        return None if ok else "a number of at least 1 (the ceilings' divisor), or null for off"
    if not _number(value):
        return "must be a number"
    if name in _RATES_ALL and not 0 <= value <= 1:
        return "a rate from 0 to 1"
    if name in _MILLISECONDS and not 0 <= value <= MAX_LATENCY_MS:
        return f"milliseconds from 0 to {MAX_LATENCY_MS:.0f}"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


class Faults:
    """The plan in force, what has been injected, and who must hear of a change."""

    def __init__(self, chance: Callable[[], float] = random.random) -> None:
        self._plan = FaultPlan()
        self._chance = chance
        self._injected: Counter[str] = Counter()
        self._spread: dict[str, float] = {}
        self._lock = threading.Lock()
        self._changing = threading.Lock()
        self._listeners: list[Callable[[FaultPlan, FaultPlan], object]] = []

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def listen(self, listener: Callable[[FaultPlan, FaultPlan], object]) -> None:
        """Call ``listener(before, after)`` on every change of plan."""
        self._listeners.append(listener)

    def apply(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force and tell the listeners (one change at a time)."""
        with self._changing:
            before, self._plan = self._plan, plan
            for listener in self._listeners:
                listener(before, plan)

    def record(self, kind: str, count: int = 1) -> None:
        with self._lock:
            self._injected[kind] += count

    def injected(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._injected.items()))

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_local/faults`` answers."""
        return {"faults": self._plan.to_dict(), "injected": self.injected()}

    # -- the decisions the stack's parts ask for ---------------------------------------------
    def draw(self) -> float:
        """A number from [0, 1): the one source of chance of every fault."""
        return self._chance()

    def happens(self, rate: float) -> bool:
        return rate > 0 and self._chance() < rate

    def due(self, kind: str, rate: float) -> bool:
        """Whether this chance of ``kind`` is one of ``rate``'s share, spread evenly: the n-th
        comes at chance ceil((n - 1/2) / rate), so a run of any length meets its share (a rate
        of 0.05 kills the 10th request, the 30th, the 50th, ...)."""
        if rate <= 0:
            return False
        with self._lock:
            self._spread[kind] = self._spread.get(kind, 0.5) + rate
            if self._spread[kind] < 1:
                return False
            self._spread[kind] -= 1
            return True

    def kill_after(self) -> float | None:
        """Seconds after which the gateway kills the worker of this request (None: it lives)."""
        if not self.due(WORKER_KILLED, self._plan.kill_workers):
            return None
        return self._chance() * KILL_WINDOW_SECONDS

    def duplicate(self) -> bool:
        """Whether the SQS pump delivers this record twice."""
        return self.due(SQS_DUPLICATED, self._plan.sqs_duplicates)


class DynamoDBFaults(Hook):
    """The proxy hook of the plan's DynamoDB latency, throttling and errors."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def decide(self, call: Call) -> Decision | None:
        operation = call.operation
        if operation not in CAPACITY_OPERATIONS:
            return None
        plan = self.faults.plan
        delay = (plan.dynamodb_latency_ms + self.faults.draw() * plan.dynamodb_jitter_ms) / 1000
        if delay > 0:
            self.faults.record(DYNAMODB_DELAYED)
        if self.faults.happens(plan.dynamodb_errors):
            self.faults.record(DYNAMODB_FAILED)
            return Decision(delay=delay, error=internal_server_error())
        if self.faults.happens(plan.dynamodb_throttle):
            self.faults.record(DYNAMODB_THROTTLED)
            return Decision(delay=delay, error=self._throttled(operation, call.params))
        return Decision(delay=delay) if delay > 0 else None

    def _throttled(self, operation: str, params: Mapping[str, Any]) -> Any:
        """A transaction cancelled for one of its items, anything else refused whole."""
        if operation.startswith("Transact"):
            items = item_units(operation, params)
            unlucky = int(self.faults.draw() * len(items))
            return transaction_canceled(
                [THROTTLING_ERROR if n == unlucky else None for n in range(len(items))]
            )
        direction = "Read" if operation in READS else "Write"
        table = min(tables_of(operation, params), default="")
        return throughput_exceeded(f"Table{direction}KeyRangeThroughputExceeded", table_arn(table))
