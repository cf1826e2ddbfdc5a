"""The Cognito authorizer's checks as the layer makes them, on keys generated for the test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from commerce.errors import Unauthorized
from commerce.http.tokens import (
    bearer_token,
    claims_as_authorizer_strings,
    cognito_issuer,
    verify_claims,
)
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

ISSUER = cognito_issuer("us-east-1", "us-east-1_pool")
CLIENT = "client-1"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet([KEY])
NOW = 1_800_000_000


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "exp": NOW + 600,
        "cognito:groups": ["customer", "ops"],
        "email": "a@example.com",
        "email_verified": True,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: RSAKey = KEY) -> str:
    return jwt.encode({"alg": "RS256", "kid": "k1"}, payload, key)


def verify(token: str) -> dict[str, Any]:
    return verify_claims(token, KEYS, issuer=ISSUER, client_ids={CLIENT}, now=NOW)


def test_a_valid_id_token_yields_its_claims() -> None:
    result = verify(sign(claims()))
    assert result["sub"] == "user-1"
    assert result["cognito:groups"] == ["customer", "ops"]


def test_an_access_token_is_checked_against_client_id() -> None:
    token = sign(claims(token_use="access", aud=None, client_id=CLIENT))
    assert verify(token)["sub"] == "user-1"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (sign(claims(exp=NOW - 1)), "expired"),
        (sign(claims(iss=cognito_issuer("us-east-1", "other"))), "another user pool"),
        (sign(claims(aud="other-client")), "not issued for this API"),
        (sign(claims(token_use="refresh")), "not issued for this API"),
        (sign(claims(sub=None)), "no subject"),
        (sign(claims(), OTHER_KEY), "not valid"),
        ("not-a-jwt", "not valid"),
        (sign(claims()) + "x", "not valid"),
    ],
)
def test_rejections(token: str, reason: str) -> None:
    with pytest.raises(Unauthorized) as raised:
        verify(token)
    assert reason in raised.value.detail


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_token_is_rejected() -> None:
    with pytest.raises(Unauthorized):
        verify(f"{_segment({'alg': 'none'})}.{_segment(claims())}.")


def test_leeway_admits_a_just_expired_token() -> None:
    token = sign(claims(exp=NOW - 5))
    result = verify_claims(
        token, KEYS, issuer=ISSUER, client_ids={CLIENT}, now=NOW, leeway_seconds=10
    )
    assert result["sub"] == "user-1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("abc", "abc"),
        ("Bearer ", None),
        ("Bearer a b", None),
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_claims_are_handed_on_as_authorizer_strings() -> None:
    strings = claims_as_authorizer_strings(claims())
    assert strings["cognito:groups"] == "customer,ops"
    assert strings["email_verified"] == "true"
    assert strings["exp"] == str(NOW + 600)
    assert all(isinstance(v, str) for v in strings.values())


def test_the_issuer_is_the_pool_url() -> None:
    assert cognito_issuer("eu-west-1", "eu-west-1_abc") == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
    )


def test_a_token_signed_hs256_with_the_public_key_is_rejected() -> None:
    """Key confusion: HMAC keyed with the published RSA key must not pass for RS256."""
    signing_input = f"{_segment({'alg': 'HS256', 'kid': 'k1'})}.{_segment(claims())}"
    secret = KEY.as_pem(private=False)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(Unauthorized, match="not valid"):
        verify(forged)


def test_claims_edited_under_a_genuine_signature_are_rejected() -> None:
    header, _, signature = sign(claims()).split(".")
    edited = f"{header}.{_segment(claims(**{'cognito:groups': ['admin'], 'sub': 'root'}))}"
    with pytest.raises(Unauthorized, match="not valid"):
        verify(f"{edited}.{signature}")
