"""Who may create products; browsing needs no token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("role", "status", "slug"),
    [
        (None, 401, "unauthorized"),
        ("customer", 403, "forbidden"),
        ("support", 403, "forbidden"),
        ("ops", 201, None),
        ("admin", 201, None),
    ],
)
def test_create_product_roles(
    call_catalog: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., dict[str, Any]],
    scan_all: Any,
    role: str | None,
    status: int,
    slug: str | None,
) -> None:
    reply = call_catalog(make_event("catalog_create_product.json", role=role))
    assert reply.status == status
    written = sum(len(items) for items in scan_all().values())
    if slug is None:
        assert written > 0
        return
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == slug
    assert written == 0


@pytest.mark.parametrize("role", [None, "customer"])
def test_browsing_is_public(
    create_product: Callable[..., Any],
    call_catalog: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., dict[str, Any]],
    role: str | None,
) -> None:
    product_id = create_product(("PUB-1", 2)).body["product_id"]
    listed = call_catalog(make_event("catalog_list_products.json", role=role))
    got = call_catalog(
        make_event("catalog_get_product.json", role=role, path_params={"product_id": product_id})
    )
    assert listed.status == 200
    assert [p["product_id"] for p in listed.body["items"]] == [product_id]
    assert got.status == 200


def test_unknown_route_is_404_problem(
    call_catalog: Callable[[dict[str, Any]], Any], make_event: Callable[..., dict[str, Any]]
) -> None:
    event = make_event("catalog_list_products.json")
    event["path"] = event["resource"] = "/nope"
    reply = call_catalog(event)
    assert reply.status == 404
    assert reply.body["type"] == "not-found"
