"""Cold start of each function: a fresh interpreter imports its handler module and runs its init.

The child has the function's environment from the template and what the Lambda runtime adds
(``LAMBDA_TASK_ROOT`` and the rest), with tracing on as deployed: outside Lambda the X-Ray SDK
builds a sampling client of its own at import, which Lambda never pays.
Each figure is timed inside the child around the import (interpreter start-up excluded), taken
in rounds (every row once per round, so a machine that drifts moves all rows alike), and the
median printed next to the floor measured the same way in the same rounds: a fresh interpreter
that only does ``import boto3``, which every Python Lambda pays anyway.
The floor and the reference rows are bare as on the runtime: without pyOpenSSL, which the layer
ships for the Alipay SDK and botocore would otherwise load (the functions keep botocore from
it themselves, ``commerce/__init__.py``), so no row is flattered by a cost the others skip.
Two more reference rows, timed the same way in the same run, show what the libraries this
design is built on cost before any code of ours (``cold_floors/``): a consumer's Logger,
Metrics, Tracer and batch utility, and an API function's REST resolver with validation on top.
With ``--built`` the same figures come from what ``sam deploy`` ships (``.aws-sam/build``,
after ``make build``): each function's built code and the built layer, imported read-only as
Lambda does (no bytecode written), the floor being the layer's own boto3, which shadows the
runtime's. Run it on a plain ``sam build`` to see what the missing bytecode costs.
With ``--instructions`` each row is instead the count of instructions its import and init run
under valgrind's callgrind, once: a figure this machine's drift does not move (minutes to take).
Prints figures; never fails on a timing.

    .venv/bin/python tests/bench/cold_start.py [--repeat 7] [--built [.aws-sam/build]]
    .venv/bin/python tests/bench/cold_start.py --instructions   # valgrind: same count every run
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.local.environment import last_json, run_offline, runtime_variables  # noqa: E402
from infra.local.functions import LAYER_TYPES, FunctionSpec, load_functions  # noqa: E402
from infra.local.template import Resolver, load_template, resources_of_type  # noqa: E402

_CHILD = """
import importlib, json, sys, time
module_name, attr, bare = sys.argv[1], sys.argv[2], sys.argv[3] == "bare"
if bare:
    sys.modules["urllib3.contrib.pyopenssl"] = None
start, cpu = time.perf_counter(), time.process_time()
module = importlib.import_module(module_name)
if attr:
    getattr(module, attr)
print(json.dumps({"ms": (time.perf_counter() - start) * 1000,
                  "cpu_ms": (time.process_time() - cpu) * 1000}))
"""

_BASE_ENV = {
    "POWERTOOLS_METRICS_NAMESPACE": "Commerce",
    "PYTHONDONTWRITEBYTECODE": "0",
}


#: Counts every instruction the child runs (its output file is not needed: the total is on stderr).
_CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _run_child(
    module: str,
    attr: str,
    env: dict[str, str],
    path: list[Path],
    bare: bool,
    wrapper: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    return run_offline(
        _CHILD,
        module,
        attr,
        "bare" if bare else "as-is",
        path=path,
        env={**_BASE_ENV, **env},
        timeout=1200 if wrapper else 120,
        wrapper=wrapper,
    )


@dataclass(frozen=True)
class _Subject:
    """One row of the table: a module a fresh interpreter imports, and how."""

    label: str
    module: str
    attr: str
    env: dict[str, str]
    path: list[Path]
    bare: bool = False

    def once(self) -> tuple[float, float]:
        """Wall and CPU milliseconds of one fresh interpreter's import and init."""
        timed = last_json(_run_child(self.module, self.attr, self.env, self.path, self.bare))
        return float(timed["ms"]), float(timed["cpu_ms"])

    def instructions(self) -> int:
        """Instructions the whole child runs under callgrind: the same on any machine state."""
        done = _run_child(self.module, self.attr, self.env, self.path, self.bare, _CALLGRIND)
        found = _COLLECTED.search(done.stderr)
        if found is None:
            raise RuntimeError("callgrind printed no instruction count")
        return int(found.group(1))


def _medians(subjects: list[_Subject], repeat: int) -> dict[str, tuple[float, float] | str]:
    """Median wall and CPU milliseconds of each subject, or why it failed.

    The runs go in rounds, every subject once per round, so a machine that gets busier or
    quieter during the run moves the floor and the functions alike and the ratios stay fair.
    On an idle machine the two figures agree (the files are cached, so an import is all CPU);
    on a shared one the CPU figure leaves out the time spent waiting for a core, so its ratio
    is the steadier one.
    """
    runs: dict[str, list[tuple[float, float]]] = {}
    failed: dict[str, str] = {}
    # The first run warms the bytecode cache and the OS file cache; Lambda ships both warm.
    for subject in subjects:
        try:
            subject.once()
            runs[subject.label] = []
        except RuntimeError as error:
            failed[subject.label] = str(error)
    for _ in range(repeat):
        for subject in subjects:
            if subject.label in runs:
                runs[subject.label].append(subject.once())
    medians: dict[str, tuple[float, float] | str] = dict(failed)
    for label, timed in runs.items():
        medians[label] = (
            statistics.median(r[0] for r in timed),
            statistics.median(r[1] for r in timed),
        )
    return medians


