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

from commerce.http.problems import PROBLEM_CONTENT_TYPE

JSON_CONTENT_TYPE = "application/json"


class ProblemFieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; extensions (``errors``, ``available``, ...) ride alongside."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable machine-readable slug, e.g. `not-found`")
    title: str
    status: int
    detail: str
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="validation-error only: the bad fields"
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
