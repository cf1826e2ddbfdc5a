"""Opaque page tokens and page-size limits for every paginated list.

A token is the last key DynamoDB returned, made opaque (URL-safe base64 of compact JSON) so
clients treat it as a cursor. Decoding is strict: a token that was cut, edited or minted for
another list fails here as a 400 instead of reaching DynamoDB as a malformed start key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any

from commerce.errors import FieldError, ValidationFailed

_MAX_VALUE_CHARS = 256
# Large enough for every key decode accepts (four string attributes of up to 256 characters,
# up to four UTF-8 bytes each, base64-encoded), so anything encoded here decodes again, and
# small enough to sit in a query string well inside API Gateway's URL limits.
MAX_PAGE_TOKEN_CHARS = 6 * 1024


def _bad_token() -> ValidationFailed:
    return ValidationFailed([FieldError("next_token", "Invalid or expired page token")])


def encode_page_token(key: Mapping[str, Any] | None) -> str | None:
    """The cursor for the page after ``key``; ``None`` when there is no further page."""
    if not key:
        return None
    raw = json.dumps(dict(key), separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_page_token(token: str | None, expected_keys: Collection[str]) -> dict[str, Any] | None:
    """The start key encoded by :func:`encode_page_token`, checked against the list's key shape.

    ``expected_keys`` are the attribute names the list's table or index returns as its last
    key; each value must be a DynamoDB string attribute (``{"S": "..."}``).
    """
    if token is None or token == "":
        return None
    if len(token) > MAX_PAGE_TOKEN_CHARS:
        raise _bad_token()
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise _bad_token() from exc
    if not isinstance(decoded, dict) or set(decoded) != set(expected_keys):
        raise _bad_token()
    for value in decoded.values():
        if not (
            isinstance(value, dict)
            and set(value) == {"S"}
            and isinstance(value["S"], str)
            and 0 < len(value["S"]) <= _MAX_VALUE_CHARS
        ):
            raise _bad_token()
    return decoded


def page_size(limit: int | None, default: int, maximum: int) -> int:
    """The number of items to return: the client's ``limit`` within 1..maximum."""
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise ValidationFailed([FieldError("limit", f"Must be between 1 and {maximum}")])
    return limit
