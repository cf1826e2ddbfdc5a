"""Run the whole suite as two pytest processes at once: the layers that share one local stack
(e2e, reliability, contract) and the layers that do not (unit, integration).

The stack-backed half spends most of its time waiting on the stack's queues and schedules, so
running the other half beside it roughly halves `make test` on a two-core machine. Two plain
processes rather than pytest-xdist: the stack-backed tests must share one stack (one process),
and schemathesis gives every operation of the contract test the same node id, which xdist
cannot tell apart.

The unit and integration output streams as it comes; the stack-backed output is kept in a file
and printed whole once both are done. The last lines give each half's exit status and wall
time, and the whole run's. The exit status is non-zero if either half failed. ``--serial`` runs
the same two halves one after the other. The unit and integration half is spread over
``TEST_WORKERS`` pytest-xdist workers (2; 1 runs it in one process). Arguments after ``--``
go to both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, for infra.local

from infra.local.dynamodb_local import JAVA_OPTS_VAR  # noqa: E402

STANDALONE = ("tests/unit", "tests/integration")
ON_THE_STACK = ("tests/e2e", "tests/reliability", "tests/contract")
#: pytest's exit status when a half collected nothing (a layer not written yet): not a failure.
NO_TESTS = 5
#: Java options for every DynamoDB Local the suite starts (infra/local/dynamodb_local.py): its
#: engines live for minutes, so the optimising compiler's work never pays back; with the quick
#: compiler alone and the serial collector an engine serving 6,000 requests took 8 s of CPU
#: instead of 15, and no longer.
SUITE_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
#: Dropped from the suite's environment: the suite starts hundreds of interpreters (pytest's
#: processes, every function worker of every local stack), and without bytecode on disk each
#: one compiles the commerce layer and the test modules again from source (on the development
#: machine 0.2 s of CPU per function worker). ``__pycache__`` is ignored by git.
NO_BYTECODE_VAR = "PYTHONDONTWRITEBYTECODE"


def _pytest(paths: Sequence[str], extra: Sequence[str], workers: int = 0) -> list[str]:
    existing = [p for p in paths if (ROOT / p).is_dir()]
    spread = ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []
    return [sys.executable, "-m", "pytest", *existing, *spread, *extra]


def _standalone_workers() -> int:
    """pytest-xdist workers for the unit and integration half (``TEST_WORKERS``, default 2).

    Most integration tests wait on DynamoDB Local and moto rather than compute, so two workers
    finish that half in well under the time of one even beside the stack-backed half; each
    worker starts its own emulators, so nothing is shared between them. A test file goes to
    one worker whole (``--dist loadfile``): a module's local stack or engine is then started
    once, not once in each worker that ran one of its tests, and the CPU that saves goes to
    the stack-backed half, which finishes last."""
    return int(os.environ.get("TEST_WORKERS", "2") or "1")


def _ok(code: int) -> bool:
    return code in (0, NO_TESTS)


def _timed_call(command: Sequence[str]) -> tuple[int, float]:
    started = time.monotonic()
    code = subprocess.call(command, cwd=ROOT)
    return code, time.monotonic() - started


def _report(halves: Sequence[tuple[str, int, float]], total: float) -> None:
    print("", flush=True)
    for name, code, seconds in halves:
        print(f"{name}: exit {code}, {_minutes(seconds)}", flush=True)
    print(f"whole suite: {_minutes(total)} wall clock", flush=True)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def prepare_environment(environ: MutableMapping[str, str]) -> None:
    """What every process of the suite inherits: the engines' Java options (unless set), and
    bytecode written."""
    environ.setdefault(JAVA_OPTS_VAR, SUITE_JAVA_OPTS)
    environ.pop(NO_BYTECODE_VAR, None)


def run(extra: Sequence[str], serial: bool) -> int:
    started = time.monotonic()
    prepare_environment(os.environ)
    first_name, second_name = " + ".join(STANDALONE), " + ".join(ON_THE_STACK)
    if serial:
        first, first_time = _timed_call(_pytest(STANDALONE, extra, _standalone_workers()))
        second, second_time = _timed_call(_pytest(ON_THE_STACK, extra))
    else:
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
            stack_started = time.monotonic()
            stack_half = subprocess.Popen(
                _pytest(ON_THE_STACK, extra), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                first, first_time = _timed_call(_pytest(STANDALONE, extra, _standalone_workers()))
                second = stack_half.wait()
                second_time = time.monotonic() - stack_started
            except BaseException:
                stack_half.send_signal(signal.SIGINT)  # the stack fixture stops its children
                stack_half.wait()
                raise
            log.seek(0)
            print(f"\n===== {' '.join(ON_THE_STACK)} =====", flush=True)
            sys.stdout.write(log.read())
    _report(
        [(first_name, first, first_time), (second_name, second, second_time)],
        time.monotonic() - started,
    )
    return 0 if _ok(first) and _ok(second) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="one half after the other")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    serial = args.serial or os.environ.get("TEST_SERIAL", "") not in ("", "0")
    return run(args.pytest_args, serial)


if __name__ == "__main__":
    sys.exit(main())
