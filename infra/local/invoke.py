"""`make invoke`: one function of the template on one event, against the local emulators.

What ``sam local invoke -e event.json Function`` does, without Docker. DynamoDB Local and moto
start with every resource of the template (infra.local.emulators); the function's worker starts
with the environment the template declares plus the emulators' endpoints, imports the handler as
the Lambda runtime would (a cold start) and handles the event with a Lambda context. The
function's own output (its logs) and a Lambda-style REPORT line with its durations go to stderr,
the response as JSON to stdout (so it pipes into ``jq``), and everything stops. The exit status
is 1 when the handler raised or timed out, 2 for a usage error::

    python -m infra.local.invoke CatalogFunction events/catalog_get_product.json
    python -m infra.local.invoke CatalogFunction - < event.json
    python -m infra.local.invoke --list      # the template's functions and their sample events
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from infra.local.dynamodb_local import JavaMissingError, java_line, require_java
from infra.local.emulators import REPO_ROOT, Emulators
from infra.local.functions import FunctionSpec, load_functions
from infra.local.lambda_worker import OUTPUT_KEY
from infra.local.template import Resolver, load_template
from infra.local.workers import InvokeError, InvokeResult, Spawner, Worker, WorkerInitFailed

EVENTS_DIR = REPO_ROOT / "events"


def sample_events(spec: FunctionSpec, events_dir: Path = EVENTS_DIR) -> list[Path]:
    """The function's sample events: ``events/<its code directory>_*.json``."""
    return sorted(events_dir.glob(f"{spec.code_dir.name}_*.json"))


@dataclass
class Invocation:
    """One event through one function, as Lambda would report it."""

    function: str
    request_id: str
    ok: bool
    response: Any  # the handler's result, or the runtime's error payload
    init_logs: str  # what the import printed (cold start only)
    logs: str  # what the handler printed for this event
    init_ms: float | None  # None when the worker was already warm
    duration_ms: float
    memory_mb: int
    max_memory_mb: int | None  # peak resident memory of the worker (Linux), like Lambda's

    def report_line(self) -> str:
        """Lambda's REPORT line (tab-separated, as in CloudWatch Logs)."""
        parts = [f"REPORT RequestId: {self.request_id}"]
        if self.init_ms is not None:
            parts.append(f"Init Duration: {self.init_ms:.2f} ms")
        parts += [
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {math.ceil(self.duration_ms)} ms",
            f"Memory Size: {self.memory_mb} MB",
        ]
        if self.max_memory_mb is not None:
            parts.append(f"Max Memory Used: {self.max_memory_mb} MB")
        return "\t".join(parts)

    def write_log(self, out: TextIO) -> None:
        """The function's log stream as CloudWatch shows it: init output, START, the event's
        output, END and REPORT."""
        out.write(self.init_logs)
        out.write(f"START RequestId: {self.request_id} Version: $LATEST\n")
        out.write(self.logs)
        if self.logs and not self.logs.endswith("\n"):
            out.write("\n")
        out.write(f"END RequestId: {self.request_id}\n{self.report_line()}\n")


class _LogFile:
    """A worker's output file, read a piece at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def read_new(self) -> str:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return ""
        self._offset += len(data)
        return data.decode("utf-8", errors="replace")


def _peak_memory_mb(pid: int | None) -> int | None:
    """VmHWM of a live process, in MB (None off Linux or once it is gone)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 1024)
    except (OSError, ValueError):
        return None
    return None


