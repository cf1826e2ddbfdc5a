"""Who is calling, and what their Cognito groups allow.

On AWS the Cognito authorizer has already verified the token before the function runs and hands
its claims over in the request context; the local gateway does the same. Functions therefore only
read claims, never tokens, on routes behind the authorizer.

A subject who asked to be erased is refused (401) whatever token they bring, however fresh
(``refuse_erased``): the authorizer believes an ID token until it expires, so every function
asks the erasure tombstones (``store/erasures.py``) before it believes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# At run time: the resolver's dependency injection reads ``request: Request`` to pass it in.
from aws_lambda_powertools.event_handler import Request

from commerce.domain.access import Reach
from commerce.errors import Unauthorized
from commerce.http.claims import parse_groups
from commerce.http.tokens import CognitoTokenVerifier, bearer_token
from commerce.settings import get_settings
from commerce.store import erasures


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a request, or an anonymous one (``sub is None``).

    ``reach`` is how far the caller's staff role reaches, on the route being served, into a
    resource that is not theirs; the route's declared access sets it (``commerce.http.gate``).

    Logs know a caller, staff included, by ``sub`` alone (``actor``): the email stays out of
    its ``repr`` too, so a caller logged by mistake names no one."""

    sub: str | None = None
    email: str | None = field(default=None, repr=False)
    groups: frozenset[str] = field(default_factory=frozenset)
    reach: Reach = Reach.NONE

    @property
    def is_authenticated(self) -> bool:
        return self.sub is not None

    @property
    def is_staff(self) -> bool:
        return bool(self.groups & {"support", "ops", "admin"})

    def has_role(self, *roles: str) -> bool:
        """True when the caller holds one of ``roles``; admin holds every role."""
        return "admin" in self.groups or bool(self.groups.intersection(roles))

    def actor(self) -> str:
        """A stable name for audit trails (ledger entries, order history)."""
        return self.sub or "anonymous"


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """Build the caller from an authorizer's claims; no ``sub`` means anonymous."""
    if not claims or not claims.get("sub"):
        return Caller()
    email = claims.get("email")
    return Caller(
        sub=str(claims["sub"]),
        email=str(email) if email else None,
        groups=parse_groups(claims.get("cognito:groups")),
    )


def event_claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The claims the API Gateway authorizer put in a proxy event's context; None without them.

    The one reader of the context, for the ``Caller`` here and for richer views of the same
    principal (the customers' ``Identity``, which also wants the username, name and locale).
    """
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    return claims if isinstance(claims, dict) else None


def request_claims(request: Request) -> Mapping[str, Any] | None:
    """The authorizer's claims of the request being routed (``event_claims``)."""
    return event_claims(request.resolved_event.raw_event)


def refuse_erased(caller: Caller) -> Caller:
    """The caller, unless their subject asked to be erased: then 401, whatever the token.

    One consistent read of the tombstone's key per signed-in request, so a token used a moment
    after ``DELETE /me`` is refused already; nothing the subject sends afterwards is believed,
    so nothing of theirs is created again.
    """
    if caller.sub is not None and erasures.is_erased(caller.sub):
        raise Unauthorized("This account has been erased")
    return caller


def erased_refusal(event: Mapping[str, Any]) -> Unauthorized | None:
    """Why a request the authorizer let through must still be refused: its subject is erased.
    Checked before routing, so it holds for every route behind the authorizer."""
    try:
        refuse_erased(caller_from_claims(event_claims(event)))
    except Unauthorized as refused:
        return refused
    return None


def current_caller(request: Request) -> Caller:
    """Dependency: the caller as the API Gateway authorizer described it."""
    return caller_from_claims(request_claims(request))


@lru_cache(maxsize=1)
def _token_verifier() -> CognitoTokenVerifier:
    settings = get_settings()
    return CognitoTokenVerifier(
        settings.region, settings.user_pool_id, settings.user_pool_client_id
    )


def optional_caller(request: Request) -> Caller:
    """Dependency for routes open to guests: anonymous without a token, verified with one.

    Such routes have no authorizer at the gateway, so a token that is present is checked here,
    and a bad or expired one, or an erased subject's, is a 401 rather than a silent downgrade
    to guest.
    """
    caller = current_caller(request)
    if caller.is_authenticated:
        return caller
    return refuse_erased(caller_from_claims(bearer_claims(request.resolved_event.headers or {})))


def bearer_claims(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The claims of the request's bearer token, verified as the authorizer would; None without
    an Authorization header, 401 for one that is malformed, invalid or expired."""
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if authorization is None or not authorization.strip():
        return None
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("The Authorization header must be 'Bearer <token>'")
    return _token_verifier().verify(token)
