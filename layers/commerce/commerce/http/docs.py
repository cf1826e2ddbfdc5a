"""The problem+json shape as an OpenAPI response, so every route documents its failures.

Routes pass ``responses=responses(200, ProductOut, "The product", 404)``; the merged OpenAPI
document then tells clients (and schemathesis) the success body and exactly which problem
statuses an operation may answer with. Powertools drops its own success entry once a route
passes ``responses``, which is why the success model is named here too.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from commerce.http.model import Schema
from commerce.http.problems import PROBLEM_CONTENT_TYPE

JSON_CONTENT_TYPE = "application/json"

BEARER_SCHEME = "CognitoIdToken"
"""The OpenAPI security scheme of a Cognito ID token sent as ``Authorization: Bearer``."""

OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {BEARER_SCHEME: []}]
"""``security`` of a route open to guests that also accepts a token (carts, checkout).

The OpenAPI merge applies it to every route whose declared access takes an optional token
(``commerce.http.access.Token.OPTIONAL``).
"""


class ProblemFieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    """RFC 9457 problem details; extensions (``errors``, ``available``, ...) ride alongside."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable machine-readable slug, e.g. `not-found`")
    title: str
    status: int
    detail: str
    # SkipJsonSchema: the fields are absent when unused, never null, and the document says so.
    errors: list[ProblemFieldError] | SkipJsonSchema[None] = Field(
        default=None, description="validation-error only: the bad fields"
    )
    available: int | SkipJsonSchema[None] = Field(
        default=None, description="out-of-stock only: units that can be had right now"
    )
    sku: str | SkipJsonSchema[None] = Field(
        default=None, description="out-of-stock only: the SKU that ran short"
    )


def problems(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI ``responses`` entries for these problem statuses."""
    content: dict[str, Any] = {PROBLEM_CONTENT_TYPE: {"model": Problem}}
    return {
        status: {"description": HTTPStatus(status).phrase, "content": content}
        for status in statuses
    }


def responses(
    status: int, model: type[BaseModel], description: str, *problem_statuses: int
) -> dict[int, OpenAPIResponse]:
    """The success response (``status`` with ``model``) plus the problem statuses."""
    success: OpenAPIResponse = {
        "description": description,
        "content": {JSON_CONTENT_TYPE: {"model": model}},
    }
    return {status: success, **problems(*problem_statuses)}


def problem_schemas() -> dict[str, Any]:
    """JSON schemas of :class:`Problem` and its parts, keyed as OpenAPI components.

    The merge adds these when no route happened to name ``Problem`` itself, so the responses it
    documents for every operation (401 from the authorizer, 429 from throttling, ...) resolve.
    """
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    for prop in schema["properties"].values():
        if prop.get("default", ...) is None:  # absent, not null: see the SkipJsonSchema note
            del prop["default"]
    return {**definitions, "Problem": schema}
