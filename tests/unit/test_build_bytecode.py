"""The build's bytecode step (infra/build/bytecode.py): bytecode that a read-only Lambda uses
as shipped, whatever dates SAM's zip gives the sources, and refusals where it would not be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.build import bytecode
from infra.build.bytecode import BytecodeError, compile_build, runtime_version
from infra.local.stack import REPO_ROOT
from infra.local.template import load_template

pytestmark = pytest.mark.unit

#: What SAM's zip gives every file: 1980-01-01.
ZIP_EPOCH = 315_532_800
HERE = (sys.version_info[0], sys.version_info[1])


def _layer(tmp_path: Path, source: str = "VALUE = 1\n") -> Path:
    package = tmp_path / "build" / "Layer" / "python" / "shipped"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source, encoding="utf-8")
    return tmp_path / "build"


def _value_as_lambda_imports_it(build: Path) -> Any:
    """Import from the build as Lambda does: read-only, so bytecode is used or recompiled in
    memory, never written."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = str(build / "Layer" / "python")
    done = subprocess.run(
        [sys.executable, "-c", "import shipped; print(shipped.VALUE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def test_the_bytecode_is_used_whatever_date_the_source_arrives_with(tmp_path: Path) -> None:
    build = _layer(tmp_path)
    assert compile_build(build, HERE) == 1
    source = build / "Layer" / "python" / "shipped" / "__init__.py"
    # Changed after the build, and dated as the zip dates it: only bytecode used unchecked
    # still answers 1 (a timestamp-checked .pyc is stale here and the source would say 2).
    source.write_text("VALUE = 2\n", encoding="utf-8")
    os.utime(source, (ZIP_EPOCH, ZIP_EPOCH))
    assert _value_as_lambda_imports_it(build) == 1


def test_another_python_than_the_runtime_is_refused(tmp_path: Path) -> None:
    build = _layer(tmp_path)
    with pytest.raises(BytecodeError, match="ignore its bytecode"):
        compile_build(build, (HERE[0], HERE[1] + 1))
    assert not list(build.rglob("*.pyc"))


def test_a_module_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    build = _layer(tmp_path, "VALUE = (\n")
    with pytest.raises(BytecodeError, match="does not compile"):
        compile_build(build, HERE)


def test_no_build_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(BytecodeError, match="run sam build first"):
        compile_build(tmp_path / "absent", HERE)


def test_the_template_runs_every_function_on_the_python_of_the_virtualenv() -> None:
    # make build compiles with .venv's interpreter: it must be the functions' runtime.
    assert runtime_version(load_template(REPO_ROOT / "template.yaml")) == HERE


def test_a_function_on_another_runtime_is_refused() -> None:
    template: dict[str, Any] = {
        "Globals": {"Function": {"Runtime": "python3.11"}},
        "Resources": {
            "Odd": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": "python3.12"}}
        },
    }
    with pytest.raises(BytecodeError, match="not one Python runtime"):
        runtime_version(template)


def test_the_command_reports_a_refusal_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bytecode.main([str(tmp_path / "absent")]) == 2
    assert "run sam build first" in capsys.readouterr().err