class Invoker:
    """Runs events through the template's functions: one worker per function, started (cold) on
    its first event and kept warm for the next, as one Lambda execution environment would be."""

    def __init__(self, emulators: Emulators, log_dir: Path) -> None:
        self.configs = emulators.worker_configs()
        self.log_dir = log_dir
        self.spawner = Spawner()
        self._workers: dict[str, tuple[Worker, _LogFile]] = {}

    def invoke(self, function: str, event: Any) -> Invocation:
        """Handle ``event`` with ``function`` (a logical id of the template)."""
        if function not in self.configs:
            raise KeyError(f"no function {function!r}; there are: {', '.join(self.configs)}")
        config = self.configs[function]
        request_id = str(uuid.uuid4())
        init_ms: float | None = None
        init_logs = ""
        if function not in self._workers:
            log = _LogFile(self.log_dir / f"{function}.log")
            cold = replace(config, extra={**config.extra, OUTPUT_KEY: str(log.path)})
            started = time.perf_counter()
            try:
                worker = self.spawner.start(cold, max(30.0, float(config.timeout_s)))
            except WorkerInitFailed as exc:
                return self._failed(function, request_id, exc, log.read_new(), started)
            init_ms = (time.perf_counter() - started) * 1000
            init_logs = log.read_new()
            self._workers[function] = (worker, log)
        worker, log = self._workers[function]
        started = time.perf_counter()
        try:
            result = worker.invoke(event, request_id, float(config.timeout_s))
        except InvokeError as exc:  # a timeout or a crash: the worker is gone, as Lambda's is
            del self._workers[function]
            result = InvokeResult(ok=False, payload=_error_payload(exc))
        duration_ms = (time.perf_counter() - started) * 1000
        return Invocation(
            function=function,
            request_id=request_id,
            ok=result.ok,
            response=result.payload,
            init_logs=init_logs,
            logs=log.read_new(),
            init_ms=init_ms,
            duration_ms=duration_ms,
            memory_mb=config.memory_mb,
            max_memory_mb=_peak_memory_mb(worker.pid if function in self._workers else None),
        )

    def _failed(
        self, function: str, request_id: str, exc: InvokeError, logs: str, started: float
    ) -> Invocation:
        return Invocation(
            function=function,
            request_id=request_id,
            ok=False,
            response=_error_payload(exc),
            init_logs=logs,
            logs="",
            init_ms=(time.perf_counter() - started) * 1000,
            duration_ms=0.0,
            memory_mb=self.configs[function].memory_mb,
            max_memory_mb=None,
        )

    def close(self) -> None:
        """Stop every worker, then the spawner thread they are tied to. All are asked to exit
        first and then waited for, so that they wind down together rather than in turn."""
        for worker, _log in self._workers.values():
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker, _log in self._workers.values():
            worker.stop()
        self._workers.clear()
        self.spawner.shutdown()


def _error_payload(exc: InvokeError) -> dict[str, str]:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc)}


# --- command line ------------------------------------------------------------------------------


class UsageError(Exception):
    """Bad arguments: said on stderr, exit status 2."""


def read_event(source: str, stdin: TextIO = sys.stdin) -> Any:
    """The event from a file, or from stdin for "-"."""
    if source == "-":
        if stdin.isatty():
            raise UsageError("no event: give EVENT=events/<file>.json, or pipe one into stdin")
        text = stdin.read()
        where = "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"event file not found: {source}")
        text = path.read_text(encoding="utf-8")
        where = source
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"the event on {where} is not JSON: {exc}") from exc


def listing(specs: list[FunctionSpec]) -> str:
    """The template's functions, each with its sample events, for people."""
    lines = ["Functions of the template, with their sample events:"]
    for spec in specs:
        events = [str(path.relative_to(REPO_ROOT)) for path in sample_events(spec)]
        lines.append(f"  {spec.logical_id:<24} {' '.join(events) or '(no sample event)'}")
    lines.append(
        "Run one: make invoke FUNCTION=CatalogFunction EVENT=events/catalog_get_product.json"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.invoke",
        description="Invoke one function of template.yaml on one event, against DynamoDB Local "
        "and moto (what `sam local invoke -e` does, without Docker).",
    )
    parser.add_argument("function", nargs="?", default="", help="logical id, e.g. CatalogFunction")
    parser.add_argument("event", nargs="?", default="-", help="event file; - (default) for stdin")
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="as for sam"
    )
    parser.add_argument("--list", action="store_true", help="list the functions and events")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    overrides = dict(item.split("=", 1) for item in args.parameter_overrides)
    template = load_template(args.template)
    specs = load_functions(template, Resolver(template, parameter_overrides=overrides), REPO_ROOT)
    if args.list or not args.function:
        print(listing(specs))
        return 0
    try:
        if args.function not in {spec.logical_id for spec in specs}:
            known = ", ".join(spec.logical_id for spec in specs)
            raise UsageError(f"no function {args.function!r} in the template; there are: {known}")
        event = read_event(args.event)
        print(java_line(require_java()), file=sys.stderr, flush=True)
    except (UsageError, JavaMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    invocation = run(args.template, overrides, args.function, event)
    invocation.write_log(sys.stderr)
    sys.stderr.flush()
    print(json.dumps(invocation.response, indent=2, ensure_ascii=False))
    return 0 if invocation.ok else 1


def run(template: Path, overrides: dict[str, str], function: str, event: Any) -> Invocation:
    """Start the emulators, invoke once, stop everything (whatever happens in between)."""
    emulators = Emulators(template, overrides)
    with contextlib.ExitStack() as stack:
        stack.callback(emulators.stop)
        emulators.start()
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="invoke-")))
        invoker = Invoker(emulators, log_dir)
        stack.callback(invoker.close)
        spec = emulators.function(function)
        print(
            f"Invoking {spec.handler} ({function}) against DynamoDB Local "
            f"{emulators.dynamodb.endpoint} and moto {emulators.moto.endpoint}",
            file=sys.stderr,
            flush=True,
        )
        return invoker.invoke(function, event)
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


if __name__ == "__main__":
    raise SystemExit(main())
