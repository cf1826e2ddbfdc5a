"""SweeperFunction's handler with its scheduled event sample, against moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from orders_world import Context

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _event() -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / "sweeper_schedule.json").read_text()))


def test_the_handler_releases_expired_holds_and_reports_the_metric(
    dynamodb: Any,
    create_product: Callable[..., Any],
    sweeper_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from commerce import clock
    from commerce.carts import service
    from commerce.http.auth import Caller
    from commerce.settings import get_settings

    create_product(("SWEEP-1", 5))
    for quantity in (1, 2):
        cart = service.create_cart(Caller())
        service.set_item(cart.cart_id, "SWEEP-1", quantity, Caller(), cart.cart_token)
    later = clock.now() + get_settings().reservation_ttl_seconds + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    capsys.readouterr()
    result = sweeper_module.lambda_handler(_event(), Context(60_000))
    assert result == {"released": 2, "skipped": 0, "stopped_early": False}
    metric_lines = [line for line in capsys.readouterr().out.splitlines() if "HoldsExpired" in line]
    assert metric_lines
    assert json.loads(metric_lines[-1])["HoldsExpired"] == [2.0]
    again = sweeper_module.lambda_handler(_event(), Context(60_000))
    assert again["released"] == 0


def test_an_empty_run_is_quiet_and_fine(dynamodb: Any, sweeper_module: ModuleType) -> None:
    assert sweeper_module.lambda_handler(_event(), Context(60_000))["released"] == 0


def test_a_run_short_of_time_stops(dynamodb: Any, sweeper_module: ModuleType) -> None:
    result = sweeper_module.lambda_handler(_event(), Context(remaining_ms=100))
    assert result["stopped_early"] is True
