"""Pools of function workers: Lambda's concurrency model on a laptop.

Each function gets a pool that grows lazily up to a cap (LOCAL_MAX_CONCURRENCY, default 4); an
event waits for a free worker, as a throttled-to-N function would queue. A worker that dies is
replaced by the next event. Processes are started from one long-lived spawner thread, because
Linux's parent-death signal follows the thread that started a child, and request threads are
short-lived.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from infra.local import metering
from infra.local.lambda_worker import WorkerConfig, worker_main

_CTX = multiprocessing.get_context("spawn")


class InvokeError(Exception):
    """The invocation produced no handler result (crash, timeout or init failure)."""


class WorkerCrashed(InvokeError):
    """The worker process died while handling the event."""


class WorkerKilled(WorkerCrashed):
    """The worker was killed mid-request on purpose (``infra/local/faults.py``)."""


class WorkerTimedOut(InvokeError):
    """The handler ran past the function's Timeout; the worker was killed, as Lambda would."""


class WorkerInitFailed(InvokeError):
    """The handler module failed to import."""


@dataclass
class InvokeResult:
    """A handler's outcome: ok with its JSON result, or a runtime error payload."""

    ok: bool
    payload: Any


class Spawner:
    """The one thread that starts every worker process (see module docstring)."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker-spawner")

    def start(self, config: WorkerConfig, init_timeout: float) -> Worker:
        return self._executor.submit(Worker.start, config, init_timeout).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Worker:
    """Parent-side handle of one worker process."""

    def __init__(self, process: BaseProcess, conn: Connection, config: WorkerConfig) -> None:
        self.process = process
        self.conn = conn
        self.config = config
        #: The pool's configuration generation this worker was started with.
        self.generation = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @classmethod
    def start(cls, config: WorkerConfig, init_timeout: float) -> Worker:
        parent_conn, child_conn = _CTX.Pipe()
        process = _CTX.Process(
            target=worker_main,
            args=(child_conn, config, os.getpid()),
            name=f"lambda:{config.function_name}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        worker = cls(process, parent_conn, config)
        if not parent_conn.poll(init_timeout):
            worker.kill()
            raise WorkerInitFailed(f"{config.function_name} did not initialise in {init_timeout}s")
        try:
            kind, detail = parent_conn.recv()
        except (EOFError, OSError) as exc:
            worker.kill()
            raise WorkerInitFailed(f"{config.function_name} died during init") from exc
        if kind != "ready":
            worker.kill()
            raise WorkerInitFailed(f"{config.function_name} failed to initialise: {detail}")
        return worker

    def invoke(
        self, event: Any, request_id: str, timeout: float, kill_after: float | None = None
    ) -> InvokeResult:
        """Run one event. With ``kill_after``, the worker is SIGKILLed that many seconds into
        the event, or as its answer comes if it answers sooner (the work done, the answer lost):
        a crash mid-request, on purpose."""
        try:
            self.conn.send((event, request_id))
            if kill_after is not None:
                self.conn.poll(min(kill_after, timeout))
                self.kill()
                raise WorkerKilled(f"{self.config.function_name} killed mid-request")
            if not self.conn.poll(timeout):
                self.kill()
                raise WorkerTimedOut(f"{self.config.function_name} timed out after {timeout}s")
            kind, payload = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            self.kill()
            raise WorkerCrashed(f"{self.config.function_name} worker exited") from exc
        return InvokeResult(ok=kind == "ok", payload=payload)

    def ask_to_stop(self) -> None:
        """None over the pipe: the worker finishes its request, if any, and exits."""
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)

    def stop(self, timeout: float = 2.0) -> None:
        """Ask politely, then terminate, then kill."""
        self.ask_to_stop()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class FunctionPool:
    """Workers of one function, grown lazily up to max_size."""

    def __init__(self, config: WorkerConfig, spawner: Spawner, max_size: int = 4) -> None:
        self.config = config
        self.spawner = spawner
        self.max_size = max(1, max_size)
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._size = 0
        self._closed = False
        self._generation = 0
        self._cond = threading.Condition()
        self._meter = metering.dispatch_meter(config.extra.get(metering.CONFIG_KEY))

    @property
    def init_timeout(self) -> float:
        return max(30.0, float(self.config.timeout_s))

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._all if w.pid is not None]

    def warm(self) -> None:
        """Start one worker now, so that import errors show at start and the first call is warm."""
        worker = self._acquire()
        self._release(worker)

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise InvokeError("the stack is stopping")
                if self._idle:
                    return self._idle.pop()
                if self._size < self.max_size:
                    self._size += 1
                    config, generation = self.config, self._generation
                    break
                self._cond.wait()
        try:
            worker = self.spawner.start(config, self.init_timeout)
            worker.generation = generation
        except BaseException:
            with self._cond:
                self._size -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._all.add(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if self._closed:
                worker.stop()
                return
            if worker.generation == self._generation:
                self._idle.append(worker)
                self._cond.notify()
                return
        self._discard(worker)  # started before a configuration change: its successor starts anew
        _stop_in_background([worker])

    def reconfigure(self, environment: Mapping[str, str]) -> None:
        """Change the workers' environment, as a function's configuration is updated on AWS:
        idle workers stop now, busy ones after their event, and new ones start with it."""
        with self._cond:
            self.config = replace(
                self.config, environment={**self.config.environment, **environment}
            )
            self._generation += 1
            stale, self._idle = self._idle, []
            for worker in stale:
                self._all.discard(worker)
                self._size -= 1
            self._cond.notify_all()
        _stop_in_background(stale)

    def _discard(self, worker: Worker) -> None:
        with self._cond:
            self._all.discard(worker)
            self._size -= 1
            self._cond.notify()

    def invoke(
        self, event: Any, request_id: str | None = None, *, kill_after: float | None = None
    ) -> InvokeResult:
        """Run the handler on one event in a free worker; raises InvokeError when there is no
        handler result (``kill_after``: see ``Worker.invoke``)."""
        request_id = request_id or str(uuid.uuid4())
        started = time.perf_counter()
        worker = self._acquire()
        try:
            result = worker.invoke(event, request_id, float(self.config.timeout_s), kill_after)
        except InvokeError as exc:
            self._discard(worker)
            self._metered(request_id, event, started, type(exc).__name__)
            raise
        self._release(worker)
        self._metered(request_id, event, started, "ok" if result.ok else "error")
        return result

    def _metered(self, request_id: str, event: Any, started: float, outcome: str) -> None:
        if self._meter is not None:
            wall_ms = (time.perf_counter() - started) * 1000
            self._meter.record(self.config.function_name, request_id, event, wall_ms, outcome)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = list(self._all)
            self._idle.clear()
            self._cond.notify_all()
        stop_all(workers)


def stop_all(workers: list[Worker]) -> None:
    """Every worker asked first, then each waited for: they wind down side by side, so a pool
    of N stops in about the time of one."""
    for worker in workers:
        worker.ask_to_stop()
    for worker in workers:
        worker.stop()


def _stop_in_background(workers: list[Worker]) -> None:
    """Stop workers without making the caller (a request, an event) wait for them to exit."""
    if workers:
        threading.Thread(target=stop_all, args=(workers,), name="stop-workers", daemon=True).start()


def run_once(config: WorkerConfig, event: Any, spawner: Spawner, timeout: float = 120.0) -> Any:
    """Run a job in a short-lived worker (used to build the OpenAPI document)."""
    worker = spawner.start(config, timeout)
    started = time.monotonic()
    try:
        result = worker.invoke(event, str(uuid.uuid4()), timeout - (time.monotonic() - started))
    finally:
        worker.stop()
    if not result.ok:
        raise InvokeError(str(result.payload))
    return result.payload
