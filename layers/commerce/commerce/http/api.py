"""Wiring every API function's resolver the same way: problems, request guards, observability.

A handler module creates its own ``APIGatewayRestResolver(enable_validation=True)`` (so the
OpenAPI merge can find it), registers its routes, then calls :func:`install` and
:func:`lambda_entrypoint`. Everything that must be identical across functions lives here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from commerce.errors import (
    CommerceError,
    FieldError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from commerce.http.problems import problem_response, proxy_result, validation_problem
from commerce.observability import logger, metrics, tracer
from commerce.settings import get_settings

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def request_guard_failure(event: dict[str, Any], *, json_only: bool = True) -> CommerceError | None:
    """Why a request must be refused before routing: a body too large or (``json_only``) not
    JSON.

    This runs ahead of the resolver because its schema validation would otherwise try to parse
    a form or a 20 MB blob first and report a misleading field error. Routes that verify a
    sender's signature over the raw body (the webhooks: Alipay posts a form) take any type.
    """
    body = event.get("body")
    if isinstance(body, str) and len(body.encode()) > get_settings().max_body_bytes:
        return PayloadTooLarge("The request body exceeds the size limit")
    method = str(event.get("httpMethod") or "").upper()
    if json_only and method in _BODY_METHODS and body:
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        content_type = headers.get("content-type")
        if content_type and not _is_json(content_type):
            return UnsupportedMediaType(f"Send application/json, not {content_type.split(';')[0]}")
        if event.get("isBase64Encoded") and not _is_utf8_base64(str(body)):
            # Bytes that are not UTF-8 arrive base64-encoded; the resolver would fail to decode
            # them with a 500 instead of calling them what they are: JSON that cannot be parsed.
            return ValidationFailed([FieldError("body", "Malformed JSON: the body is not UTF-8")])
    return None


def _is_utf8_base64(body: str) -> bool:
    try:
        base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return True


def _commerce_error(error: CommerceError) -> Response[str]:
    if error.status >= 500:
        logger.exception("request failed")
    return problem_response(error)


def _validation_error(error: RequestValidationError) -> Response[str]:
    return problem_response(validation_problem(error.errors()))


def _route_not_found(_: NotFoundError) -> Response[str]:
    return problem_response(NotFound("No such resource"))


def _unexpected(_: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return problem_response(CommerceError("The request could not be completed"))


def install(app: APIGatewayRestResolver) -> APIGatewayRestResolver:
    """Turn every failure the routes raise into a problem response."""
    app.exception_handler(CommerceError)(_commerce_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(NotFoundError)(_route_not_found)
    app.exception_handler(Exception)(_unexpected)
    return app


def lambda_entrypoint(app: APIGatewayRestResolver, *, json_only: bool = True) -> LambdaHandler:
    """The Lambda handler for ``app``: JSON logs keyed by request id, traces and metrics.
    ``json_only`` False lets bodies of any media type reach routes that verify them raw."""

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = request_guard_failure(event, json_only=json_only)
        if refused is not None:
            return proxy_result(problem_response(refused))
        return app.resolve(event, context)

    handler = metrics.log_metrics(handler, capture_cold_start_metric=True)
    handler = tracer.capture_lambda_handler(handler, capture_response=False)
    handler = logger.inject_lambda_context(
        handler, correlation_id_path=correlation_paths.API_GATEWAY_REST
    )
    return cast(LambdaHandler, handler)
