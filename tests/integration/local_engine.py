"""Running a race in a child interpreter against DynamoDB Local.

Concurrency tests cannot trust moto (it is not safe under concurrent writes), and this
process's clients were made for moto, so each race runs in a fresh interpreter whose clients
point at DynamoDB Local from the start. The child prints its result as JSON on its last line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.local.environment import last_json

ROOT = Path(__file__).resolve().parents[2]


def run_child(
    script: str | Path,
    endpoint: str,
    *args: str,
    extra_env: dict[str, str] | None = None,
    timeout: int = 240,
) -> dict[str, Any]:
    """Run ``script`` with ``args`` against the DynamoDB Local at ``endpoint``; its JSON result."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "commerce"), str(ROOT)]),
        **(extra_env or {}),
    }
    env.pop("AWS_SESSION_TOKEN", None)
    done = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-6000:])
    result: dict[str, Any] = last_json(done)
    return result
