"""The local gateway, black-box, over a stack built from the fixture template.

The fixture function echoes the event it receives, so these tests assert the exact proxy event
API Gateway would build, the authorizer's decisions, the gateway's own problems, the worker
model, the SQS event source mapping, schedules and the outbox; none of it depends on the
commerce code.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
import requests
from http_problems import assert_problem
from joserfc import jwk, jwt
from moto.utilities.utils import load_resource
from stack_helpers import eventually

from infra.local.harness import REPO_ROOT, StackProcess, start_stack

pytestmark = pytest.mark.integration

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "local_stack" / "template.yaml"
MAX_BODY = 4096


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    running = start_stack(
        template=FIXTURE,
        args=["--no-demo-data", "--max-body", str(MAX_BODY)],
        env={"SWEEP_INTERVAL_SECONDS": "0.5", "LOCAL_MAX_CONCURRENCY": "2"},
    )
    yield running
    running.stop()


def echo(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the proxy event -------------------------------------------------------------------------
def test_event_has_path_and_query_parameters(stack: StackProcess) -> None:
    body = echo(requests.get(f"{stack.base_url}/public/42?tag=a&tag=b&q=tea", timeout=30))
    event = body["event"]
    assert event["resource"] == "/public/{item_id}"
    assert event["path"] == "/public/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["queryStringParameters"] == {"tag": "b", "q": "tea"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["tea"]}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/public/{item_id}"
    assert context["stage"] == "dev"
    assert context["path"] == "/dev/public/42"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["accountId"] == "123456789012"
    assert "authorizer" not in context  # a public route has no claims


def test_event_has_multi_value_headers(stack: StackProcess) -> None:
    url = urlparse(stack.base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    connection.putrequest("GET", "/public/1")
    connection.putheader("X-Tag", "one")
    connection.putheader("X-Tag", "two")
    connection.endheaders()
    response = connection.getresponse()
    event = json.loads(response.read())["event"]
    connection.close()
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"]
    assert event["headers"]["X-Tag"] == "two"


def test_body_text_and_binary(stack: StackProcess) -> None:
    text = echo(requests.post(f"{stack.base_url}/public/1", json={"茶": "龙井"}, timeout=30))
    assert json.loads(text["event"]["body"]) == {"茶": "龙井"}
    assert text["event"]["isBase64Encoded"] is False
    raw = bytes([0, 255, 1, 254])
    binary = echo(requests.post(f"{stack.base_url}/public/1", data=raw, timeout=30))
    assert binary["event"]["isBase64Encoded"] is True
    assert base64.b64decode(binary["event"]["body"]) == raw


def test_greedy_proxy_path(stack: StackProcess) -> None:
    event = echo(requests.delete(f"{stack.base_url}/files/a/b/c.txt", timeout=30))["event"]
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_request_id_context_and_environment(stack: StackProcess) -> None:
    response = requests.get(f"{stack.base_url}/public/1", timeout=30)
    body = echo(response)
    request_id = body["event"]["requestContext"]["requestId"]
    assert response.headers["x-amzn-RequestId"] == request_id
    assert body["context"]["aws_request_id"] == request_id
    assert body["context"]["function_name"] == "commerce-local-EchoFunction"
    assert body["context"]["memory_limit_in_mb"] == 256
    assert 0 < body["context"]["remaining_ms"] <= 5000
    env = body["env"]
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == stack.dynamodb_endpoint
    assert env["AWS_ENDPOINT_URL_SQS"] == stack.moto_endpoint
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "commerce-local-EchoFunction"
    assert env["ECHO_TABLE"] == "commerce-local-EchoTable"
    assert env["WORK_QUEUE_URL"] == stack.info["queues"]["WorkQueue"]
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_proxy_response_headers_and_base64_body(stack: StackProcess) -> None:
    response = requests.get(f"{stack.base_url}/public/1", timeout=30)
    assert response.raw.headers.getlist("X-Multi") == ["a", "b"]
    binary = requests.get(f"{stack.base_url}/binary", timeout=30)
    assert binary.content == bytes([0, 1, 2, 255])
    assert binary.headers["Content-Type"] == "application/octet-stream"


# -- the authorizer --------------------------------------------------------------------------
def test_claims_of_a_real_token_reach_the_handler(stack: StackProcess) -> None:
    headers = stack.auth("user-7", ["ops", "admin"], "ops@example.com")
    claims = echo(requests.get(f"{stack.base_url}/private/9", headers=headers, timeout=30))[
        "event"
    ]["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == "user-7"
    assert set(claims["cognito:groups"].split(",")) == {"ops", "admin"}
    assert claims["email"] == "ops@example.com"
    assert claims["token_use"] == "id"
    assert claims["aud"] in stack.info["user_pools"]["UserPool"]["client_ids"]
    assert claims["iss"].endswith(stack.info["user_pools"]["UserPool"]["pool_id"])
    assert all(isinstance(value, str) for value in claims.values())


def test_token_reuse_updates_groups(stack: StackProcess) -> None:
    first = stack.token("user-regroup", ["admin"])
    second = stack.token("user-regroup", ["customer"])
    assert first != second
    claims = echo(
        requests.get(
            f"{stack.base_url}/private/1", headers={"Authorization": second}, timeout=30
        )  # the raw token, without "Bearer", is accepted as API Gateway does
    )["event"]["requestContext"]["authorizer"]["claims"]
    assert claims["cognito:groups"] == "customer"
    assert claims["sub"] == "user-regroup"


def _moto_signed(claims: dict[str, Any]) -> str:
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key)


def _valid_claims(stack: StackProcess) -> dict[str, Any]:
    pool = stack.info["user_pools"]["UserPool"]
    now = int(time.time())
    return {
        "sub": "forger",
        "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{pool['pool_id']}",
        "aud": pool["client_ids"][0],
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
    }


def test_a_correctly_signed_token_passes(stack: StackProcess) -> None:
    token = _moto_signed(_valid_claims(stack))
    response = requests.get(
        f"{stack.base_url}/private/1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200  # the control case for the rejections below


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda s: None, id="missing"),
        pytest.param(lambda s: "Bearer not-a-jwt", id="garbage"),
        pytest.param(
            lambda s: "Bearer " + _moto_signed({**_valid_claims(s), "exp": int(time.time()) - 5}),
            id="expired",
        ),
        pytest.param(
            lambda s: (
                "Bearer "
                + ".".join(
                    base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                    for part in ({"alg": "none", "typ": "JWT"}, _valid_claims(s))
                )
                + "."
            ),
            id="alg-none",
        ),
        pytest.param(
            lambda s: (
                "Bearer "
                + jwt.encode(
                    {"alg": "RS256", "kid": "dummy"},
                    _valid_claims(s),
                    jwk.RSAKey.generate_key(2048),
                )
            ),
            id="foreign-key",
        ),
        pytest.param(
            lambda s: "Bearer " + _moto_signed({**_valid_claims(s), "aud": "someone-else"}),
            id="wrong-audience",
        ),
        pytest.param(
            lambda s: (
                "Bearer " + _moto_signed({**_valid_claims(s), "iss": "https://issuer.example.com"})
            ),
            id="wrong-issuer",
        ),
    ],
)
def test_bad_tokens_are_401_problems(
    stack: StackProcess, make_header: Callable[[StackProcess], str | None]
) -> None:
    header = make_header(stack)
    headers = {"Authorization": header} if header is not None else {}
    response = requests.get(f"{stack.base_url}/private/1", headers=headers, timeout=30)
    assert_problem(response, 401, "unauthorized")


def test_token_request_is_validated(stack: StackProcess) -> None:
    url = f"{stack.base_url}/_local/token"
    body = assert_problem(
        requests.post(url, json={"sub": "", "groups": ["root"]}, timeout=30),
        400,
        "validation-error",
    )
    assert {error["field"] for error in body["errors"]} == {"sub", "groups"}
    assert_problem(requests.post(url, data="{not json", timeout=30), 400, "validation-error")
    assert_problem(requests.post(url, json={"sub": "x" * 129}, timeout=30), 400, "validation-error")
    assert_problem(requests.get(url, timeout=30), 405, "method-not-allowed")


def test_hostile_token_bodies_are_named_400s_not_500s(stack: StackProcess) -> None:
    url = f"{stack.base_url}/_local/token"
    deep = "[" * 1_000 + "]" * 1_000
    body = assert_problem(requests.post(url, data=deep, timeout=30), 400, "validation-error")
    assert "1000 levels" in body["detail"]
    long_number = '{"sub": "a", "n": ' + "9" * 3_000 + "}"
    assert_problem(requests.post(url, data=long_number, timeout=30), 400, "validation-error")
    twice = '{"sub": "a", "sub": "b"}'
    body = assert_problem(requests.post(url, data=twice, timeout=30), 400, "validation-error")
    assert body["errors"] == [
        {"field": "body", "message": "the key 'sub' appears twice in one object"}
    ]


def test_a_disabled_user_gets_a_forbidden_problem_not_a_token(stack: StackProcess) -> None:
    url = f"{stack.base_url}/_local/token"
    sub = "gw-disabled-1"
    assert requests.post(url, json={"sub": sub}, timeout=30).status_code == 200
    cognito = stack.client("cognito-idp")
    pool = cognito.list_user_pools(MaxResults=10)["UserPools"][0]["Id"]
    cognito.admin_disable_user(UserPoolId=pool, Username=sub)
    body = assert_problem(requests.post(url, json={"sub": sub}, timeout=30), 403, "forbidden")
    assert "disabled" in body["detail"].lower()


# -- the gateway's own problems --------------------------------------------------------------
def test_unknown_route_is_404_problem(stack: StackProcess) -> None:
    assert_problem(requests.get(f"{stack.base_url}/nowhere", timeout=30), 404, "not-found")


def test_wrong_method_is_405_problem_with_allow(stack: StackProcess) -> None:
    response = requests.delete(f"{stack.base_url}/public/1", timeout=30)
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["Allow"] == "GET, POST"


def test_body_over_the_limit_is_413_problem(stack: StackProcess) -> None:
    response = requests.post(f"{stack.base_url}/public/1", data=b"x" * (MAX_BODY + 1), timeout=30)
    assert_problem(response, 413, "payload-too-large")
    ok = requests.post(f"{stack.base_url}/public/1", data=b"x" * MAX_BODY, timeout=30)
    assert ok.status_code == 200


def test_headers_over_the_servers_limit_are_a_problem_too(stack: StackProcess) -> None:
    response = requests.get(
        f"{stack.base_url}/public/1", headers={"X-Huge": "x" * 70_000}, timeout=30
    )
    assert_problem(response, 413, "payload-too-large")


def test_no_answer_names_the_server_software(stack: StackProcess) -> None:
    for response in (
        requests.get(f"{stack.base_url}/public/1", timeout=30),
        requests.get(f"{stack.base_url}/nowhere", timeout=30),
        requests.get(f"{stack.base_url}/public/1", headers={"X-Huge": "x" * 70_000}, timeout=30),
    ):
        assert "Server" not in response.headers, response.headers
        assert "werkzeug" not in response.text.lower()


def test_handler_error_is_502_problem_without_internals(stack: StackProcess) -> None:
    response = requests.get(f"{stack.base_url}/boom", timeout=30)
    assert_problem(response, 502, "internal-error")
    assert "RuntimeError" not in response.text
    assert "boom" not in response.text


def test_crashed_worker_is_replaced(stack: StackProcess) -> None:
    assert_problem(requests.get(f"{stack.base_url}/crash", timeout=30), 502, "internal-error")
    after = echo(requests.get(f"{stack.base_url}/public/1", timeout=30))
    assert after["pid"] > 0


def test_concurrency_is_capped_per_function(stack: StackProcess) -> None:
    def call(_: int) -> int:
        return int(echo(requests.get(f"{stack.base_url}/public/1", timeout=60))["pid"])

    with ThreadPoolExecutor(max_workers=8) as executor:
        pids = set(executor.map(call, range(24)))
    assert 1 <= len(pids) <= 2  # LOCAL_MAX_CONCURRENCY=2


# -- docs ------------------------------------------------------------------------------------
def test_openapi_and_docs_are_served(stack: StackProcess) -> None:
    document = requests.get(f"{stack.base_url}/openapi.json", timeout=120).json()
    assert document["info"]["title"] == "Commerce API"
    assert document["servers"] == [{"url": stack.base_url}]
    assert document["components"]["securitySchemes"]["CognitoIdToken"]["scheme"] == "bearer"
    html = requests.get(f"{stack.base_url}/docs", timeout=30)
    assert html.headers["Content-Type"].startswith("text/html")
    assert "/docs/swagger-ui-bundle.min.js" in html.text
    js = requests.get(f"{stack.base_url}/docs/swagger-ui-bundle.min.js", timeout=30)
    assert js.status_code == 200
    assert len(js.content) > 100_000  # served offline from Powertools' bundle


# -- event sources and the outbox ------------------------------------------------------------
def _moto(stack: StackProcess, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_sqs_batch_failures_are_redriven_to_the_dlq(stack: StackProcess) -> None:
    sqs = _moto(stack, "sqs")
    queue = stack.info["queues"]["WorkQueue"]
    dlq = stack.info["queues"]["WorkDLQ"]
    sqs.send_message(QueueUrl=queue, MessageBody="fail")
    for _ in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody="ok")

    def dlq_bodies() -> list[str]:
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        return [message["Body"] for message in messages]

    assert eventually(dlq_bodies, timeout=30) == ["fail"]

    def drained() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        return (
            attributes["ApproximateNumberOfMessages"] == "0"
            and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
        )

    assert eventually(drained, timeout=30)


def test_schedules_fire_and_the_outbox_shows_what_sns_and_ses_received(
    stack: StackProcess,
) -> None:
    def sms() -> list[dict[str, Any]]:
        items = requests.get(f"{stack.base_url}/_local/outbox", timeout=30).json()["items"]
        return [i for i in items if i["channel"] == "sms" and "aws.scheduler" in i["body"]]

    tick = eventually(sms)[0]
    assert tick["to"] == "+8613800000000"
    assert tick["template"] is None

    ses = _moto(stack, "ses")
    ses.verify_email_identity(EmailAddress="shop@example.com")
    ses.send_email(
        Source="shop@example.com",
        Destination={"ToAddresses": ["buyer@example.com"]},
        Message={"Subject": {"Data": "Order shipped"}, "Body": {"Text": {"Data": "On its way"}}},
    )
    items = requests.get(f"{stack.base_url}/_local/outbox", timeout=30).json()["items"]
    (mail,) = [i for i in items if i["channel"] == "email"]
    assert mail["to"] == "buyer@example.com"
    assert mail["subject"] == "Order shipped"
    assert mail["body"] == "On its way"
    assert mail["at"].endswith("Z")


def test_an_empty_answer_names_no_media_type_and_a_body_defaults_to_json() -> None:
    from infra.local.events import to_response

    empty = to_response({"statusCode": 204, "body": None, "multiValueHeaders": {}})
    assert empty.status_code == 204
    assert "Content-Type" not in empty.headers
    typed = to_response({"statusCode": 200, "body": "{}"})
    assert typed.headers["Content-Type"] == "application/json"
    kept = to_response({"statusCode": 200, "body": "x", "headers": {"Content-Type": "text/csv"}})
    assert kept.headers["Content-Type"] == "text/csv"
