"""SweeperFunction's handler with its scheduled event sample, against moto."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


class _Context:
    function_name = "commerce-local-SweeperFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sweeper"
    aws_request_id = "00000000-0000-4000-8000-000000000001"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(scope="module")
def sweeper_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sweeper_function_app", ROOT / "functions" / "sweeper" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event() -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / "sweeper_schedule.json").read_text()))


def test_the_handler_releases_expired_holds_and_reports_the_metric(
    dynamodb: Any,
    create_product: Callable[..., Any],
    sweeper_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from commerce.carts import clock, service
    from commerce.http.auth import Caller
    from commerce.settings import get_settings

    create_product(("SWEEP-1", 5))
    for quantity in (1, 2):
        cart = service.create_cart(Caller())
        service.set_item(cart.cart_id, "SWEEP-1", quantity, Caller(), cart.cart_token)
    later = clock.now() + get_settings().reservation_ttl_seconds + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    capsys.readouterr()
    result = sweeper_module.lambda_handler(_event(), _Context())
    assert result == {"released": 2, "skipped": 0, "stopped_early": False}
    metric_lines = [line for line in capsys.readouterr().out.splitlines() if "HoldsExpired" in line]
    assert metric_lines
    assert json.loads(metric_lines[-1])["HoldsExpired"] == [2.0]
    again = sweeper_module.lambda_handler(_event(), _Context())
    assert again["released"] == 0


def test_an_empty_run_is_quiet_and_fine(dynamodb: Any, sweeper_module: ModuleType) -> None:
    assert sweeper_module.lambda_handler(_event(), _Context())["released"] == 0


def test_a_run_short_of_time_stops(dynamodb: Any, sweeper_module: ModuleType) -> None:
    result = sweeper_module.lambda_handler(_event(), _Context(remaining_ms=100))
    assert result["stopped_early"] is True
