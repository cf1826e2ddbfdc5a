"""Guest tokens: how a shopper without an account proves a cart, or the order placed from it, is
theirs.

The client keeps a random secret and sends it back (``X-Cart-Token``, or the order token); the
store keeps only its SHA-256 hash and compares in constant time. The random source is the
caller's (``issue_guest_token(secrets.token_urlsafe)``), keeping this module free of I/O and
deterministic under test. The order token a guest's checkout answers with is derived from the
cart token (``order_token_for``), so a retried checkout can answer with the same one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

#: Bytes of randomness in a guest token (``secrets.token_urlsafe(32)``: 43 characters).
GUEST_TOKEN_BYTES: Final = 32
#: Longest ``X-Cart-Token`` worth hashing; anything longer cannot be one we issued.
MAX_GUEST_TOKEN_CHARS: Final = 128
_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{43,128}$")


@dataclass(frozen=True)
class GuestToken:
    """A freshly issued token (shown to the client once) and the hash the cart keeps."""

    token: str
    token_hash: str


def hash_guest_token(token: str) -> str:
    """The stored form of a guest token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_guest_token(token_urlsafe: Callable[[int], str]) -> GuestToken:
    """A new guest token from the caller's random source (pass ``secrets.token_urlsafe``)."""
    token = token_urlsafe(GUEST_TOKEN_BYTES)
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("the random source did not produce a url-safe token of 32 bytes")
    return GuestToken(token, hash_guest_token(token))


def order_token_for(cart_token: str, order_id: str) -> GuestToken:
    """The order token of the guest order ``order_id`` placed from the cart of ``cart_token``:
    an HMAC of the order id keyed by the cart token, as long as an issued token. Only the cart
    token's holder can compute it, and that holder may read the order anyway; being derived, it
    is the same on every retry of the checkout, which never stores it in the clear."""
    digest = hmac.new(cart_token.encode(), f"order:{order_id}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return GuestToken(token, hash_guest_token(token))


def guest_token_matches(token_hash: str | None, presented: str | None) -> bool:
    """True when ``presented`` is the token whose hash is ``token_hash`` (constant-time compare)."""
    if token_hash is None or not presented or len(presented) > MAX_GUEST_TOKEN_CHARS:
        return False
    return hmac.compare_digest(hash_guest_token(presented), token_hash)
