"""Hold expiry over HTTP: the stack's sweeper gives an expired hold back within two sweeps.

The session stack runs with RESERVATION_TTL_SECONDS=5 and SWEEP_INTERVAL_SECONDS=1 (see
conftest), so a hold taken now must be released no later than about 5 + 2 x 1 seconds from now.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

TTL = int(os.environ.get("E2E_RESERVATION_TTL_SECONDS", "5"))
SWEEP = float(os.environ.get("E2E_SWEEP_INTERVAL_SECONDS", "1"))
#: Slack for one request round trip and the scheduler's own start-up, on a busy machine.
SLACK = 1.5


def _reserved(stack: Any, sku: str) -> int:
    response = requests.get(
        f"{stack.base_url}/admin/inventory/{sku}",
        headers=stack.auth("e2e-ops", ["ops"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["reserved"])


def test_an_expired_hold_is_released_within_two_sweeps(stack: Any, http: requests.Session) -> None:
    base = stack.base_url
    sku = f"E2E-EXPIRY-{uuid.uuid4().hex[:12]}"
    product = {
        "name": "E2E expiring hold",
        "skus": [{"sku": sku, "price": {"amount": 100, "currency": "CNY"}, "stock": 4}],
    }
    created = http.post(
        f"{base}/admin/products", json=product, headers=stack.auth("e2e-ops", ["ops"]), timeout=30
    )
    assert created.status_code == 201, created.text
    cart = http.post(f"{base}/carts", timeout=30).json()
    token = {"X-Cart-Token": cart["cart_token"]}
    held_at = time.monotonic()
    put = http.put(
        f"{base}/carts/{cart['cart_id']}/items/{sku}",
        json={"quantity": 3},
        headers=token,
        timeout=30,
    )
    assert put.status_code == 200, put.text
    assert _reserved(stack, sku) == 3

    deadline = held_at + TTL + 2 * SWEEP + SLACK
    while _reserved(stack, sku) != 0:
        assert time.monotonic() < deadline, "the expired hold was not released in time"
        time.sleep(0.2)
    released_after = time.monotonic() - held_at
    assert released_after >= TTL - 1  # not before it expired (whole-second expiry)

    line = http.get(f"{base}/carts/{cart['cart_id']}", headers=token, timeout=30).json()["lines"][0]
    assert line["quantity"] == 3
    assert line["reserved_until"] is None
    # The lapsed line can hold again.
    again = http.put(
        f"{base}/carts/{cart['cart_id']}/items/{sku}",
        json={"quantity": 3},
        headers=token,
        timeout=30,
    )
    assert again.status_code == 200
    assert again.json()["lines"][0]["reserved_until"]
    assert _reserved(stack, sku) == 3