def _instructions(subjects: list[_Subject]) -> dict[str, int | str]:
    """Instructions each subject's import and init runs (millions), or why it failed: the
    child's total under callgrind less that of the same child importing nothing. A count does
    not move with the machine's load, so it compares across runs and days; it leaves out
    what time adds (memory stalls), so the timed table stays the measure of record."""
    nothing = _Subject("nothing", "sys", "", subjects[0].env, subjects[0].path, bare=True)

    def count(subject: _Subject) -> int | str:
        try:
            subject.once()  # bytecode and file cache warm, as for the timed figures
            return subject.instructions()
        except RuntimeError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counted = dict(zip([s.label for s in subjects], pool.map(count, subjects), strict=True))
    base = count(nothing)
    if isinstance(base, str):
        raise SystemExit(f"the interpreter alone failed under callgrind: {base}")
    return {
        label: figure if isinstance(figure, str) else figure - base
        for label, figure in counted.items()
    }


_FLOORS = Path(__file__).with_name("cold_floors")
_REFERENCES = (
    ("powertools_consumer", "ref: Powertools consumer"),
    ("powertools_api", "ref: Powertools REST API"),
)
#: What a deployed function's environment gives Powertools (tracing on, as in Lambda).
_REFERENCE_ENV = {
    "POWERTOOLS_SERVICE_NAME": "reference",
    "AWS_LAMBDA_FUNCTION_NAME": "reference",
    "LAMBDA_TASK_ROOT": str(_FLOORS),
}


def _built_layers(template: dict[str, Any], build: Path) -> list[Path]:
    """The template's own layers as built: what Lambda mounts under /opt/python."""
    return [build / layer / "python" for layer in resources_of_type(template, *LAYER_TYPES)]


def _paths(spec: FunctionSpec, build: Path | None, built_layers: list[Path]) -> list[Path]:
    if build is None:
        return [spec.code_dir, *spec.layer_dirs]
    return [build / spec.logical_id, *built_layers]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--built",
        nargs="?",
        type=Path,
        const=ROOT / ".aws-sam" / "build",
        default=None,
        help="time the built artifacts (default .aws-sam/build) instead of the source tree",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind's callgrind instead of timing (minutes)",
    )
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind (Debian: apt-get install valgrind)")
    build: Path | None = args.built
    if build is not None and not (build / "template.yaml").is_file():
        parser.error(f"{build} holds no build: run make build first")
    # As deployed the files are read-only: bytecode is what the build shipped, or none.
    read_only = {"PYTHONDONTWRITEBYTECODE": "1"} if build is not None else {}
    template = load_template(ROOT / "template.yaml")
    built_layers = _built_layers(template, build) if build is not None else []

    floor_label = "floor: import boto3"
    subjects = [_Subject(floor_label, "boto3", "", read_only, built_layers, bare=True)]
    subjects += [
        _Subject(label, module, "", {**_REFERENCE_ENV, **read_only}, [_FLOORS, *built_layers], True)
        for module, label in _REFERENCES
    ]
    for spec in load_functions(template, Resolver(template), ROOT):
        module, _, attr = spec.handler.rpartition(".")
        env = {**spec.environment, **runtime_variables(spec), **read_only}
        subjects.append(
            _Subject(spec.logical_id, module, attr, env, _paths(spec, build, built_layers))
        )
    if args.instructions:
        return _print_instructions(subjects, floor_label, build)
    medians = _medians(subjects, args.repeat)
    floor_figures = medians[floor_label]
    if isinstance(floor_figures, str):
        raise SystemExit(f"the floor failed: {floor_figures}")
    floor, floor_cpu = floor_figures
    rows: list[tuple[str, str]] = []
    for subject in subjects:
        figures = medians[subject.label]
        if isinstance(figures, str):
            rows.append((subject.label, f"   error  {figures}"))
            continue
        ms, cpu = figures
        rows.append(
            (subject.label, f"{ms:8.1f}  {ms / floor:8.2f}  {cpu:8.1f}  {cpu / floor_cpu:8.2f}")
        )

    width = max(len(name) for name, _ in rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    source = f"built, read-only: {build}" if build is not None else "source tree"
    print(
        f"cold start: median of {args.repeat} rounds of fresh interpreters, import + init inside"
        f" the child ({source}; load average {load:.1f})"
    )
    print(
        f"{'function'.ljust(width)}  {'wall ms':>8}  {'x floor':>8}  {'cpu ms':>8}  {'x floor':>8}"
    )
    for name, figures in rows:
        print(f"{name.ljust(width)}  {figures}")
    return 0


def _print_instructions(subjects: list[_Subject], floor_label: str, build: Path | None) -> int:
    counts = _instructions(subjects)
    floor = counts[floor_label]
    if isinstance(floor, str):
        raise SystemExit(f"the floor failed: {floor}")
    width = max(len(subject.label) for subject in subjects)
    source = f"built, read-only: {build}" if build is not None else "source tree"
    print(f"cold start: instructions of import + init under callgrind ({source})")
    print(f"{'function'.ljust(width)}  {'M instr':>8}  {'x floor':>8}")
    for subject in subjects:
        figure = counts[subject.label]
        if isinstance(figure, str):
            print(f"{subject.label.ljust(width)}     error  {figure}")
        else:
            print(f"{subject.label.ljust(width)}  {figure / 1e6:8.0f}  {figure / floor:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
