"""Verifying Cognito ID tokens inside a function, for routes that guests may call too.

API Gateway's Cognito authorizer cannot make a token optional, so routes such as the cart's are
open at the gateway and the function checks a bearer token itself, exactly as the authorizer
would: RS256 signature against the user pool's published keys, expiry, issuer, token use and
audience. The local stack's gateway runs the same checks through :func:`verify_claims`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from commerce.errors import Unauthorized

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

_JWKS_TIMEOUT_SECONDS = 3
# A key set is refetched at most this often when a token names a key it does not hold, so a
# flood of forged key ids cannot turn into a flood of requests to the issuer.
_REFRESH_INTERVAL_SECONDS = 60


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header; API Gateway also accepts it without ``Bearer``."""
    parts = (authorization or "").split()
    if parts and parts[0].lower() == "bearer":
        parts = parts[1:]
    return parts[0] if len(parts) == 1 else None


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` of every token a user pool signs."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def verify_claims(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_ids: Collection[str],
    now: float,
    leeway_seconds: int = 0,
) -> dict[str, Any]:
    """The claims of ``token`` if it passes every check the Cognito authorizer makes."""
    # joserfc is imported on first use: most requests carry no token and pay nothing for it.
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError) as exc:
        raise Unauthorized("The bearer token is not valid") from exc
    claims = dict(decoded.claims)
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires + leeway_seconds < now:
        raise Unauthorized("The bearer token has expired")
    if claims.get("iss") != issuer:
        raise Unauthorized("The bearer token was issued for another user pool")
    use = claims.get("token_use")
    audience = claims.get("aud") if use == "id" else claims.get("client_id")
    if use not in ("id", "access") or audience not in client_ids:
        raise Unauthorized("The bearer token was not issued for this API")
    if not claims.get("sub"):
        raise Unauthorized("The bearer token names no subject")
    return claims


def claims_as_authorizer_strings(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims the way API Gateway's authorizer hands them on: strings, groups comma-joined."""
    result: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            result[name] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            result[name] = "true" if value else "false"
        else:
            result[name] = str(value)
    return result


@dataclass
class _CachedKeys:
    keys: KeySet
    fetched_at: float


class CognitoTokenVerifier:
    """Verifies tokens of one user pool, fetching its key set once per container.

    The key set lives at ``<cognito-idp endpoint>/<pool id>/.well-known/jwks.json``. The
    endpoint is the one boto3 resolves for ``cognito-idp``, so the standard endpoint setting
    (``AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER``) points it at an emulator with no code
    change.
    """

    def __init__(self, region: str, user_pool_id: str, client_id: str) -> None:
        self.issuer = cognito_issuer(region, user_pool_id)
        self.region = region
        self.user_pool_id = user_pool_id
        self.client_ids = frozenset({client_id}) if client_id else frozenset()
        self._cached: _CachedKeys | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        if not self.user_pool_id or not self.client_ids:
            raise Unauthorized("Signed-in calls are not configured")
        keys = self._keys(refresh=False)
        try:
            return self._verify(token, keys)
        except Unauthorized:
            if not self._may_refresh():
                raise
        # The pool may have rotated its keys since they were cached: one refetch, then decide.
        return self._verify(token, self._keys(refresh=True))

    def _verify(self, token: str, keys: KeySet) -> dict[str, Any]:
        return verify_claims(
            token,
            keys,
            issuer=self.issuer,
            client_ids=self.client_ids,
            now=time.time(),  # wall time: expiry is the issuer's, not business time
        )

    def _may_refresh(self) -> bool:
        cached = self._cached
        return cached is None or time.monotonic() - cached.fetched_at > _REFRESH_INTERVAL_SECONDS

    def _keys(self, *, refresh: bool) -> KeySet:
        with self._lock:
            if self._cached is None or refresh:
                self._cached = _CachedKeys(self._fetch(), time.monotonic())
            return self._cached.keys

    def _fetch(self) -> KeySet:
        url = f"{self._endpoint()}/{self.user_pool_id}/.well-known/jwks.json"
        from joserfc.jwk import KeySet

        with urllib.request.urlopen(url, timeout=_JWKS_TIMEOUT_SECONDS) as response:  # noqa: S310
            return KeySet.import_key_set(json.load(response))

    def _endpoint(self) -> str:
        import boto3  # only a signed-in request on a guest-capable route needs it

        client = boto3.client("cognito-idp", region_name=self.region)
        return str(client.meta.endpoint_url).rstrip("/")
