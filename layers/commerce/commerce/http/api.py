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
    TooManyRequests,
    UnsupportedMediaType,
    ValidationFailed,
)
from commerce.http import json_guard
from commerce.http.auth import erased_refusal
from commerce.http.gate import edge_refusal, reads_tombstone
from commerce.http.problems import problem_response, proxy_result, validation_problem
from commerce.observability import logger, metrics, tracer
from commerce.settings import get_settings
from commerce.store import kit

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def request_guard_failure(event: dict[str, Any], *, json_only: bool = True) -> CommerceError | None:
    """Why a request must be refused before routing: a body too large, (``json_only``) not
    JSON, or JSON that breaks a limit of ``json_guard`` (nesting, number length, a key given
    twice).

    This runs ahead of the resolver because its schema validation would otherwise parse a form,
    a 20 MB blob or a body nested a thousand deep first, and fail with a misleading field error
    or a 500. Routes that verify a sender's signature over the raw body (the webhooks: Alipay
    posts a form) take any media type; a JSON body is held to the guard's limits all the same.
    """
    body = event.get("body")
    limit = get_settings().max_body_bytes
    if isinstance(body, str) and len(body.encode()) > limit:
        return PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes", limit=limit)
    method = str(event.get("httpMethod") or "").upper()
    if method not in _BODY_METHODS or not body:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type")
    if content_type and not _is_json(content_type):
        if not json_only:
            return None
        return UnsupportedMediaType(f"Send application/json, not {content_type.split(';')[0]}")
    text = _utf8_base64(str(body)) if event.get("isBase64Encoded") else str(body)
    if text is None:
        # Bytes that are not UTF-8 arrive base64-encoded; the resolver would fail to decode
        # them with a 500 instead of calling them what they are: JSON that cannot be parsed.
        return ValidationFailed([FieldError("body", "Malformed JSON: the body is not UTF-8")])
    refused = json_guard.refusal(text)
    return ValidationFailed([refused]) if refused is not None else None


def _utf8_base64(body: str) -> str | None:
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _commerce_error(error: CommerceError) -> Response[str]:
    if error.status >= 500:
        logger.exception("request failed")
    return problem_response(error)


def _validation_error(error: RequestValidationError) -> Response[str]:
    return problem_response(validation_problem(error.errors()))


def _route_not_found(_: NotFoundError) -> Response[str]:
    return problem_response(NotFound("No such resource"))


def _unexpected(error: Exception) -> Response[str]:
    if kit.throttled(error):
        # DynamoDB still refused after the SDK's retries (a hot key): the client may retry.
        logger.warning("DynamoDB throttled the request", exc_info=True)
        return problem_response(TooManyRequests(1, "The shop is busy; retry shortly"))
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
    Who may call is settled first (``gate.edge_refusal``: 401 or 403 by the route's declared
    access), then the body's guard, then an erased subject's token is refused (401: one read,
    so after the checks that need none; a route that reads the tombstone in its own batch
    refuses it there); ``json_only`` False lets bodies of any media type
    reach routes that verify them raw."""

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = (
            edge_refusal(event)
            or request_guard_failure(event, json_only=json_only)
            or (None if reads_tombstone(event) else erased_refusal(event))
        )
        if refused is not None:
            return proxy_result(problem_response(refused))
        return app.resolve(event, context)

    handler = metrics.log_metrics(handler, capture_cold_start_metric=True)
    handler = tracer.capture_lambda_handler(handler, capture_response=False)
    handler = logger.inject_lambda_context(
        handler, correlation_id_path=correlation_paths.API_GATEWAY_REST
    )
    return cast(LambdaHandler, handler)
