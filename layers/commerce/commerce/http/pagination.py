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
from commerce.settings import get_settings

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


def page_request(
    limit: int | None,
    next_token: str | None,
    page_keys: Collection[str],
    *,
    partition: tuple[str, str] | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """A list's page size (``limit`` within the settings' bounds) and start key (the decoded
    ``next_token``). With ``partition`` (a key attribute and the value it must hold), a token
    minted for another list, such as someone else's, is refused as a bad token."""
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start = decode_page_token(next_token, page_keys)
    if start is not None and partition is not None:
        attribute, expected = partition
        if start[attribute]["S"] != expected:
            raise _bad_token()
    return size, start
