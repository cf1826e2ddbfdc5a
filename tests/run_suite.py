"""Run the whole suite as two pytest processes at once: the layers that share one local stack
(e2e, reliability, contract) and the layers that do not (unit, integration).

The stack-backed half spends most of its time waiting on the stack's queues and schedules, so
running the other half beside it roughly halves `make test` on a two-core machine. Two plain
processes rather than pytest-xdist: the stack-backed tests must share one stack (one process),
and schemathesis gives every operation of the contract test the same node id, which xdist
cannot tell apart.

The unit and integration output streams as it comes; the stack-backed output is kept in a file
and printed whole once both are done. The exit status is non-zero if either half failed.
``--serial`` runs the same two halves one after the other. Arguments after ``--`` go to both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDALONE = ("tests/unit", "tests/integration")
ON_THE_STACK = ("tests/e2e", "tests/reliability", "tests/contract")
#: pytest's exit status when a half collected nothing (a layer not written yet): not a failure.
NO_TESTS = 5


def _pytest(paths: Sequence[str], extra: Sequence[str]) -> list[str]:
    existing = [p for p in paths if (ROOT / p).is_dir()]
    return [sys.executable, "-m", "pytest", *existing, *extra]


def _ok(code: int) -> bool:
    return code in (0, NO_TESTS)


def run(extra: Sequence[str], serial: bool) -> int:
    if serial:
        first = subprocess.call(_pytest(STANDALONE, extra), cwd=ROOT)
        second = subprocess.call(_pytest(ON_THE_STACK, extra), cwd=ROOT)
        return 0 if _ok(first) and _ok(second) else 1
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        stack_half = subprocess.Popen(
            _pytest(ON_THE_STACK, extra), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            standalone = subprocess.call(_pytest(STANDALONE, extra), cwd=ROOT)
            on_the_stack = stack_half.wait()
        except BaseException:
            stack_half.send_signal(signal.SIGINT)  # the stack fixture stops its children
            stack_half.wait()
            raise
        log.seek(0)
        print(f"\n===== {' '.join(ON_THE_STACK)} =====", flush=True)
        sys.stdout.write(log.read())
    print(
        f"\nunit + integration: exit {standalone}; e2e + reliability + contract: "
        f"exit {on_the_stack}",
        flush=True,
    )
    return 0 if _ok(standalone) and _ok(on_the_stack) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="one half after the other")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    serial = args.serial or os.environ.get("TEST_SERIAL", "") not in ("", "0")
    return run(args.pytest_args, serial)


if __name__ == "__main__":
    sys.exit(main())
