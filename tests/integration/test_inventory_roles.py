"""Who may read and adjust stock: support reads, ops and admin adjust."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

MATRIX = [
    # role, read status, adjust status
    (None, 401, 401),
    ("customer", 403, 403),
    ("support", 200, 403),
    ("ops", 200, 200),
    ("admin", 200, 200),
]


@pytest.mark.parametrize(("role", "read", "adjust"), MATRIX)
def test_role_matrix(
    create_product: Callable[..., Any],
    call_inventory: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., dict[str, Any]],
    role: str | None,
    read: int,
    adjust: int,
) -> None:
    create_product(("TEA-LJ-50G", 10))
    got = call_inventory(make_event("inventory_get.json", role=role))
    changed = call_inventory(make_event("inventory_adjust.json", role=role))
    assert (got.status, changed.status) == (read, adjust)
    for reply in (got, changed):
        if reply.status >= 400:
            assert reply.content_type == "application/problem+json"
            assert reply.body["type"] == {401: "unauthorized", 403: "forbidden"}[reply.status]
    on_hand = call_inventory(make_event("inventory_get.json", role="ops")).body["on_hand"]
    assert on_hand == (7 if adjust == 200 else 10)
