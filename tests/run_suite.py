"""Run the whole suite as three pytest processes at once: the layers that do not need a local
stack (unit, integration), the stack-backed layers (e2e, reliability, contract) on the one stack
they share, and the stack-backed tests that start a stack of their own (marked ``own_stack``:
faults, crashes, Stripe, a race with its own hold times).

The stack-backed tests spend much of their time waiting on the stacks' queues and schedules, so
on a two-core machine the three together finish in about the time of the longest; with the
own-stack tests in the shared-stack process, that process ran on alone for a minute after the
others were done. Plain processes rather than pytest-xdist: the shared-stack tests must share one
stack (one process), and schemathesis gives every operation of the contract test the same node
id, which xdist cannot tell apart.

The unit and integration output streams as it comes; the other two are kept in files and printed
whole once all are done. The last lines give each part's exit status and wall time, and the
whole run's. The exit status is non-zero if any part failed. ``--serial`` runs the parts one
after the other. The unit and integration part is spread over ``TEST_WORKERS`` pytest-xdist
workers (2; 1 runs it in one process). Arguments after ``--`` go to every part.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, for infra.local

from infra.local.dynamodb_local import JAVA_OPTS_VAR  # noqa: E402

STANDALONE = ("tests/unit", "tests/integration")
ON_THE_STACK = ("tests/e2e", "tests/reliability", "tests/contract")
#: pytest's exit status when a part collected nothing (a layer not written yet): not a failure.
NO_TESTS = 5
#: Java options for every DynamoDB Local the suite starts (infra/local/dynamodb_local.py): its
#: engines live for minutes, so the optimising compiler's work never pays back; with the quick
#: compiler alone and the serial collector an engine serving 6,000 requests took 8 s of CPU
#: instead of 15, and no longer.
SUITE_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass(frozen=True)
class Part:
    """One pytest process of the run."""

    name: str
    paths: tuple[str, ...]
    marks: tuple[str, ...] = ()
    workers: int = 0

    def command(self, extra: Sequence[str]) -> list[str]:
        existing = [p for p in self.paths if (ROOT / p).is_dir()]
        spread = ["-n", str(self.workers)] if self.workers > 1 else []
        return [sys.executable, "-m", "pytest", *existing, *self.marks, *spread, *extra]


def parts() -> list[Part]:
    """The standalone part first: its output is the one streamed."""
    return [
        Part(" + ".join(STANDALONE), STANDALONE, workers=_standalone_workers()),
        Part(" + ".join(ON_THE_STACK) + " (shared stack)", ON_THE_STACK, ("-m", "not own_stack")),
        Part("own stacks", ON_THE_STACK, ("-m", "own_stack")),
    ]


def _standalone_workers() -> int:
    """pytest-xdist workers for the unit and integration part (``TEST_WORKERS``, default 2).

    Most integration tests wait on DynamoDB Local and moto rather than compute, so two workers
    finish that part in well under the time of one even beside the stack-backed parts; each
    worker starts its own emulators, so nothing is shared between them."""
    return int(os.environ.get("TEST_WORKERS", "2") or "1")


def _ok(code: int) -> bool:
    return code in (0, NO_TESTS)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def _report(results: Sequence[tuple[str, int, float]], total: float) -> None:
    print("", flush=True)
    for name, code, seconds in results:
        print(f"{name}: exit {code}, {_minutes(seconds)}", flush=True)
    print(f"whole suite: {_minutes(total)} wall clock", flush=True)


def _serial(run_parts: Sequence[Part], extra: Sequence[str]) -> list[tuple[str, int, float]]:
    results = []
    for part in run_parts:
        started = time.monotonic()
        code = subprocess.call(part.command(extra), cwd=ROOT)
        results.append((part.name, code, time.monotonic() - started))
    return results


def _side_by_side(run_parts: Sequence[Part], extra: Sequence[str]) -> list[tuple[str, int, float]]:
    """All parts at once; the first streams to this output, the others write to files printed
    once all have ended. Each part's time is taken when it ends."""
    started = time.monotonic()
    ended: dict[str, tuple[int, float]] = {}
    with contextlib.ExitStack() as files:
        logs: list[IO[str] | None] = [None]
        logs += [files.enter_context(tempfile.TemporaryFile("w+")) for _ in run_parts[1:]]
        running: list[subprocess.Popen[bytes]] = []
        try:
            for part, log in zip(run_parts, logs, strict=True):
                errors = None if log is None else subprocess.STDOUT  # None: this output
                running.append(
                    subprocess.Popen(part.command(extra), cwd=ROOT, stdout=log, stderr=errors)
                )
            while len(ended) < len(running):
                for part, proc in zip(run_parts, running, strict=False):
                    if proc.poll() is not None and part.name not in ended:
                        ended[part.name] = (proc.returncode, time.monotonic() - started)
                time.sleep(0.5)
        except BaseException:
            for proc in running:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)  # the stack fixtures stop their children
            for proc in running:
                proc.wait()
            raise
        finally:
            for part, log in zip(run_parts, logs, strict=True):
                if log is not None:
                    log.seek(0)
                    print(f"\n===== {part.name} =====", flush=True)
                    sys.stdout.write(log.read())
    return [(part.name, *ended[part.name]) for part in run_parts]


def run(extra: Sequence[str], serial: bool) -> int:
    started = time.monotonic()
    os.environ.setdefault(JAVA_OPTS_VAR, SUITE_JAVA_OPTS)
    run_parts = parts()
    results = _serial(run_parts, extra) if serial else _side_by_side(run_parts, extra)
    _report(results, time.monotonic() - started)
    return 0 if all(_ok(code) for _, code, _ in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="one part after the other")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    serial = args.serial or os.environ.get("TEST_SERIAL", "") not in ("", "0")
    return run(args.pytest_args, serial)


if __name__ == "__main__":
    sys.exit(main())
