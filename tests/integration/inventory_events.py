"""Stock adjustment requests as API Gateway events, for the inventory tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def adjust_event(
    make_event: Callable[..., Any],
    sku: str,
    delta: Any,
    reason: str = "cycle count",
    key: str | None = None,
    role: str | None = "ops",
) -> dict[str, Any]:
    """``POST /admin/inventory/{sku}/adjustments`` by ``role``, with ``key`` as its
    Idempotency-Key (none unless given)."""
    event: dict[str, Any] = make_event(
        "inventory_adjust.json",
        role=role,
        body={"delta": delta, "reason": reason},
        path_params={"sku": sku},
    )
    event["headers"].pop("Idempotency-Key", None)
    event["multiValueHeaders"].pop("Idempotency-Key", None)
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    return event
