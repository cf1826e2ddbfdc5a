"""RFC 9457 problem responses, the only error shape a client ever sees.

Every failure funnels through :func:`problem_response`, so the body, the content type and the
extra headers are written in one place and nothing internal (stack traces, class names, table
names) can slip into a response.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response

from commerce.errors import CommerceError, FieldError, ValidationFailed

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_response(error: CommerceError) -> Response[str]:
    """Render a typed failure as a problem+json response with its headers."""
    body: dict[str, Any] = {
        "type": error.type,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        **error.extensions,
    }
    return Response(
        status_code=error.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        headers=error.headers(),
    )


def proxy_result(response: Response[str]) -> dict[str, Any]:
    """A problem response as the API Gateway proxy result, for failures raised outside routing."""
    headers = {"Content-Type": response.content_type or PROBLEM_CONTENT_TYPE}
    headers.update({k: str(v) for k, v in response.headers.items() if isinstance(v, str)})
    return {
        "statusCode": response.status_code,
        "headers": headers,
        "body": response.body,
        "isBase64Encoded": False,
    }


def _field_name(location: Sequence[Any]) -> str:
    """Turn a validation location like ``("body", "skus", 0, "price")`` into ``skus[0].price``.

    The first element says where the value came from (body, query, path, header); clients name
    fields as they sent them, so it is dropped unless nothing else is left.
    """
    parts = list(location)
    source = str(parts.pop(0)) if parts else "body"
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or source


def _message(error: Mapping[str, Any]) -> str:
    """A human message for one validation error, without echoing internal names."""
    kind = str(error.get("type", ""))
    if kind == "json_invalid":
        reason = error.get("ctx", {}).get("error") if isinstance(error.get("ctx"), dict) else None
        return f"Malformed JSON: {reason}" if reason else "Malformed JSON"
    if kind == "missing":
        return "Field required"
    if kind == "extra_forbidden":
        return "Unknown field"
    message = str(error.get("msg") or "Invalid value")
    return message.removeprefix("Value error, ")


def validation_problem(errors: Iterable[Mapping[str, Any]]) -> ValidationFailed:
    """Map the resolver's validation errors (pydantic-shaped) onto ``validation-error``."""
    fields: list[FieldError] = []
    for error in errors:
        location = error.get("loc") or ("body",)
        if error.get("type") == "json_invalid":
            location = ("body",)
        fields.append(FieldError(field=_field_name(location), message=_message(error)))
    return ValidationFailed(fields)
