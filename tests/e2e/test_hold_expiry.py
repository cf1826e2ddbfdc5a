"""Hold expiry over HTTP: the stack's sweeper gives an expired hold back within two sweeps.

The session stack's hold lifetime and sweep interval come from conftest (``session_timings``:
5 s and 3 s unless overridden), so a hold taken now must be released no later than about
5 + 2 x 3 seconds from now.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from stack_helpers import create_product, inventory, new_cart

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

#: Slack for one request round trip and the scheduler's own start-up, on a busy machine.
SLACK = 1.5


def _reserved(stack: StackProcess, sku: str) -> int:
    return int(inventory(stack, sku)["reserved"])


def test_an_expired_hold_is_released_within_two_sweeps(
    stack: Any, http: requests.Session, session_timings: tuple[int, float]
) -> None:
    ttl, sweep = session_timings
    base = stack.base_url
    sku = create_product(stack, "E2E-EXPIRY", stock=4, price=100, name="E2E expiring hold")
    cart_id, token = new_cart(stack)
    held_at = time.monotonic()
    put = http.put(
        f"{base}/carts/{cart_id}/items/{sku}",
        json={"quantity": 3},
        headers=token,
        timeout=30,
    )
    assert put.status_code == 200, put.text
    assert _reserved(stack, sku) == 3

    deadline = held_at + ttl + 2 * sweep + SLACK
    while _reserved(stack, sku) != 0:
        assert time.monotonic() < deadline, "the expired hold was not released in time"
        time.sleep(0.2)
    released_after = time.monotonic() - held_at
    assert released_after >= ttl - 1  # not before it expired (whole-second expiry)

    line = http.get(f"{base}/carts/{cart_id}", headers=token, timeout=30).json()["lines"][0]
    assert line["quantity"] == 3
    assert line["reserved_until"] is None
    # The lapsed line can hold again.
    again = http.put(
        f"{base}/carts/{cart_id}/items/{sku}",
        json={"quantity": 3},
        headers=token,
        timeout=30,
    )
    assert again.status_code == 200
    assert again.json()["lines"][0]["reserved_until"]
    assert _reserved(stack, sku) == 3
