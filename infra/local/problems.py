"""RFC 9457 problem responses of the gateway itself (API.md: slugs, no stack traces)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

PROBLEM_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response with the stable slug as its type."""
    body = {
        "type": slug,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(
        json.dumps(body),
        status=status,
        headers=headers or {},
        content_type=PROBLEM_TYPE,
    )
