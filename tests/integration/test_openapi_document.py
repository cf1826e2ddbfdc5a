"""The merged OpenAPI document tells the truth about the API that template.yaml deploys.

The document is built exactly as the local stack builds it (every API function's resolver merged
in a worker, then finished against the template's routes), only without emulators. Routes come
from the template through infra.local, so a new function or route is checked without edits here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from commerce.http.access import ROUTES as DECLARED
from commerce.http.access import Token, declared
from commerce.http.docs import OPTIONAL_BEARER
from openapi_spec_validator import validate

from infra.local.functions import FunctionSpec, load_functions
from infra.local.openapi import (
    HTTP_METHODS,
    PROBLEM_REF,
    SECURITY_SCHEME,
    build_offline,
    finish_document,
    project_version,
)
from infra.local.routes import Route, load_routes
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SERVER = "http://127.0.0.1:3999"
PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}}
REQUIRED: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]

_template = load_template(TEMPLATE)
FUNCTIONS = {f.logical_id: f for f in load_functions(_template, Resolver(_template), ROOT)}
ROUTES = load_routes(_template, list(FUNCTIONS.values()), Resolver(_template))


def _handler_file(spec: FunctionSpec) -> Path:
    return spec.code_dir / (spec.handler.rpartition(".")[0].replace(".", "/") + ".py")


def _route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_offline(TEMPLATE, SERVER)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in document["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


def _operation(document: dict[str, Any], route: Route) -> dict[str, Any]:
    if not _handler_file(FUNCTIONS[route.function]).exists():
        pytest.skip(
            f"{route.function} has no handler code yet ({_handler_file(FUNCTIONS[route.function])})"
        )
    item = document["paths"].get(route.path, {})
    methods = HTTP_METHODS if route.method == "ANY" else (route.method.lower(),)
    found = [item[m] for m in methods if m in item]
    assert found, f"{_route_id(route)} (template event of {route.function}) is not documented"
    return dict(found[0])


# -- the document as a whole ----------------------------------------------------------------------
def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_info_servers_and_security_scheme(document: dict[str, Any]) -> None:
    assert document["info"]["title"] == "Commerce API"
    assert document["info"]["version"] == project_version(ROOT)
    assert document["servers"] == [{"url": SERVER}]
    assert document["components"]["securitySchemes"] == {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": document["components"]["securitySchemes"][SECURITY_SCHEME][
                "description"
            ],
        }
    }


def test_no_powertools_validation_shapes_remain(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        assert f"schemas/{name}" not in text
        assert name not in document["components"]["schemas"]
    for path, method, operation in operations(document):
        response = operation["responses"].get("422")
        if response is not None:  # our own 422s (idempotency-key-reuse, coupon-invalid) only
            assert response["content"] == PROBLEM_CONTENT, f"{method} {path}"


def test_every_error_response_is_a_problem(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM_CONTENT, f"{method} {path} {status}"
            else:
                assert "application/problem+json" not in response.get("content", {})


def test_the_problem_schema_documents_the_extensions(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "available"} <= set(problem["properties"])
    assert problem["properties"]["errors"]["type"] == "array"  # absent when unused, never null
    assert problem["additionalProperties"] is True


def test_every_operation_has_an_id_a_summary_and_a_tag(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    declared_tags = {tag["name"] for tag in document["tags"]}
    for path, method, operation in operations(document):
        assert operation.get("summary"), f"{method} {path}"
        assert operation.get("tags"), f"{method} {path}"
        assert set(operation["tags"]) <= declared_tags


def test_every_operation_has_an_api_event(document: dict[str, Any]) -> None:
    served = {(r.path, r.method) for r in ROUTES}
    for path, method, _ in operations(document):
        assert (path, method.upper()) in served or (path, "ANY") in served, f"{method} {path}"


def test_throttling_is_documented_everywhere(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        assert "Retry-After" in operation["responses"]["429"]["headers"], f"{method} {path}"


# -- per template route ---------------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_each_api_event_is_documented_with_its_auth(document: dict[str, Any], route: Route) -> None:
    operation = _operation(document, route)
    access = declared(route.method, route.path)
    assert access is not None, f"{_route_id(route)}: no access declared in commerce.http.access"
    if route.authorizer_pool or access.token is Token.REQUIRED:
        assert operation["security"] == REQUIRED
        assert operation["responses"]["401"]["content"] == PROBLEM_CONTENT
    elif access.token is Token.OPTIONAL:
        assert operation["security"] == OPTIONAL_BEARER
        assert operation["responses"]["401"]["content"] == PROBLEM_CONTENT
    else:
        assert "security" not in operation


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_the_authorizer_guards_exactly_the_routes_that_read_no_guest_token(route: Route) -> None:
    """Behind the authorizer a guest could never reach the function, so a route open to guests
    (or to no one's token) must be public at the gateway; a route the function does not verify
    tokens for must be behind it."""
    access = declared(route.method, route.path)
    assert access is not None
    if access.token in (Token.NONE, Token.OPTIONAL, Token.SIGNATURE):
        assert route.authorizer_pool is None, _route_id(route)
    elif not access.owned:
        assert route.authorizer_pool is not None, _route_id(route)


def test_every_declared_access_names_a_routed_operation() -> None:
    routed = {_route_id(route) for route in ROUTES}
    assert set(DECLARED) == routed


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_body_operations_document_the_edge_problems(document: dict[str, Any], route: Route) -> None:
    operation = _operation(document, route)
    if "requestBody" in operation:
        assert {"400", "413", "415"} <= set(operation["responses"])


# -- the finishing pass, on a synthetic merge -----------------------------------------------------
def _route(path: str, method: str, *, secured: bool) -> Route:
    return Route(
        function="CartFunction",
        path=path,
        method=method,
        stage="dev",
        authorizer_pool="UserPool" if secured else None,
    )


def _merged(paths: dict[str, Any]) -> dict[str, Any]:
    validation = {
        "description": "Validation Error",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    }
    for item in paths.values():
        for operation in item.values():
            operation.setdefault("responses", {})["422"] = validation
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {
                "HTTPValidationError": {
                    "type": "object",
                    "properties": {
                        "detail": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ValidationError"},
                        }
                    },
                },
                "ValidationError": {"type": "object"},
                "Orphan": {"type": "object"},
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def test_finish_follows_the_template_not_the_handler() -> None:
    merged = _merged(
        {
            "/carts": {
                "post": {"security": OPTIONAL_BEARER, "responses": {"201": {"description": "ok"}}}
            },
            "/carts/{cart_id}": {
                "get": {
                    "security": REQUIRED,
                    "parameters": [
                        {"name": "cart_id", "in": "path", "required": True, "schema": {}}
                    ],
                    "responses": {},
                }
            },
            "/admin/things": {
                "post": {"requestBody": {"content": {"application/json": {}}}, "responses": {}}
            },
            "/not/routed": {"get": {"responses": {}}},
        }
    )
    routes = [
        _route("/carts", "POST", secured=False),
        _route("/carts/{cart_id}", "GET", secured=False),
        _route("/admin/things", "ANY", secured=True),
    ]
    finished = finish_document(merged, routes)

    assert set(finished["paths"]) == {"/carts", "/carts/{cart_id}", "/admin/things"}
    assert finished["paths"]["/carts"]["post"]["security"] == OPTIONAL_BEARER
    # The handler said a token is required; the template and the access table say guests too.
    assert finished["paths"]["/carts/{cart_id}"]["get"]["security"] == OPTIONAL_BEARER
    admin = finished["paths"]["/admin/things"]["post"]
    assert admin["security"] == REQUIRED
    assert {"400", "401", "413", "415", "429"} <= set(admin["responses"])
    assert admin["tags"] == ["cart"]
    assert admin["summary"]
    assert admin["operationId"]
    assert "422" not in json.dumps([op["responses"] for _, _, op in operations(finished)])
    assert set(finished["components"]["schemas"]) == {"Problem", "ProblemFieldError"}
    assert list(finished["components"]["securitySchemes"]) == [SECURITY_SCHEME]
    validate(finished)


def test_finish_moves_problems_documented_as_json_to_problem_json() -> None:
    merged = _merged(
        {
            "/carts": {
                "post": {
                    "responses": {
                        "409": {
                            "description": "Conflict",
                            "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}},
                        }
                    }
                }
            }
        }
    )
    finished = finish_document(merged, [_route("/carts", "POST", secured=False)])
    assert finished["paths"]["/carts"]["post"]["responses"]["409"]["content"] == PROBLEM_CONTENT


def test_the_command_line_writes_the_same_document(
    document: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "infra.local.openapi", "--out", str(out), "--server", SERVER],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert json.loads(out.read_text(encoding="utf-8")) == document


def test_no_content_answers_describe_no_body() -> None:
    route = next(r for r in ROUTES if r.method == "DELETE" and r.path == "/me")
    merged = {
        "openapi": "3.0.3",
        "info": {"title": "x", "version": "1"},
        "paths": {
            "/me": {
                "delete": {
                    "responses": {
                        "204": {
                            "description": "Erased",
                            "content": {"application/json": {"schema": {"type": "null"}}},
                        }
                    }
                }
            }
        },
    }
    finished = finish_document(merged, [route])
    assert "content" not in finished["paths"]["/me"]["delete"]["responses"]["204"]
