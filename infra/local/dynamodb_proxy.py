"""A small HTTP proxy in front of DynamoDB Local that can delay a call or answer it as DynamoDB
answers when it throttles or fails, so that botocore and PynamoDB meet real errors and retry as
they would on AWS.

The stack starts it only when a DynamoDB fault or a partition ceiling is asked for
(``infra/local/faults.py``), and points every function's DynamoDB client at it through
``AWS_ENDPOINT_URL_DYNAMODB``; otherwise the functions talk to DynamoDB Local directly and none
of this runs. The stack's own clients (the stream pump, the payment sandbox, tests reading
state back) keep going straight to DynamoDB Local.

**Hooks** decide per call. A hook is an object with two methods (subclass :class:`Hook`, whose
defaults do nothing):

- ``decide(call) -> Decision | None``: ``None`` has no opinion; a :class:`Decision` may add a
  ``delay`` (seconds, slept before answering), an ``error`` (an :class:`AwsError`, answered
  instead of forwarding; later hooks are not asked), ``params`` (the request to forward
  instead of the caller's, e.g. a batch without its throttled keys), ``unprocessed`` (keys
  or write requests merged into the response's ``UnprocessedKeys`` / ``UnprocessedItems``) and
  ``measure`` (show me DynamoDB's answer, with its ``ConsumedCapacity``). Hooks are asked in
  order; delays add up. ``call.notes`` carries what a hook wants to remember until ``settle``.
- ``settle(call, response)``: once the call is answered, for every hook asked. ``response`` is
  DynamoDB's decoded answer when a hook asked to ``measure`` the call and DynamoDB answered
  200; it has ``ConsumedCapacity`` even when the caller did not ask for it (the proxy asks
  DynamoDB for it and strips it again from what the caller gets). It is ``None`` otherwise: an
  error from DynamoDB, nobody asked, or a hook refused the call (then ``call.refused`` is that
  error: DynamoDB bills nothing for a throttled call). Answers nobody asked to see pass
  through as DynamoDB wrote them, byte for byte.

**Errors on the wire** are DynamoDB's JSON 1.0 errors, as botocore's JSON parser reads them
(``botocore/parsers.py``: the code is the part of ``__type`` after ``#``) and as DynamoDB
Local itself writes them: status 400 (500 for ``InternalServerError``), ``Content-Type:
application/x-amz-json-1.0``, an ``x-amzn-RequestId``, and a body with ``__type`` and the
message under the name the service model gives it (``message``, or ``Message`` for
``TransactionCanceledException``, whose ``CancellationReasons`` list one reason per item of the
request, ``{"Code": "None"}`` for an item that did not fail). DynamoDB sends no
``x-amzn-ErrorType`` header: the type travels in the body only. Every answer carries
``x-amz-crc32`` of its body, which botocore's legacy retry mode checks for DynamoDB. botocore
retries ``ProvisionedThroughputExceededException``, ``ThrottlingException`` and any 500 by
itself (``botocore/data/_retry.json`` and the standard retry mode), PynamoDB through botocore;
a ``TransactionCanceledException`` is never retried by the SDK and reaches the caller.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import string
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlparse

from infra.local.metering import CAPACITY_OPERATIONS
from infra.local.processes import free_port
from infra.local.template import ACCOUNT_ID, REGION

log = logging.getLogger("infra.local.dynamodb_proxy")

#: The ``X-Amz-Target`` prefix of DynamoDB's operations (``DynamoDB_20120810.PutItem``).
TARGET_PREFIX: Final = "DynamoDB_20120810."
JSON_TYPE: Final = "application/x-amz-json-1.0"
DYNAMODB_NAMESPACE: Final = "com.amazonaws.dynamodb.v20120810"
#: Throttling of an on-demand table, a hot partition key included, as DynamoDB words it.
ON_DEMAND_THROTTLED: Final = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if "
    "you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html."
)
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
)


# -- DynamoDB's errors ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsError:
    """One error answer: HTTP status, the ``__type`` DynamoDB writes, and the body's fields."""

    status: int
    type: str
    fields: Mapping[str, Any]

    @property
    def code(self) -> str:
        """The error code botocore reports (``Error.Code``)."""
        return self.type.rsplit("#", 1)[-1]

    def body(self) -> bytes:
        return json.dumps({"__type": self.type, **self.fields}).encode()


def table_arn(table: str, index: str | None = None) -> str:
    """The ARN DynamoDB names a throttled table (or index) by."""
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def throughput_exceeded(reason: str | None = None, resource: str | None = None) -> AwsError:
    """``ProvisionedThroughputExceededException`` (400) as an on-demand table throttles a
    single-item or batch call, with its ``ThrottlingReasons`` when the reason is known
    (``TableWriteKeyRangeThroughputExceeded`` and the table's ARN for a hot partition key)."""
    fields: dict[str, Any] = {"message": ON_DEMAND_THROTTLED}
    if reason is not None:
        fields["ThrottlingReasons"] = [{"reason": reason, "resource": resource or ""}]
    return AwsError(400, f"{DYNAMODB_NAMESPACE}#ProvisionedThroughputExceededException", fields)


