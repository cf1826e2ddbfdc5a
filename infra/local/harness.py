"""Run the local stack as a subprocess, for test suites and benchmarks.

Tests talk to the stack the way a client would: over HTTP, after the ready file appears. The
stack runs in its own process so that nothing in the test process (moto decorators, environment
tweaks) can leak into it, and so that stopping it is exactly what a developer's Ctrl-C does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3.session
import requests

from infra.local.dynamodb_local import LOCAL_KEY
from infra.local.template import REGION

REPO_ROOT = Path(__file__).resolve().parents[2]


class StackStartError(RuntimeError):
    """The stack exited or did not become ready in time."""


@dataclass
class StackProcess:
    """A running `python -m infra.local` and what its ready file says."""

    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    #: The stack process's own output (gateway, pumps, emulators), in ``log_dir``.
    log_path: Path
    #: Every log file of the run: ``stack.log`` and one ``<function>-<pid>.log`` per worker.
    log_dir: Path
    _tokens: dict[tuple[str, tuple[str, ...], str | None], str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def dynamodb_endpoint(self) -> str:
        return str(self.info["dynamodb_endpoint"])

    @property
    def moto_endpoint(self) -> str:
        return str(self.info["moto_endpoint"])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def token(
        self,
        sub: str,
        groups: list[str] | tuple[str, ...] = ("customer",),
        email: str | None = None,
    ) -> str:
        """A bearer token from POST /_local/token (cached per sub, groups and email)."""
        key = (sub, tuple(groups), email)
        if key not in self._tokens:
            body: dict[str, Any] = {"sub": sub, "groups": list(groups)}
            if email is not None:
                body["email"] = email
            response = requests.post(f"{self.base_url}/_local/token", json=body, timeout=30)
            response.raise_for_status()
            self._tokens[key] = str(response.json()["token"])
        return self._tokens[key]

    def auth(
        self,
        sub: str,
        groups: list[str] | tuple[str, ...] = ("customer",),
        email: str | None = None,
    ) -> dict[str, str]:
        """The Authorization header for that caller."""
        return {"Authorization": f"Bearer {self.token(sub, groups, email)}"}

    def client(self, service: str) -> Any:
        """A boto3 client of the stack's emulators: DynamoDB Local for ``dynamodb``, the moto
        server for every other service. Each call has its own session, so threads may call it."""
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_KEY, aws_secret_access_key=LOCAL_KEY, region_name=REGION
        )
        endpoint = self.dynamodb_endpoint if service == "dynamodb" else self.moto_endpoint
        return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    def faults(self) -> dict[str, Any]:
        """GET /_local/faults: the faults on (``faults``) and those injected so far
        (``injected``, by kind)."""
        response = requests.get(f"{self.base_url}/_local/faults", timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """PATCH /_local/faults: turn faults on or off while the stack runs (fields of
        ``infra.local.faults.FaultPlan``); what GET answers afterwards."""
        response = requests.patch(f"{self.base_url}/_local/faults", json=changes, timeout=60)
        response.raise_for_status()
        return dict(response.json())

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_files(self) -> list[Path]:
        """Every file the run has logged to so far, the stack's own first."""
        workers = sorted(p for p in self.log_dir.glob("*.log") if p != self.log_path)
        return [self.log_path, *workers]

    def log_lines(self) -> Iterator[tuple[Path, str]]:
        """Every line logged so far, with its file: what the log scan reads."""
        for path in self.log_files():
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    yield path, line.rstrip("\n")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, SIGKILL: what a supervisor would do."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        return int(self.proc.returncode)


def start_stack(
    *,
    template: Path | None = None,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    partition_scale: float | None = None,
) -> StackProcess:
    """Start the stack on a free port and wait for its ready file. Its output, and each of its
    function workers', goes to a log directory of its own (``StackProcess.log_dir``).
    ``partition_scale`` N enforces DynamoDB's per-partition-key ceilings divided by N
    (``--partition-scale``; other faults are flags in ``args``, see ``python -m infra.local
    --help``)."""
    workdir = Path(tempfile.mkdtemp(prefix="local-stack-"))
    ready = workdir / "ready.json"
    log_dir = workdir / "logs"
    log_dir.mkdir()
    log_path = log_dir / "stack.log"
    command = [sys.executable, "-m", "infra.local", "--port", "0", "--ready-file", str(ready)]
    command += ["--log-dir", str(log_dir)]
    if template is not None:
        command += ["--template", str(template)]
    command += args or []
    if partition_scale is not None:
        command += ["--partition-scale", str(partition_scale)]
    child_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=REPO_ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise StackStartError(
                f"stack exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise StackStartError(f"stack not ready in {timeout}s:\n{log_path.read_text()}")
        time.sleep(0.1)
    info = json.loads(ready.read_text(encoding="utf-8"))
    return StackProcess(proc=proc, info=info, log_path=log_path, log_dir=log_dir)
