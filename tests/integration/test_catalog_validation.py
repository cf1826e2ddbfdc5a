"""Every bad product request is a 400 problem naming the field, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _sku(**overrides: Any) -> dict[str, Any]:
    return {"sku": "V-1", "price": {"amount": 100, "currency": "CNY"}, "stock": 1, **overrides}


def _body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Valid", "skus": [_sku()], **overrides}


CASES: list[tuple[str, Any, str]] = [
    ("empty name", _body(name=""), "name"),
    ("blank name", _body(name="  "), "name"),
    ("long name", _body(name="n" * 201), "name"),
    ("name not a string", _body(name=5), "name"),
    ("long description", _body(description="d" * 5001), "description"),
    ("no skus", _body(skus=[]), "skus"),
    ("too many skus", _body(skus=[_sku(sku=f"V-{i}") for i in range(21)]), "skus"),
    ("duplicate sku", _body(skus=[_sku(), _sku()]), "skus"),
    ("bad sku code", _body(skus=[_sku(sku="has space")]), "skus[0].sku"),
    (
        "float price",
        _body(skus=[_sku(price={"amount": 9.99, "currency": "CNY"})]),
        "skus[0].price.amount",
    ),
    (
        "bool price",
        _body(skus=[_sku(price={"amount": True, "currency": "CNY"})]),
        "skus[0].price.amount",
    ),
    (
        "string price",
        _body(skus=[_sku(price={"amount": "100", "currency": "CNY"})]),
        "skus[0].price.amount",
    ),
    (
        "negative price",
        _body(skus=[_sku(price={"amount": -1, "currency": "CNY"})]),
        "skus[0].price.amount",
    ),
    (
        "huge price",
        _body(skus=[_sku(price={"amount": 10**10 + 1, "currency": "CNY"})]),
        "skus[0].price.amount",
    ),
    (
        "other currency",
        _body(skus=[_sku(price={"amount": 1, "currency": "USD"})]),
        "skus[0].price.currency",
    ),
    ("negative stock", _body(skus=[_sku(stock=-1)]), "skus[0].stock"),
    ("huge stock", _body(skus=[_sku(stock=10**7 + 1)]), "skus[0].stock"),
    ("float stock", _body(skus=[_sku(stock=2.0)]), "skus[0].stock"),
    ("negative safety stock", _body(skus=[_sku(safety_stock=-1)]), "skus[0].safety_stock"),
    (
        "too many attributes",
        _body(skus=[_sku(attributes={f"k{i}": "v" for i in range(21)})]),
        "skus[0].attributes",
    ),
    ("long attribute key", _body(skus=[_sku(attributes={"k" * 65: "v"})]), "skus[0].attributes"),
    (
        "long attribute value",
        _body(skus=[_sku(attributes={"k": "v" * 257})]),
        "skus[0].attributes.k",
    ),
    ("non-string attribute", _body(skus=[_sku(attributes={"k": 1})]), "skus[0].attributes.k"),
    ("unknown field", _body(colour="red"), "colour"),
    ("unknown sku field", _body(skus=[_sku(weight=3)]), "skus[0].weight"),
    ("missing skus", {"name": "x"}, "skus"),
    ("not an object", [1, 2], "body"),
]


@pytest.mark.parametrize(("case", "body", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_body_is_400_and_writes_nothing(
    call_catalog: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., dict[str, Any]],
    scan_all: Any,
    case: str,
    body: Any,
    field: str,
) -> None:
    reply = call_catalog(make_event("catalog_create_product.json", body=body))
    assert reply.status == 400, (case, reply.body)
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "validation-error"
    fields = [e["field"] for e in reply.body["errors"]]
    assert any(f.startswith(field) for f in fields), fields
    assert all(items == [] for items in scan_all().values())


def test_malformed_json_is_400(
    call_catalog: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., dict[str, Any]],
    scan_all: Any,
) -> None:
    reply = call_catalog(make_event("catalog_create_product.json", raw_body='{"name": "x",'))
    assert reply.status == 400
    assert reply.body["errors"][0]["field"] == "body"
    assert all(items == [] for items in scan_all().values())


def test_form_body_is_415(
    call_catalog: Callable[[dict[str, Any]], Any],
    make_event: Callable[..., dict[str, Any]],
    scan_all: Any,
) -> None:
    event = make_event(
        "catalog_create_product.json",
        raw_body="name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    reply = call_catalog(event)
    assert reply.status == 415
    assert reply.body["type"] == "unsupported-media-type"
    assert all(items == [] for items in scan_all().values())


def test_problem_never_leaks_internal_names(
    call_catalog: Callable[[dict[str, Any]], Any], make_event: Callable[..., dict[str, Any]]
) -> None:
    reply = call_catalog(make_event("catalog_create_product.json", body=_body(name="")))
    text = json.dumps(reply.body)
    for internal in ("CreateProductIn", "commerce", "Traceback", "pydantic"):
        assert internal not in text