def throttling_exception() -> AwsError:
    """``ThrottlingException`` (400), the request-rate refusal of AWS's front end."""
    return AwsError(
        400, "com.amazon.coral.availability#ThrottlingException", {"message": "Rate exceeded"}
    )


def internal_server_error() -> AwsError:
    """``InternalServerError`` (500): DynamoDB failed to process the call."""
    return AwsError(
        500, f"{DYNAMODB_NAMESPACE}#InternalServerError", {"message": "Internal server error"}
    )


#: The cancellation reason of an item DynamoDB throttled inside a transaction (on-demand).
THROTTLING_ERROR: Final = "ThrottlingError"


def transaction_canceled(codes: Sequence[str | None]) -> AwsError:
    """``TransactionCanceledException`` (400) with one reason per item of the request, in its
    order: ``None`` for an item that did not fail, else the code (``ThrottlingError``)."""
    reasons: list[dict[str, str]] = []
    for code in codes:
        if code is None:
            reasons.append({"Code": "None"})
        else:
            message = ON_DEMAND_THROTTLED if code == THROTTLING_ERROR else code
            reasons.append({"Code": code, "Message": message})
    listed = ", ".join(reason["Code"] for reason in reasons)
    fields = {
        "CancellationReasons": reasons,
        "Message": "Transaction cancelled, please refer cancellation reasons for specific "
        f"reasons [{listed}]",
    }
    return AwsError(400, f"{DYNAMODB_NAMESPACE}#TransactionCanceledException", fields)


# -- what hooks see and say -------------------------------------------------------------------
@dataclass
class Call:
    """One request on its way to DynamoDB."""

    target: str
    body: bytes
    #: What hooks remember between ``decide`` and ``settle``.
    notes: dict[str, Any] = field(default_factory=dict)
    #: The error a hook answered instead of forwarding (None: forwarded).
    refused: AwsError | None = None
    _params: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def operation(self) -> str:
        """``PutItem``, ``TransactWriteItems``, ... ("" for a target that is not DynamoDB's)."""
        return self.target[len(TARGET_PREFIX) :] if self.target.startswith(TARGET_PREFIX) else ""

    @property
    def params(self) -> dict[str, Any]:
        """The decoded request (empty when it is not a JSON object)."""
        if self._params is None:
            try:
                decoded = json.loads(self.body or b"{}")
            except ValueError:
                decoded = {}
            self._params = decoded if isinstance(decoded, dict) else {}
        return self._params

    def replace_params(self, params: Mapping[str, Any]) -> None:
        self._params = dict(params)
        self.body = json.dumps(self._params).encode()


@dataclass(frozen=True)
class Decision:
    """What a hook wants done with a call (see the module docstring)."""

    delay: float = 0.0
    error: AwsError | None = None
    params: Mapping[str, Any] | None = None
    unprocessed: Mapping[str, Any] | None = None
    measure: bool = False


class Hook:
    """The hook interface, with defaults that change nothing."""

    def decide(self, call: Call) -> Decision | None:
        return None

    def settle(self, call: Call, response: Mapping[str, Any] | None) -> None:
        return None


@dataclass
class _Plan:
    """The hooks' decisions added up."""

    delay: float = 0.0
    error: AwsError | None = None
    unprocessed: list[Mapping[str, Any]] = field(default_factory=list)
    measure: bool = False
    asked: list[Hook] = field(default_factory=list)


class TableKeys:
    """The partition key attribute of each table and index, asked of DynamoDB once each."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._known: dict[tuple[str, str | None], str | None] = {}
        self._lock = threading.Lock()

    def partition_key(self, table: str, index: str | None = None) -> str | None:
        with self._lock:
            if (table, index) in self._known:
                return self._known[(table, index)]
        described = self._client.describe_table(TableName=table)["Table"]
        found: dict[tuple[str, str | None], str | None] = {(table, None): _hash(described)}
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for idx in described.get(kind) or []:
                found[(table, idx["IndexName"])] = _hash(idx)
        with self._lock:
            self._known.update(found)
            return self._known.get((table, index))


def _hash(described: Mapping[str, Any]) -> str | None:
    for element in described.get("KeySchema") or []:
        if element.get("KeyType") == "HASH":
            return str(element["AttributeName"])
    return None


def request_id() -> str:
    """A request id shaped like DynamoDB's (52 upper-case letters and digits)."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(52))


