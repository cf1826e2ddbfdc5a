"""The local issuer and the Cognito authorizer's checks.

Tokens are real ID tokens from moto's Cognito user pool (AdminInitiateAuth with
ADMIN_USER_PASSWORD_AUTH), verified against the pool's JWKS as API Gateway's Cognito
authorizer would: RS256 signature, expiry, issuer, token use and audience.

moto gives every user a random `sub` and offers no API to choose it, while API.md requires the
token to carry the sub that was asked for. moto runs inside this process, so the issuer sets the
user's id in moto's own backend right after creating the user; everything after that (the
tokens, the JWKS, the groups claim) is moto's.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from commerce.errors import Unauthorized as TokenRejected
from commerce.http.tokens import bearer_token, claims_as_authorizer_strings, verify_claims
from joserfc.jwk import KeySet

from infra.local.resources import UserPoolInfo
from infra.local.template import ACCOUNT_ID, REGION

ROLES = ("customer", "support", "ops", "admin")
LOCAL_PASSWORD = "Local-Passw0rd!"


class Unauthorized(Exception):
    """The token does not pass the authorizer; the message is safe to show the client."""


class SignInRefused(Exception):
    """The pool refuses to sign this user in (disabled: an erased customer, say); the message is
    safe to show the client."""


class TokenRequestInvalid(Exception):
    """The body of POST /_local/token is invalid."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid token request")
        self.errors = errors


@dataclass(frozen=True)
class TokenRequest:
    """A validated request for a local token."""

    sub: str
    email: str | None
    groups: list[str]

    @classmethod
    def parse(cls, body: Any) -> TokenRequest:
        errors: list[dict[str, str]] = []
        if not isinstance(body, dict):
            raise TokenRequestInvalid([{"field": "body", "message": "must be a JSON object"}])
        sub = body.get("sub")
        if not isinstance(sub, str) or not 1 <= len(sub) <= 128:
            errors.append({"field": "sub", "message": "must be a string of 1 to 128 characters"})
        email = body.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            errors.append({"field": "email", "message": "must be an email address"})
        groups = body.get("groups", ["customer"])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            errors.append({"field": "groups", "message": "must be a list of role names"})
        elif unknown := sorted(set(groups) - set(ROLES)):
            errors.append(
                {"field": "groups", "message": f"unknown roles {unknown}; allowed: {list(ROLES)}"}
            )
        unexpected = sorted(set(body) - {"sub", "email", "groups"})
        if unexpected:
            errors.append({"field": unexpected[0], "message": "unexpected field"})
        if errors:
            raise TokenRequestInvalid(errors)
        return cls(sub=str(sub), email=email, groups=list(dict.fromkeys(groups)))


