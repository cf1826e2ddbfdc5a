"""The fresh interpreters the cold-start checks and benches run (``infra.local.environment``):
they import only from the path they are given, never see the developer's AWS identity, and a
failing one is reported by its last line of error output."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.environment import last_json, run_offline

_REPORT = """
import json, os, sys
print("noise first")
print(json.dumps({"args": sys.argv[1:], "key": os.environ.get("AWS_ACCESS_KEY_ID"),
                  "extra": os.environ.get("EXTRA"), "path": os.environ.get("PYTHONPATH")}))
"""


def test_a_child_reports_on_its_last_line_in_the_offline_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "the-developers-own")
    done = run_offline(_REPORT, "a", "b", path=[tmp_path], env={"EXTRA": "given"})
    assert last_json(done) == {
        "args": ["a", "b"],
        "key": "offline",
        "extra": "given",
        "path": str(tmp_path),
    }


def test_a_failing_child_raises_its_last_error_line(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError: division by zero"):
        run_offline("print('fine so far')\n1 / 0", path=[tmp_path])
