"""Schemathesis over every operation of the local stack's OpenAPI document (QUALITY.md, contract).

Every operation the document lists gets generated requests, valid and invalid, and every
response must be: not a server error, a documented status, the documented content type, and a
body that matches the documented schema. Operations behind the Cognito authorizer are called
with an admin token (so the function runs, rather than the authorizer answering 401); public
ones, including those that only accept an optional token, are called anonymously.

Schemathesis parametrizes at collection, before the stack runs, so the document is built then
the way the stack builds it (python -m infra.local.openapi); the first test checks that the
stack serves that very document. Each operation runs as a subtest: a failure names it
(`[POST /admin/products]`) and prints a curl command that reproduces it. The run is bounded and
deterministic (derandomized, no example database) so CI sees the same cases every time and the
layer stays within a few minutes.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from commerce.http import json_guard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.local.harness import REPO_ROOT, StackProcess
from infra.local.openapi import HTTP_METHODS, SECURITY_SCHEME, build_offline

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STAFF = ("contract-admin", ("admin",), "contract-admin@example.com")
#: Who ``DELETE /me`` erases: erasure is for ever (every later token of the subject is 401), so
#: never the admin every other operation runs as.
ERASED = ("contract-erasure", ("customer",), "contract-erasure@example.com")

DOCUMENT = build_offline(REPO_ROOT / "template.yaml")
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [
    (path, method, item[method])
    for path, item in DOCUMENT["paths"].items()
    for method in HTTP_METHODS
    if method in item
]
BY_LABEL = {f"{method.upper()} {path}": (path, method, op) for path, method, op in OPERATIONS}


def _headers(stack: StackProcess, operation: dict[str, Any]) -> dict[str, str]:
    """An admin token where every security requirement names the bearer scheme, else none."""
    requirements: Any = operation.get("security")
    if requirements and all(SECURITY_SCHEME in requirement for requirement in requirements):
        return {"Authorization": f"Bearer {stack.token(*STAFF)}"}
    return {}


def test_the_stack_serves_the_document_under_test(stack: StackProcess) -> None:
    served = requests.get(f"{stack.base_url}/openapi.json", timeout=120).json()
    assert served["servers"] == [{"url": stack.base_url}]
    assert {**served, "servers": DOCUMENT["servers"]} == DOCUMENT


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_honours_the_document(
    case: schemathesis.Case[Any], stack: StackProcess
) -> None:
    """Schemathesis' examples, coverage and fuzzing phases, positive and negative data."""
    headers = _headers(stack, case.operation.definition.raw)
    if (case.operation.method.upper(), case.operation.path) == ("DELETE", "/me"):
        headers = {"Authorization": f"Bearer {stack.token(*ERASED)}"}
    case.call_and_validate(base_url=stack.base_url, headers=headers, checks=CHECKS, timeout=30)


@pytest.mark.parametrize(
    "label", [label for label, (_, _, op) in BY_LABEL.items() if "requestBody" in op]
)
def test_a_body_that_is_not_utf8_is_a_validation_problem(label: str, stack: StackProcess) -> None:
    path, method, definition = BY_LABEL[label]
    url = stack.base_url + path.replace("{", "").replace("}", "")  # any value fits a path param
    headers = {**_headers(stack, definition), "Content-Type": "application/json"}
    response = requests.request(method, url, data=b'{"x": "\xff"}', headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "validation-error"


def _hostile_bodies() -> st.SearchStrategy[str]:
    """JSON that breaks one of the guard's limits: nesting, a long number, a key given twice,
    a number JSON does not have; each small enough to pass the size limit."""
    depth = st.integers(min_value=json_guard.MAX_DEPTH + 1, max_value=5_000)
    digits = st.integers(min_value=json_guard.MAX_INTEGER_DIGITS + 1, max_value=5_000)
    key = st.sampled_from(["quantity", "delta", "price", "sub", "cart_id", "x"])
    return st.one_of(
        depth.map(lambda d: "[" * d + "]" * d),
        depth.map(lambda d: '{"a":' * d + "1" + "}" * d),
        st.tuples(key, digits).map(lambda kd: f'{{"{kd[0]}": {"9" * kd[1]}}}'),
        key.map(lambda k: f'{{"{k}": 1, "{k}": 2}}'),
        st.sampled_from(['{"price": NaN}', '{"amount": Infinity}', "[-Infinity]"]),
    )


@pytest.mark.parametrize(
    "label", [label for label, (_, _, op) in BY_LABEL.items() if "requestBody" in op]
)
@settings(max_examples=5, deadline=None, derandomize=True, database=None)
@given(text=_hostile_bodies())
def test_hostile_json_is_a_named_400_on_every_operation(
    label: str, text: str, stack: StackProcess
) -> None:
    """The guard runs before any handler work: never a 5xx or a stack trace, always the
    problem that names the broken limit."""
    path, method, definition = BY_LABEL[label]
    url = stack.base_url + path.replace("{", "").replace("}", "")
    headers = {**_headers(stack, definition), "Content-Type": "application/json"}
    response = requests.request(method, url, data=text.encode(), headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "validation-error"
    assert body["errors"][0]["field"] == "body"
    assert "Traceback" not in response.text
