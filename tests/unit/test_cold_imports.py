"""What each function loads at cold start, as deployed: its handler imported in a fresh
interpreter with the template's environment and the Lambda runtime's variables.

A cold start pays for every module imported, so these hold the cuts made for it: no function
loads pyOpenSSL through botocore (``commerce/__init__.py``), no queue, stream or schedule
consumer loads pydantic or Powertools' REST resolver, which only the API functions use, the
functions that only read orders load no cart, hold or catalog store, and
every function loads its modules with the garbage collector held (``commerce/cold_start.py``):
held from before the first library, running again once the handler is loaded, with what the
load made frozen out of its way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.local.environment import last_json, run_offline, runtime_variables
from infra.local.functions import FunctionSpec, load_functions
from infra.local.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = load_functions(TEMPLATE, Resolver(TEMPLATE), ROOT)

#: Modules only a function with routes needs.
HTTP_ONLY = ("pydantic", "aws_lambda_powertools.event_handler", "commerce.http.api")
#: Modules no function needs at cold start.
NEVER = ("OpenSSL", "cryptography.x509")
#: The cart rules, the store of carts, holds and the catalog, and the functions that never touch
#: them: they read orders (whose guest tokens and addresses are modules of their own, and whose
#: stock moves are ``store.stock_moves``), so they load none of it.
CART_AND_CATALOG = (
    "commerce.domain.cart",
    "commerce.store.carts",
    "commerce.store.holds",
    "commerce.store.inventory",
    "commerce.store.products",
)
NO_CART_OR_CATALOG = (
    "AnalyticsFunction",
    "CampaignsFunction",
    "ExportFunction",
    "InsightFunction",
    "NotificationsFunction",
    "TicketsFunction",
    "WebhooksFunction",
)

#: Libraries whose loading the collector must not slow: the first of them to load comes after
#: ``commerce.cold_start``.
LIBRARIES = ("aws_lambda_powertools", "boto3", "botocore", "pydantic", "pynamodb")

_CHILD = """
import gc, importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps({
    "modules": list(sys.modules),
    "collecting": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""

_COLLECTOR_CHILD = """
import gc, json, sys
if sys.argv[1] == "off":
    gc.disable()
import commerce.cold_start
held = not gc.isenabled()
commerce.cold_start.init_done()
frozen = gc.get_freeze_count()
made_since = [[] for _ in range(1000)]
commerce.cold_start.init_done()
print(json.dumps({
    "held": held,
    "collecting": gc.isenabled(),
    "frozen": frozen,
    "frozen_again": gc.get_freeze_count() - frozen,
}))
"""


def _is_api(spec: FunctionSpec) -> bool:
    return any(event.get("Type") == "Api" for event in spec.events.values())


def _cold_start(spec: FunctionSpec) -> dict[str, Any]:
    """What importing the handler left: the modules in load order and the collector's state."""
    done = run_offline(
        _CHILD,
        spec.handler.rpartition(".")[0],
        path=[spec.code_dir, *spec.layer_dirs],
        env={**spec.environment, **runtime_variables(spec)},
    )
    result: dict[str, Any] = last_json(done)
    return result


@pytest.fixture(scope="module", params=FUNCTIONS, ids=[s.logical_id for s in FUNCTIONS])
def cold_start(request: pytest.FixtureRequest) -> tuple[FunctionSpec, dict[str, Any]]:
    spec: FunctionSpec = request.param
    return spec, _cold_start(spec)


def test_a_cold_start_loads_only_what_the_function_uses(
    cold_start: tuple[FunctionSpec, dict[str, Any]],
) -> None:
    spec, result = cold_start
    loaded = set(result["modules"])
    assert "botocore" in loaded, "the import reached no AWS client: the check proves nothing"
    assert not loaded & set(NEVER)
    if _is_api(spec):
        assert set(HTTP_ONLY) <= loaded
    else:
        assert not loaded & set(HTTP_ONLY)
    if spec.logical_id in NO_CART_OR_CATALOG:
        assert not loaded & set(CART_AND_CATALOG)


def test_a_function_loads_its_libraries_with_the_collector_held_and_frozen_out_after(
    cold_start: tuple[FunctionSpec, dict[str, Any]],
) -> None:
    _, result = cold_start
    modules: list[str] = result["modules"]
    first_library = min(
        index for index, name in enumerate(modules) if name.split(".")[0] in LIBRARIES
    )
    assert "commerce.cold_start" in modules[:first_library]
    assert result["collecting"], "the handler never called init_done(): no garbage is collected"
    assert result["frozen"] > 10_000, "what the load made is still scanned by every collection"


@pytest.mark.parametrize("before", ["on", "off"])
def test_the_collector_is_held_until_the_first_init_done_then_left_as_found(before: str) -> None:
    result = last_json(
        run_offline(_COLLECTOR_CHILD, before, path=FUNCTIONS[0].layer_dirs, timeout=60)
    )
    assert result["held"]
    assert result["collecting"] is (before == "on")
    assert result["frozen"] > 0
    assert result["frozen_again"] == 0, "a second init_done froze what the process made since"


def test_the_api_functions_and_the_consumers_are_both_checked() -> None:
    kinds = {_is_api(spec) for spec in FUNCTIONS}
    assert kinds == {True, False}
    assert set(NO_CART_OR_CATALOG) <= {spec.logical_id for spec in FUNCTIONS}
