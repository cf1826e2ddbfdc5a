"""What each function loads at cold start, as deployed: its handler imported in a fresh
interpreter with the template's environment and the Lambda runtime's variables.

A cold start pays for every module imported, so these hold the cuts made for it: no function
loads pyOpenSSL through botocore (``commerce/__init__.py``), and no queue, stream or schedule
consumer loads pydantic or Powertools' REST resolver, which only the API functions use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.environment import offline_environment, runtime_variables
from infra.local.functions import FunctionSpec, load_functions
from infra.local.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = load_functions(TEMPLATE, Resolver(TEMPLATE), ROOT)

#: Modules only a function with routes needs.
HTTP_ONLY = ("pydantic", "aws_lambda_powertools.event_handler", "commerce.http.api")
#: Modules no function needs at cold start.
NEVER = ("OpenSSL", "cryptography.x509")

_CHILD = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def _is_api(spec: FunctionSpec) -> bool:
    return any(event.get("Type") == "Api" for event in spec.events.values())


def _loaded(spec: FunctionSpec) -> set[str]:
    env = offline_environment([spec.code_dir, *spec.layer_dirs])
    env.update(spec.environment)
    env.update(runtime_variables(spec))
    module = spec.handler.rpartition(".")[0]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, module],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[s.logical_id for s in FUNCTIONS])
def test_a_cold_start_loads_only_what_the_function_uses(spec: FunctionSpec) -> None:
    loaded = _loaded(spec)
    assert "botocore" in loaded, "the import reached no AWS client: the check proves nothing"
    assert not loaded & set(NEVER)
    if _is_api(spec):
        assert set(HTTP_ONLY) <= loaded
    else:
        assert not loaded & set(HTTP_ONLY)


def test_the_api_functions_and_the_consumers_are_both_checked() -> None:
    kinds = {_is_api(spec) for spec in FUNCTIONS}
    assert kinds == {True, False}
