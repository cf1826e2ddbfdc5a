"""Suite-wide wiring: layer markers by folder, and the one local stack the HTTP layers share.

The stack runs as `python -m infra.local` in a subprocess, exactly as `make run` starts it
(demo data included unless E2E_DEMO_DATA=0), at most once per test session whichever of the
end-to-end, contract or reliability layers asks for it first. Short hold and sweep times keep
expiry tests fast; override them with E2E_RESERVATION_TTL_SECONDS and E2E_SWEEP_INTERVAL_SECONDS.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, settings

# Properties, not timings, are under test (benchmarks measure time): no per-example deadline and
# no "too slow" health check, which a shared or busy machine trips without any fault in the code.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR.parent))  # the repo root, for infra.local

from infra.local.harness import StackProcess, start_stack  # noqa: E402

LAYERS = ("unit", "integration", "e2e", "reliability", "contract")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked with its layer's folder name, so `-m e2e` or `-m "not e2e"` work."""
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(TESTS_DIR).parts
        if parts and parts[0] in LAYERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def session_timings() -> tuple[int, float]:
    """The session stack's hold lifetime and sweep interval, in seconds: ``(ttl, sweep)``."""
    ttl = int(os.environ.get("E2E_RESERVATION_TTL_SECONDS", "5"))
    # Every 3 s, not 1: an idle sweep is some 40 sharded Queries, and at 1 s the session
    # stack's sweeps alone took a tenth of the suite's CPU.
    sweep = float(os.environ.get("E2E_SWEEP_INTERVAL_SECONDS", "3"))
    return ttl, sweep


@pytest.fixture(scope="session")
def stack(session_timings: tuple[int, float]) -> Iterator[StackProcess]:
    """The running stack: .base_url, .dynamodb_endpoint, .moto_endpoint, .info (ready file),
    .token(sub, groups, email), .auth(sub, groups, email) -> Authorization header and
    .client(service) -> a boto3 client of its emulators. Flows over it: tests/stack_helpers.py."""
    args = [] if os.environ.get("E2E_DEMO_DATA", "1") != "0" else ["--no-demo-data"]
    ttl, sweep = session_timings
    env = {"RESERVATION_TTL_SECONDS": str(ttl), "SWEEP_INTERVAL_SECONDS": str(sweep)}
    # Start-up includes the demo data (orders paid and delivered through the queues): on a
    # busy two-core machine that takes minutes, not seconds.
    running = start_stack(args=args, env=env, timeout=300)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(stack: StackProcess) -> Iterator[requests.Session]:
    """A fresh HTTP session per test (no cookies or headers shared between tests)."""
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def _nothing_seen_before() -> None:
    """Each case starts as a fresh function instance does: no SKU marked sold out, no stock meta
    remembered (what an earlier case's tables said of a SKU must not speak for this case's)."""
    marks = sys.modules.get("commerce.carts.sold_out")
    if marks is not None:
        marks.forget()
    inventory = sys.modules.get("commerce.store.inventory")
    if inventory is not None:
        inventory.forget_seen()
