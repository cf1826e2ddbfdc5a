"""Compile the built functions and layer to bytecode that Lambda can use as shipped.

    python -m infra.build.bytecode [.aws-sam/build] [--template template.yaml]
    make build   # sam build, then this

Lambda's code and layers are read-only, and ``sam build`` ships no bytecode: its Python
workflow unpacks wheels without compiling them and leaves ``__pycache__`` out of the copied
source. Without this step every cold start compiles botocore, PynamoDB, the providers' SDKs and
the commerce package from source, and throws the result away (docs: README, "Benchmarks":
about twice the import time). The bytecode is ``unchecked-hash`` (PEP 552): SAM's zip dates
every file 1980-01-01, so a timestamp-checked ``.pyc`` would never match its source and would
be recompiled anyway; an artifact is never edited after its build, so checking it is not
needed. Bytecode is tied to the Python minor version, not the architecture: the interpreter
running this must be the template's runtime, or the step refuses (a ``cpython-312`` cache is
ignored by ``python3.11``).
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.local.functions import FUNCTION_TYPES
from infra.local.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")


class BytecodeError(Exception):
    """The build cannot be given bytecode its runtime would use."""


def runtime_version(template: dict[str, Any]) -> tuple[int, int]:
    """The Python version every function runs on (``Globals.Function.Runtime``); a function
    that declares another one is refused, as one build serves them all."""
    declared = {((template.get("Globals") or {}).get("Function") or {}).get("Runtime")}
    for function in resources_of_type(template, *FUNCTION_TYPES).values():
        declared.add((function.get("Properties") or {}).get("Runtime"))
    runtimes = {r for r in declared if r is not None}
    if len(runtimes) != 1:
        raise BytecodeError(f"the functions declare {sorted(runtimes)}, not one Python runtime")
    (runtime,) = runtimes
    match = _RUNTIME.fullmatch(str(runtime))
    if match is None:
        raise BytecodeError(f"{runtime} is not a Python runtime")
    return int(match[1]), int(match[2])


def compile_build(build_dir: Path, runtime: tuple[int, int]) -> int:
    """Compile every module under ``build_dir``; the number of modules compiled."""
    if sys.version_info[:2] != runtime:
        raise BytecodeError(
            f"this is Python {sys.version_info[0]}.{sys.version_info[1]}; the functions run "
            f"python{runtime[0]}.{runtime[1]}, which would ignore its bytecode"
        )
    if not build_dir.is_dir():
        raise BytecodeError(f"{build_dir} does not exist: run sam build first")
    compiled = compileall.compile_dir(
        build_dir,
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not compiled:
        raise BytecodeError(f"a module under {build_dir} does not compile")
    return sum(1 for _ in build_dir.rglob(f"*.cpython-{runtime[0]}{runtime[1]}.pyc"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)
    try:
        count = compile_build(args.build_dir, runtime_version(load_template(args.template)))
    except BytecodeError as error:
        print(f"bytecode: {error}", file=sys.stderr)
        return 2
    print(f"bytecode: {count} modules under {args.build_dir} (unchecked-hash)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
