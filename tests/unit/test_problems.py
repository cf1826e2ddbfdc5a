"""Typed failures become RFC 9457 problems; validation errors name fields as clients sent them."""

from __future__ import annotations

import json

import pytest
from commerce.errors import (
    CommerceError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    OutOfStock,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from commerce.http.problems import PROBLEM_CONTENT_TYPE, problem_response, validation_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "slug", "status"),
    [
        (ValidationFailed([FieldError("name", "Field required")]), "validation-error", 400),
        (Unauthorized(), "unauthorized", 401),
        (Forbidden(), "forbidden", 403),
        (NotFound(), "not-found", 404),
        (Conflict("no"), "conflict", 409),
        (OutOfStock("A-1", 2), "out-of-stock", 409),
        (CommerceError(), "internal-error", 500),
    ],
)
def test_slug_status_and_content_type(error: CommerceError, slug: str, status: int) -> None:
    response = problem_response(error)
    body = json.loads(str(response.body))
    assert response.status_code == status
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert body["type"] == slug
    assert body["status"] == status
    assert {"title", "detail"} <= set(body)


def test_extensions_ride_alongside() -> None:
    body = json.loads(str(problem_response(Conflict("low", available=3)).body))
    assert body["available"] == 3
    body = json.loads(str(problem_response(OutOfStock("A-1", 2)).body))
    assert body["available"] == 2


def test_retry_after_header() -> None:
    assert problem_response(TooManyRequests(7)).headers["Retry-After"] == "7"


def test_validation_locations_become_client_field_names() -> None:
    problem = validation_problem(
        [
            {"loc": ("body", "skus", 0, "price", "amount"), "type": "int_type", "msg": "bad"},
            {"loc": ("body", "name"), "type": "missing", "msg": "Field required"},
            {"loc": ("body", "extra"), "type": "extra_forbidden", "msg": "Extra inputs"},
            {"loc": ("query", "limit"), "type": "less_than_equal", "msg": "too big"},
            {"loc": ("body", 12), "type": "json_invalid", "msg": "x", "ctx": {"error": "EOF"}},
        ]
    )
    assert problem.status == 400
    assert problem.extensions["errors"] == [
        {"field": "skus[0].price.amount", "message": "bad"},
        {"field": "name", "message": "Field required"},
        {"field": "extra", "message": "Unknown field"},
        {"field": "limit", "message": "too big"},
        {"field": "body", "message": "Malformed JSON: EOF"},
    ]


def test_value_error_prefix_is_dropped() -> None:
    problem = validation_problem(
        [{"loc": ("body", "skus"), "type": "value_error", "msg": "Value error, SKU listed twice"}]
    )
    assert problem.errors[0].message == "SKU listed twice"
