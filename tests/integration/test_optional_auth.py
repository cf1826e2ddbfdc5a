"""Optional bearer tokens on guest-capable routes, verified against a user pool on moto's server.

The key set is fetched over HTTP from the emulator's Cognito endpoint, as it would be from
Cognito's, so this proves the verifier finds the keys through the standard endpoint setting.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Annotated, Any

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.depends import Depends
from commerce.http import auth
from commerce.http.api import install
from commerce.http.auth import Caller, optional_caller
from commerce.http.tokens import CognitoTokenVerifier
from commerce.settings import get_settings
from moto.server import ThreadedMotoServer

PASSWORD = "Passw0rd!-long-enough"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pool() -> Iterator[dict[str, Any]]:
    """A moto server with one pool, one client and one user in the ops group."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        idp = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=endpoint)
        pool_id = idp.create_user_pool(PoolName="shoppers")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="web",
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.create_group(UserPoolId=pool_id, GroupName="ops")
        idp.admin_create_user(UserPoolId=pool_id, Username="amy", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username="amy", Password=PASSWORD, Permanent=True
        )
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username="amy", GroupName="ops")
        tokens = idp.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "amy", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        sub = next(
            a["Value"]
            for a in idp.admin_get_user(UserPoolId=pool_id, Username="amy")["UserAttributes"]
            if a["Name"] == "sub"
        )
        yield {
            "endpoint": endpoint,
            "pool_id": pool_id,
            "client_id": client_id,
            "id_token": tokens["IdToken"],
            "sub": sub,
        }
    finally:
        server.stop()


@pytest.fixture
def configured(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch, dynamodb: Any
) -> Iterator[None]:
    """Point the layer's settings and endpoint resolution at the test pool; the tables (on
    moto) hold the erasure tombstones every signed-in caller is checked against."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", pool["endpoint"])
    monkeypatch.setenv("USER_POOL_ID", pool["pool_id"])
    monkeypatch.setenv("USER_POOL_CLIENT_ID", pool["client_id"])
    get_settings.cache_clear()
    auth._token_verifier.cache_clear()
    yield
    get_settings.cache_clear()
    auth._token_verifier.cache_clear()


def _app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)

    @app.get("/whoami")
    def whoami(caller: Annotated[Caller, Depends(optional_caller)]) -> dict[str, Any]:
        return {"sub": caller.sub, "groups": sorted(caller.groups)}

    install(app)
    return app


def _call(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import json

    event = {
        "resource": "/whoami",
        "path": "/whoami",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {"requestId": "r-1", "stage": "dev", "resourcePath": "/whoami"},
    }
    result = _app().resolve(event, None)  # type: ignore[arg-type]
    return result["statusCode"], json.loads(result["body"])


def test_verifier_fetches_the_pool_keys_and_accepts_its_token(pool: dict[str, Any]) -> None:
    import os

    os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] = pool["endpoint"]
    try:
        verifier = CognitoTokenVerifier("us-east-1", pool["pool_id"], pool["client_id"])
        claims = verifier.verify(pool["id_token"])
    finally:
        del os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"]
    assert claims["sub"] == pool["sub"]
    assert claims["cognito:groups"] == ["ops"]


@pytest.mark.usefixtures("configured")
def test_no_token_is_a_guest() -> None:
    status, body = _call({})
    assert (status, body) == (200, {"sub": None, "groups": []})


@pytest.mark.usefixtures("configured")
def test_a_valid_token_is_the_signed_in_caller(pool: dict[str, Any]) -> None:
    status, body = _call({"Authorization": f"Bearer {pool['id_token']}"})
    assert status == 200
    assert body == {"sub": pool["sub"], "groups": ["ops"]}


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer x y"])
def test_a_bad_token_is_401_not_a_guest(header: str) -> None:
    status, body = _call({"Authorization": header})
    assert status == 401
    assert body["type"] == "unauthorized"


@pytest.mark.usefixtures("configured")
def test_a_token_for_another_client_is_401(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER_POOL_CLIENT_ID", "another-client")
    get_settings.cache_clear()
    auth._token_verifier.cache_clear()
    status, body = _call({"Authorization": f"Bearer {pool['id_token']}"})
    assert status == 401
    assert "not issued for this API" in body["detail"]


@pytest.mark.usefixtures("configured")
def test_an_erased_subject_s_token_is_401_however_fresh(
    pool: dict[str, Any], dynamodb: Any
) -> None:
    """A route open to guests verifies the token itself, and asks the erasure tombstones too:
    the token is still valid at the pool, but its subject asked to be erased."""
    from commerce import clock
    from commerce.store import erasures

    bearer = {"Authorization": f"Bearer {pool['id_token']}"}
    assert _call(bearer)[0] == 200
    erasures.begin(pool["sub"], "amy", at=clock.now_iso())
    status, body = _call(bearer)
    assert status == 401
    assert body["type"] == "unauthorized"
    assert body["detail"] == "This account has been erased"
    assert _call({}) == (200, {"sub": None, "groups": []})  # guests are not affected
