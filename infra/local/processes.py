"""Child-process hygiene: free ports, and children that die with the stack.

A local stack that leaves a Java process or a worker behind holds ports and memory until someone
notices, so every child asks the kernel to kill it when its parent goes (PR_SET_PDEATHSIG) and is
also terminated explicitly on a clean stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when the thread that started it exits.

    The death signal follows the creating *thread*, so children must be started from a thread
    that lives as long as the stack (the main thread or the long-lived spawner thread).
    If the parent is already gone when this runs, exit at once.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _child_setup() -> None:
    # Runs in the forked child before exec: own process group (so Ctrl-C reaches the stack,
    # which then stops the child in order) and a death signal tied to the parent.
    os.setpgrp()
    die_with_parent()


def spawn(
    args: list[str], *, quiet: bool = True, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """Start an external program (DynamoDB Local's java) that dies with this process."""
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        preexec_fn=_child_setup,
        cwd=cwd,
    )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, wait, then SIGKILL: a child never outlives a stop."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def descendants(pid: int) -> set[int]:
    """Every live descendant of pid, read from /proc (Linux)."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        task_dir = f"/proc/{current}/task"
        try:
            tasks = os.listdir(task_dir)
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"{task_dir}/{task}/children", encoding="ascii") as handle:
                    children = [int(child) for child in handle.read().split()]
            except OSError:
                continue
            for child in children:
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found