class CognitoIssuer:
    """Issues ID tokens from moto's user pool for any requested sub and groups."""

    def __init__(self, cognito: Any, pool: UserPoolInfo) -> None:
        if not pool.client_ids:
            raise ValueError(f"user pool {pool.logical_id} has no app client")
        self.cognito = cognito
        self.pool = pool
        self._lock = threading.Lock()

    def issue(self, request: TokenRequest) -> str:
        """A fresh ID token for the user; ``SignInRefused`` when Cognito will not sign them in
        (a disabled user, as erasure leaves one), as it would refuse them on AWS."""
        with self._lock:
            login = self._ensure_user(request)
            try:
                result = self.cognito.admin_initiate_auth(
                    UserPoolId=self.pool.pool_id,
                    ClientId=self.pool.client_ids[0],
                    AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": login, "PASSWORD": LOCAL_PASSWORD},
                )
            except self.cognito.exceptions.NotAuthorizedException as refused:
                message = refused.response.get("Error", {}).get("Message") or "sign-in refused"
                raise SignInRefused(
                    f"The user pool refuses to sign this user in: {message}."
                ) from None
        return str(result["AuthenticationResult"]["IdToken"])

    def _ensure_user(self, request: TokenRequest) -> str:
        """Create or update the user whose sub is request.sub; returns the login name.

        In a pool whose usernames are emails, the user signs in with the email, and one is
        made up from the sub when none is asked for (Cognito requires it).
        """
        pool_id = self.pool.pool_id
        email = request.email
        if self.pool.email_usernames and email is None:
            email = synthetic_email(request.sub)
        login = email if self.pool.email_usernames and email else request.sub
        try:
            user = self.cognito.admin_get_user(UserPoolId=pool_id, Username=request.sub)
            current_email = next(
                (a["Value"] for a in user.get("UserAttributes", []) if a["Name"] == "email"), None
            )
            if email and email != current_email:
                self.cognito.admin_update_user_attributes(
                    UserPoolId=pool_id,
                    Username=request.sub,
                    UserAttributes=[{"Name": "email", "Value": email}],
                )
        except self.cognito.exceptions.UserNotFoundException:
            attributes = [{"Name": "email", "Value": email}] if email else []
            self.cognito.admin_create_user(
                UserPoolId=pool_id,
                Username=login,
                UserAttributes=attributes,
                MessageAction="SUPPRESS",
            )
            self.cognito.admin_set_user_password(
                UserPoolId=pool_id, Username=login, Password=LOCAL_PASSWORD, Permanent=True
            )
            _set_moto_sub(pool_id, login, request.sub)
        current = {
            group["GroupName"]
            for group in self.cognito.admin_list_groups_for_user(
                UserPoolId=pool_id, Username=request.sub
            )["Groups"]
        }
        for group in current - set(request.groups):
            self.cognito.admin_remove_user_from_group(
                UserPoolId=pool_id, Username=request.sub, GroupName=group
            )
        for group in set(request.groups) - current:
            self.cognito.admin_add_user_to_group(
                UserPoolId=pool_id, Username=request.sub, GroupName=group
            )
        return login


def synthetic_email(sub: str) -> str:
    """A stable, valid address for a sub when an email-username pool needs one."""
    local = sub if re.fullmatch(r"[A-Za-z0-9._+-]{1,64}", sub) else sha1_hex(sub)[:16]
    return f"{local}@example.com"


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _set_moto_sub(pool_id: str, login: str, sub: str) -> None:
    """Give the moto user the requested sub, and make the sub its key (see module docstring)."""
    from moto.cognitoidp.models import cognitoidp_backends

    pool = cognitoidp_backends[ACCOUNT_ID][REGION].user_pools[pool_id]
    user = pool._get_user(login)
    pool.users.pop(user.username, None)
    user.id = sub
    user.username = sub
    user.update_attributes([{"Name": "sub", "Value": sub}])
    pool.users[sub] = user


class CognitoVerifier:
    """API Gateway's Cognito authorizer checks, for one user pool."""

    def __init__(self, pool: UserPoolInfo, keys: KeySet, leeway: int = 0) -> None:
        self.pool = pool
        self.keys = keys
        self.leeway = leeway

    @classmethod
    def from_jwks_url(cls, pool: UserPoolInfo, jwks_url: str) -> CognitoVerifier:
        response = requests.get(jwks_url, timeout=10)
        response.raise_for_status()
        return cls(pool, KeySet.import_key_set(response.json()))

    def verify(self, authorization: str | None) -> dict[str, str]:
        """The token's claims as API Gateway passes them (strings), or Unauthorized.

        The checks are the layer's own (commerce.http.tokens), so the gateway and the functions
        that verify optional tokens themselves can never disagree about a token.
        """
        token = bearer_token(authorization)
        if token is None:
            raise Unauthorized("missing bearer token")
        try:
            claims = verify_claims(
                token,
                self.keys,
                issuer=self.pool.issuer,
                client_ids=self.pool.client_ids,
                now=time.time(),
                leeway_seconds=self.leeway,
            )
        except TokenRejected as exc:
            raise Unauthorized(exc.detail) from exc
        return claims_as_authorizer_strings(claims)
