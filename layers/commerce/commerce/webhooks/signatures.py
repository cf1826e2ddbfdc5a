"""Webhook signatures: HMAC-SHA256 over a timestamp and the raw body, with a per-sender secret.

The sender puts one header on the request::

    X-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

where ``v1`` is the lowercase hex HMAC-SHA256, keyed by the sender's secret, of
``f"{t}.{raw_body}"`` over the exact bytes received (before any JSON parsing). Several ``v1``
entries may be sent while a secret is rotated; one matching is enough. Unknown entries are
ignored, so a sender may add a scheme without breaking us.

A request is believed only when the header is well formed, ``t`` is within ``TOLERANCE_SECONDS``
of our clock either way, and a ``v1`` matches, compared in constant time. Replays inside the
tolerance are stopped by the event id, which the webhook store records once
(``event_id_of`` names the rule); this module is pure and remembers nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from commerce.errors import Unauthorized

SIGNATURE_HEADER: Final = "X-Signature"
#: How far the sender's timestamp may be from our clock, either way (5 minutes).
TOLERANCE_SECONDS: Final = 300
#: Longer headers are refused before any parsing.
MAX_HEADER_CHARS: Final = 1024
SCHEME: Final = "v1"
_TIMESTAMP_RE: Final = re.compile(r"^[0-9]{1,12}$")
_HEX_RE: Final = re.compile(r"^[0-9a-f]{64}$")
_EVENT_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

Secret = str | bytes


class Rejection(StrEnum):
    """Why a signature was refused; safe to tell the sender."""

    MISSING = "missing signature header"
    MALFORMED = "malformed signature header"
    STALE = "timestamp outside the tolerance"
    MISMATCH = "no signature matches"


class SignatureInvalid(Unauthorized):
    """The request is not believed: 401, and nothing is acted upon."""

    title = "Signature rejected"

    def __init__(self, reason: Rejection) -> None:
        super().__init__(f"Signature rejected: {reason.value}")
        self.reason = reason


@dataclass(frozen=True)
class SignedHeader:
    """A parsed header: the sender's timestamp and the ``v1`` signatures it carries."""

    timestamp: int
    signatures: tuple[str, ...]


@dataclass(frozen=True)
class Verified:
    """A request whose signature matched; ``timestamp`` is the sender's, in epoch seconds."""

    timestamp: int


def _key(secret: Secret) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def _body(raw_body: str | bytes) -> bytes:
    return raw_body.encode() if isinstance(raw_body, str) else raw_body


def compute(secret: Secret, timestamp: int, raw_body: str | bytes) -> str:
    """The hex ``v1`` signature of ``raw_body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + _body(raw_body)
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign(secret: Secret, timestamp: int, raw_body: str | bytes) -> str:
    """The ``X-Signature`` value a sender puts on ``raw_body`` at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={compute(secret, timestamp, raw_body)}"


def parse_header(header: str | None) -> SignedHeader:
    """``t`` and every ``v1`` of a header; ``SignatureInvalid`` unless exactly one well-formed
    ``t`` and at least one well-formed ``v1`` are present."""
    if header is None or not header.strip():
        raise SignatureInvalid(Rejection.MISSING)
    if len(header) > MAX_HEADER_CHARS:
        raise SignatureInvalid(Rejection.MALFORMED)
    timestamps: list[int] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureInvalid(Rejection.MALFORMED)
        if name == "t":
            if not _TIMESTAMP_RE.fullmatch(value):
                raise SignatureInvalid(Rejection.MALFORMED)
            timestamps.append(int(value))
        elif name == SCHEME:
            if not _HEX_RE.fullmatch(value):
                raise SignatureInvalid(Rejection.MALFORMED)
            signatures.append(value)
    if len(timestamps) != 1 or not signatures:
        raise SignatureInvalid(Rejection.MALFORMED)
    return SignedHeader(timestamps[0], tuple(signatures))


def verify(
    header: str | None,
    raw_body: str | bytes,
    secrets: Secret | Sequence[Secret],
    *,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> Verified:
    """Believe ``raw_body`` only if ``header`` signs it with one of the sender's ``secrets``.

    Raises ``SignatureInvalid`` (missing or malformed header, stale or future timestamp, no
    match). Every candidate is compared with ``hmac.compare_digest``.
    """
    parsed = parse_header(header)
    if abs(now - parsed.timestamp) > tolerance:
        raise SignatureInvalid(Rejection.STALE)
    keys = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    if not keys:
        raise ValueError("a sender has at least one secret")
    matched = False
    for secret in keys:
        expected = compute(secret, parsed.timestamp, raw_body)
        for candidate in parsed.signatures:
            # No early exit: the time taken does not depend on which candidate matched.
            matched = hmac.compare_digest(expected, candidate) | matched
    if not matched:
        raise SignatureInvalid(Rejection.MISMATCH)
    return Verified(parsed.timestamp)


def event_id_of(payload: Mapping[str, object]) -> str | None:
    """The sender's event id (``id``, else ``event_id``), the key replays are refused by.

    Only ids of 1..128 letters, digits and ``_.:-`` count; anything else is None, and a
    webhook without an id is refused (it cannot be told apart from its replay).
    """
    for name in ("id", "event_id"):
        value = payload.get(name)
        if isinstance(value, str) and _EVENT_ID_RE.fullmatch(value):
            return value
    return None


def replay_key(sender: str, event_id: str) -> str:
    """The key the webhook store records once per sender and event."""
    return f"webhook:{sender}:{event_id}"
