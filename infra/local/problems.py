"""RFC 9457 problem responses of the gateway itself (API.md: slugs, no stack traces)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

PROBLEM_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def problem_body(status: int, slug: str, detail: str, **extensions: Any) -> bytes:
    """The JSON body of a problem (for answers written below WSGI, by the HTTP server itself)."""
    body = {
        "type": slug,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extensions,
    }
    return json.dumps(body).encode()


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response with the stable slug as its type."""
    return Response(
        problem_body(status, slug, detail, **extensions),
        status=status,
        headers=headers or {},
        content_type=PROBLEM_TYPE,
    )
