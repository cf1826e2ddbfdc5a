"""Typed failures become RFC 9457 problems; validation errors name fields as clients sent them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from botocore.exceptions import ClientError
from commerce.errors import (
    CommerceError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    OutOfStock,
    PurchaseLimit,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from commerce.http.api import install
from commerce.http.problems import PROBLEM_CONTENT_TYPE, problem_response, validation_problem
from pynamodb.exceptions import UpdateError

pytestmark = pytest.mark.unit
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize(
    ("error", "slug", "status"),
    [
        (ValidationFailed([FieldError("name", "Field required")]), "validation-error", 400),
        (Unauthorized(), "unauthorized", 401),
        (Forbidden(), "forbidden", 403),
        (NotFound(), "not-found", 404),
        (Conflict("no"), "conflict", 409),
        (OutOfStock("A-1", 2), "out-of-stock", 409),
        (PurchaseLimit("A-1", 2), "purchase-limit", 409),
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
    body = json.loads(str(problem_response(PurchaseLimit("A-1", 3)).body))
    assert body["limit"] == 3


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


def _resolved(failure: BaseException) -> dict[str, Any]:
    """What a route that raised ``failure`` answers, through the shared wiring of every API."""
    app = install(APIGatewayRestResolver(enable_validation=True))

    @app.get("/things/<thing_id>")
    def get_thing(thing_id: str) -> dict[str, str]:
        raise failure

    event = json.loads((EVENTS / "catalog_get_product.json").read_text())
    event.update(resource="/things/{thing_id}", path="/things/t-1")
    event["pathParameters"] = {"thing_id": "t-1"}
    answer: dict[str, Any] = app.resolve(event, None)  # type: ignore[arg-type]
    return answer


def test_dynamodb_throttling_that_outlasted_the_sdks_retries_is_a_429_to_retry() -> None:
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "hot key"}},
        "UpdateItem",
    )
    answer = _resolved(UpdateError(cause=throttled))
    assert answer["statusCode"] == 429
    assert answer["multiValueHeaders"]["Retry-After"] == ["1"]
    assert json.loads(answer["body"])["type"] == "too-many-requests"
    assert _resolved(RuntimeError("a bug"))["statusCode"] == 500