# -- the proxy ---------------------------------------------------------------------------------
class DynamoDBProxy:
    """Serves on a free port of 127.0.0.1 and forwards to ``upstream`` (DynamoDB Local)."""

    def __init__(
        self,
        upstream: str,
        hooks: Sequence[Hook] = (),
        *,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        parsed = urlparse(upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.hooks = list(hooks)
        self._sleep = sleep
        self._local = threading.local()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = _Server(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dynamodb-proxy", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- one call --------------------------------------------------------------------------
    def handle(
        self, target: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Decide, then answer with an error or forward; (status, headers, body)."""
        call = Call(target=target, body=body)
        plan = self._decide(call)
        if plan.delay > 0:
            self._sleep(plan.delay)
        if plan.error is not None:
            call.refused = plan.error
            self._settle(plan, call, None)
            refusal = plan.error.body()
            return plan.error.status, _json_headers(refusal), refusal
        stripped = plan.measure and self._ask_for_capacity(call)
        status, answer_headers, answer = self._forward(call.body, headers)
        if status != 200 or not (plan.measure or plan.unprocessed):
            self._settle(plan, call, None)
            return status, answer_headers, answer
        try:
            response = json.loads(answer)
        except ValueError:  # not DynamoDB's JSON: nothing to measure or amend
            self._settle(plan, call, None)
            return status, answer_headers, answer
        self._settle(plan, call, response if plan.measure else None)
        if stripped:
            response.pop("ConsumedCapacity", None)
        _merge_unprocessed(call.operation, response, plan.unprocessed)
        rewritten = json.dumps(response).encode()
        their_id = answer_headers.get("x-amzn-RequestId")
        return status, {**answer_headers, **_json_headers(rewritten, their_id)}, rewritten

    @staticmethod
    def _settle(plan: _Plan, call: Call, response: dict[str, Any] | None) -> None:
        for hook in plan.asked:
            hook.settle(call, response)

    def _decide(self, call: Call) -> _Plan:
        plan = _Plan()
        for hook in self.hooks:
            decision = hook.decide(call)
            plan.asked.append(hook)
            if decision is None:
                continue
            plan.delay += decision.delay
            if decision.params is not None:
                call.replace_params(decision.params)
            if decision.unprocessed:
                plan.unprocessed.append(decision.unprocessed)
            plan.measure = plan.measure or decision.measure
            if decision.error is not None:
                plan.error = decision.error
                break
        return plan

    @staticmethod
    def _ask_for_capacity(call: Call) -> bool:
        """Ask DynamoDB for ConsumedCapacity when the caller did not; True when the proxy must
        strip it from the answer again."""
        if call.operation not in CAPACITY_OPERATIONS:
            return False
        if call.params.get("ReturnConsumedCapacity") not in (None, "NONE"):
            return False
        call.replace_params({**call.params, "ReturnConsumedCapacity": "TOTAL"})
        return True

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(
                self.upstream_host, self.upstream_port, timeout=60
            )
            self._local.connection = connection
        return connection

    def _forward(
        self, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        sent["Content-Length"] = str(len(body))
        for attempt in range(2):  # a kept-alive connection DynamoDB Local closed: open another
            connection = self._connection()
            try:
                connection.request("POST", "/", body=body, headers=sent)
                answer = connection.getresponse()
                data = answer.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
                continue
            kept = {
                k: v
                for k, v in answer.getheaders()
                if k.lower() not in _HOP_BY_HOP and k.lower() not in ("server", "date")
            }
            return answer.status, kept, data
        raise AssertionError("unreachable")  # pragma: no cover


def _json_headers(body: bytes, their_id: str | None = None) -> dict[str, str]:
    """The headers of a JSON answer written (or rewritten) here."""
    return {
        "Content-Type": JSON_TYPE,
        "x-amzn-RequestId": their_id or request_id(),
        "x-amz-crc32": str(zlib.crc32(body) & 0xFFFFFFFF),
        "Content-Length": str(len(body)),
    }


def _merge_unprocessed(
    operation: str, response: dict[str, Any], held: Sequence[Mapping[str, Any]]
) -> None:
    """Add the keys (BatchGetItem: ``{table: {"Keys": [...], ...}}``) or write requests
    (BatchWriteItem: ``{table: [...]}``) hooks held back to what DynamoDB left unprocessed."""
    name = "UnprocessedKeys" if operation == "BatchGetItem" else "UnprocessedItems"
    for extra in held:
        merged = response.setdefault(name, {})
        for table, entries in extra.items():
            if operation == "BatchGetItem":
                spec = merged.setdefault(table, {**entries, "Keys": []})
                spec["Keys"].extend(entries["Keys"])
            else:
                merged.setdefault(table, []).extend(entries)


class _Server(ThreadingHTTPServer):
    """Quiet about clients that go away: a worker killed mid-call drops its connection."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One connection from a function's botocore: keep-alive, one call at a time."""

    protocol_version = "HTTP/1.1"
    owner: DynamoDBProxy

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, answer = self.owner.handle(
                self.headers.get("X-Amz-Target", ""), body, dict(self.headers.items())
            )
        except Exception:  # DynamoDB Local unreachable, or a hook failed: a 500 botocore retries
            log.exception("DynamoDB proxy failed on %s", self.headers.get("X-Amz-Target"))
            error = internal_server_error()
            status, headers, answer = error.status, _json_headers(error.body()), error.body()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer)

    def version_string(self) -> str:
        return "Server"  # what DynamoDB names itself

    def log_message(self, format: str, *args: Any) -> None:
        return None
