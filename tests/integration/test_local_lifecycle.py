"""The stack starts, becomes ready, and leaves nothing behind when stopped.

Every child (DynamoDB Local's java, the multiprocessing helpers, function workers) is found in
/proc while the stack runs, and must be gone once it has stopped, whichever signal stops it.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from infra.local.harness import REPO_ROOT, start_stack
from infra.local.processes import descendants

pytestmark = pytest.mark.integration

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "local_stack" / "template.yaml"


def alive(pid: int) -> bool:
    """True unless the process is gone or a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_gone(pids: set[int], timeout: float = 15.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        survivors = {pid for pid in pids if alive(pid)}
        if not survivors:
            return set()
        time.sleep(0.2)
    return {pid for pid in pids if alive(pid)}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stop_leaves_no_child_behind(stop_signal: signal.Signals) -> None:
    stack = start_stack(template=FIXTURE, args=["--no-demo-data"])
    try:
        assert requests.get(f"{stack.base_url}/public/1", timeout=30).status_code == 200
        children = descendants(stack.pid) | set(stack.info["children"])
        commands = {pid: cmdline(pid) for pid in children if alive(pid)}
        assert any("DynamoDBLocal.jar" in cmd for cmd in commands.values()), commands
        assert any("spawn_main" in cmd for cmd in commands.values()), commands  # a worker
        stack.proc.send_signal(stop_signal)
        assert stack.proc.wait(timeout=60) == 0
    finally:
        stack.stop()
    assert wait_gone(children) == set()
    assert "stopped" in stack.log()


def test_workers_die_even_if_the_stack_is_killed() -> None:
    stack = start_stack(template=FIXTURE, args=["--no-demo-data"])
    children = descendants(stack.pid)
    assert children
    os.kill(stack.pid, signal.SIGKILL)  # no clean-up code runs: only PR_SET_PDEATHSIG
    stack.proc.wait(timeout=30)
    assert wait_gone(children) == set()
