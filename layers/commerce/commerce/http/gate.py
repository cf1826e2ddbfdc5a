"""The access table (``commerce.http.access``) applied to each request, twice over.

:func:`edge_refusal` runs in every API function's entrypoint before the resolver parses
anything, as API Gateway's authorizer runs before a function: a route that needs a token
answers 401 without a valid one, a staff route answers 403 to a caller without its roles, and
a bearer token sent to a route open to guests is verified there (a bad one is 401), its claims
handed on in the request context exactly where the authorizer puts them. So no body, however
wrong, is looked at for a caller who may not call, and every handler reads its caller one way.

:func:`authorized` is the handlers' caller: the same checks, and the reach the route gives the
caller's staff role into resources that are not theirs (``Caller.reach``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aws_lambda_powertools.event_handler import Request

from commerce.errors import CommerceError, Forbidden, NotFound, Unauthorized
from commerce.http.access import Access, Outcome, Token, declared
from commerce.http.auth import (
    Caller,
    bearer_claims,
    caller_from_claims,
    optional_caller,
)
from commerce.http.tokens import claims_as_authorizer_strings
from commerce.observability import logger


def _undeclared(method: str, path: str) -> NotFound:
    """A route nobody declared is open to no one: 404, as for a route that does not exist (the
    matrix test names any such route before it is deployed)."""
    logger.error("no access declared for the route", extra={"route": f"{method} {path}"})
    return NotFound("No such resource")


def _refusal(access: Access, caller: Caller) -> CommerceError | None:
    outcome = access.admits(signed_in=caller.is_authenticated, groups=caller.groups)
    if outcome is Outcome.UNAUTHORIZED:
        return Unauthorized("A valid bearer token is required")
    if outcome is Outcome.FORBIDDEN:
        roles = ", ".join(sorted(access.roles or ()))
        return Forbidden(f"Requires one of the roles: {roles}")
    return None


def edge_refusal(event: dict[str, Any]) -> CommerceError | None:
    """Why the caller may not call this route at all, before anything else is done; None when
    they may (their claims are then in the request context, whoever verified the token)."""
    if "httpMethod" not in event:
        return None  # not an API Gateway request at all: the resolver refuses it as such
    method, path = str(event.get("httpMethod") or ""), str(event.get("resource") or "")
    access = declared(method, path)
    if access is None:
        return _undeclared(method, path)
    if access.token in (Token.NONE, Token.SIGNATURE):
        return None
    try:
        caller = caller_from_claims(_claims(event))
    except CommerceError as error:  # a bad token, or any refusal of who the caller is
        return error
    return _refusal(access, caller)


def _claims(event: dict[str, Any]) -> dict[str, Any] | None:
    """The authorizer's claims; else those of a bearer token sent to a route public at the
    gateway, verified here and put where the authorizer puts them (401 for a bad one)."""
    context = event.setdefault("requestContext", {})
    authorizer = context.get("authorizer")
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    if isinstance(claims, dict):
        return claims
    verified = bearer_claims(event.get("headers") or {})
    if verified is None:
        return None
    context["authorizer"] = {"claims": claims_as_authorizer_strings(verified)}
    return dict(context["authorizer"]["claims"])


def reads_tombstone(event: dict[str, Any]) -> bool:
    """Whether the event's route reads the erasure tombstone itself (``Access.reads_tombstone``),
    so the entrypoint leaves that read to it."""
    access = declared(str(event.get("httpMethod") or ""), str(event.get("resource") or ""))
    return access is not None and access.reads_tombstone


def admit(method: str, path: str, caller: Caller) -> Caller:
    """``caller`` as the route (``method`` on the path template ``path``) admits them, with the
    reach it gives their staff role; 401 or 403 when it does not admit them."""
    access = declared(method, path)
    if access is None:
        raise _undeclared(method, path)
    refused = _refusal(access, caller)
    if refused is not None:
        raise refused
    return replace(caller, reach=access.reach(caller.groups))


def authorized(request: Request) -> Caller:
    """Dependency: the caller the route's declared access admits (:func:`admit`), checked as at
    the edge for callers that skipped it. A public route reads no token."""
    access = declared(request.method, request.route)
    public = access is not None and access.token is Token.NONE
    caller = Caller() if public else optional_caller(request)
    return admit(request.method, request.route, caller)
