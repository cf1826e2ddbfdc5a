"""Asserting an RFC 9457 problem answer, the same way in every layer of the suite.

An answer is either a ``requests.Response`` (the stack over HTTP) or an in-process reply with
``status``, ``headers`` and a decoded ``body`` (a handler called with a proxy event).
"""

from __future__ import annotations

import json
from typing import Any

PROBLEM = "application/problem+json"


def _parts(answer: Any) -> tuple[int, dict[str, str], Any, str]:
    if hasattr(answer, "status_code"):  # requests.Response
        text = answer.text
        body = answer.json() if text else None
        return int(answer.status_code), dict(answer.headers), body, text
    body = answer.body
    return int(answer.status), dict(answer.headers), body, json.dumps(body)


def content_type(headers: dict[str, str]) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get("content-type", "").split(";")[0].strip()


def assert_problem(answer: Any, status: int, slug: str) -> dict[str, Any]:
    """The answer is a problem of ``slug`` with ``status``: the problem media type, the fields
    API.md promises, and no stack trace. Its body, for further checks."""
    code, headers, body, text = _parts(answer)
    assert code == status, text
    assert content_type(headers) == PROBLEM, headers
    assert isinstance(body, dict), text
    assert body["type"] == slug, body
    assert body["status"] == status, body
    assert {"title", "detail"} <= set(body), body
    assert "Traceback" not in text
    return body
