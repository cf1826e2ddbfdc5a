"""The child side of a function worker: one process behaving like one Lambda execution
environment.

It takes the function's environment, puts its code and layers on sys.path, imports the handler
as the Python runtime would (cold start), then serves one event at a time over a pipe. Handler
code sees nothing local except environment variables and endpoints.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from infra.local import metering
from infra.local.processes import die_with_parent

#: WorkerConfig.extra key: a file that receives the worker's stdout and stderr (make invoke).
OUTPUT_KEY = "output_path"
#: WorkerConfig.extra key: a directory where each worker writes its stdout and stderr to a file
#: of its own, ``<function name>-<pid>.log`` (the stack's ``--log-dir``), as Lambda gives each
#: execution environment its own log stream: lines of two workers never interleave.
LOG_DIR_KEY = "log_dir"


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs; picklable so the spawn context can ship it."""

    function_name: str
    handler: str
    code_dir: str
    sys_path: list[str]
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    arn: str
    extra: dict[str, Any] = field(default_factory=dict)


class LambdaContext:
    """The attributes and method of the Python runtime's context object handlers rely on."""

    def __init__(self, config: WorkerConfig, request_id: str, deadline: float) -> None:
        self.function_name = config.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = config.arn
        self.memory_limit_in_mb = config.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{config.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load_handler(config: WorkerConfig) -> Any:
    module_name, _, attr = config.handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _flush() -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()


def _error(exc: BaseException) -> dict[str, Any]:
    # Mirrors the runtime's error payload; the trace goes to the log (stderr), never the client.
    traceback.print_exception(exc, file=sys.stderr)
    return {"errorType": type(exc).__name__, "errorMessage": str(exc)}


def _redirect_output(path: str) -> None:
    """Send file descriptors 1 and 2 to ``path``, as Lambda sends a function's output to its log
    stream: at the descriptor level, so logging handlers made at import and C code follow too.
    Each line is written as it ends, so a worker killed mid-request leaves whole lines behind."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def _output_path(config: WorkerConfig) -> str | None:
    """Where this worker's output goes: the file ``make invoke`` named, or a file of its own in
    the stack's log directory; None leaves it on the stack's own output."""
    if config.extra.get(OUTPUT_KEY):
        return str(config.extra[OUTPUT_KEY])
    if config.extra.get(LOG_DIR_KEY):
        return os.path.join(
            str(config.extra[LOG_DIR_KEY]), f"{config.function_name}-{os.getpid()}.log"
        )
    return None


def worker_main(conn: Connection, config: WorkerConfig, parent_pid: int) -> None:
    """Entry point of a spawned worker process."""
    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the stack stops its workers itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(config.environment)
    for entry in reversed(config.sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    with contextlib.suppress(OSError):
        os.chdir(config.code_dir)
    output = _output_path(config)
    if output is not None:
        _redirect_output(output)
    # Opt-in (infra/local/metering.py); AWS calls made during init carry no request id.
    meter = metering.install_worker(config.extra.get(metering.CONFIG_KEY), config.function_name)
    try:
        handler = _load_handler(config)
    except BaseException as exc:  # an init error is reported, like Runtime.ImportModuleError
        failure = _error(exc)
        _flush()
        conn.send(("init_error", failure))
        return
    _flush()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            # Told to stop: everything is flushed line by line already, so the process ends
            # here, as Lambda ends an environment, without the seconds a full interpreter
            # shutdown takes (module teardown, exit handlers of libraries that never ran).
            _flush()
            os._exit(0)
        event, request_id = message
        context = LambdaContext(config, request_id, time.monotonic() + config.timeout_s)
        if meter is not None:
            meter.begin(request_id)
        started = time.perf_counter()
        try:
            result = handler(event, context)
            # Lambda serialises the result as JSON: what does not survive that fails here too.
            payload: tuple[str, Any] = ("ok", json.loads(json.dumps(result)))
        except Exception as exc:
            payload = ("error", _error(exc))
        if meter is not None:
            meter.end(event, (time.perf_counter() - started) * 1000, payload[0] == "ok")
        _flush()  # the event's log lines are written before its result is announced
        conn.send(payload)
