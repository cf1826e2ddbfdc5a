"""The OpenAPI document of the whole API, merged by Powertools from every function's resolver.

The merge imports each handler module, so it runs in a short-lived worker with the functions'
environment (as a handler would import), never in the stack's own process.

:func:`finish_document` then makes the merged document tell the truth about the deployed API,
in one place, for every function and route the template declares (new ones included):

- the template decides which operations exist, and with the access table
  (``commerce.http.access``) which need a token: routes behind the Cognito authorizer or that
  require one in the function get ``security: [{CognitoIdToken: []}]``, public ones none, and
  those open to guests that read an optional token ``[{}, {CognitoIdToken: []}]``;
- Powertools' automatic ``422 HTTPValidationError`` goes (validation errors are 400 problems);
- every error response is ``application/problem+json`` with the ``Problem`` schema, including
  the ones the gateway itself answers with (401 without a token, 413/415 for bodies, 429).

``python -m infra.local.openapi --out openapi.json`` writes the same document without starting
the stack (nothing is called while merging, so no emulator is needed).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import re
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commerce.http.access import Token, declared
from commerce.http.docs import BEARER_SCHEME, OPTIONAL_BEARER, problem_schemas
from commerce.http.problems import PROBLEM_CONTENT_TYPE

from infra.local.routes import Route

if TYPE_CHECKING:
    from infra.local.functions import FunctionSpec
    from infra.local.lambda_worker import WorkerConfig

log = logging.getLogger("infra.local")

SECURITY_SCHEME = BEARER_SCHEME
TITLE = "Commerce API"
DESCRIPTION = (
    "Catalog, carts that hold stock, checkout, orders and customers.\n\n"
    "Money is `{amount, currency}` in integer minor units. Errors are RFC 9457 problem details "
    "(`application/problem+json`) whose `type` is a stable slug such as `not-found`. Staff and "
    "account routes need `Authorization: Bearer <Cognito ID token>`; guest routes accept one "
    "optionally."
)
SERVER_DEFAULT = "http://127.0.0.1:3000"

PROBLEM_REF = "#/components/schemas/Problem"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Powertools' own validation shapes: our resolvers answer validation errors with 400 problems.
POWERTOOLS_VALIDATION_SCHEMAS = (
    "HTTPValidationError",
    "ValidationError",
    "ResponseValidationError",
)

# Errors the edge answers with before a function runs (template GatewayResponses, local gateway).
_UNAUTHORIZED = "Unauthorized: no bearer token, or one that is invalid or expired (`unauthorized`)"
_BAD_OPTIONAL_TOKEN = "Unauthorized: the bearer token sent is invalid or expired (`unauthorized`)"
_BODY_PROBLEMS = {
    400: "Bad Request: the body, path or query fails the schema (`validation-error`)",
    413: "Payload Too Large: the body exceeds the size limit (`payload-too-large`)",
    415: "Unsupported Media Type: the body is not JSON (`unsupported-media-type`)",
}
_PARAMETER_PROBLEM = {400: _BODY_PROBLEMS[400]}
_THROTTLED = "Too Many Requests: throttled; retry after `Retry-After` seconds (`too-many-requests`)"


# -- in the worker ------------------------------------------------------------------------------
def build_document(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Worker job: OpenAPIMerge over the handler files named in the event."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    merge = OpenAPIMerge(
        title=event["title"],
        version=event["version"],
        description=event.get("description", DESCRIPTION),
        servers=[Server(url=url) for url in event["servers"]],
        security_schemes={
            SECURITY_SCHEME: HTTPBearer(
                bearerFormat="JWT",
                description="A Cognito user pool ID token; groups in `cognito:groups`.",
            )
        },
        on_conflict="warn",
    )
    for file in event["files"]:
        merge.add_file(file, resolver_name="app")
    result: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    return result


# -- in the stack -------------------------------------------------------------------------------
def project_version(repo_root: Path) -> str:
    try:
        with (repo_root / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0.0.0"


def merge_job(
    functions: list[FunctionSpec],
    routes: list[Route],
    configs: dict[str, WorkerConfig],
    *,
    repo_root: Path,
    servers: list[str],
) -> tuple[WorkerConfig, dict[str, Any]]:
    """The worker configuration and event that merge every API function's resolver."""
    from infra.local.lambda_worker import WorkerConfig

    api_functions = {route.function for route in routes}
    environment: dict[str, str] = {}
    sys_path: list[str] = []
    files: list[str] = []
    for spec in functions:
        if spec.logical_id not in api_functions:
            continue
        config = configs[spec.logical_id]
        environment.update(config.environment)
        sys_path.extend(p for p in config.sys_path[1:] if p not in sys_path)
        module = spec.handler.rpartition(".")[0].replace(".", "/")
        files.append(str(spec.code_dir / f"{module}.py"))
    job = WorkerConfig(
        function_name="openapi",
        handler="infra.local.openapi.build_document",
        code_dir=str(repo_root),
        sys_path=[*sys_path, str(repo_root)],
        environment=environment,
        memory_mb=512,
        timeout_s=120,
        arn="arn:aws:lambda:us-east-1:123456789012:function:openapi",
    )
    event = {
        "title": TITLE,
        "version": project_version(repo_root),
        "servers": servers,
        "files": files,
    }
    return job, event


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict):
                yield path, method, operation


def route_for(routes: list[Route], path: str, method: str) -> Route | None:
    """The template route serving this operation (an ANY route serves every method)."""
    exact = [r for r in routes if r.path == path and r.method.lower() == method]
    if exact:
        return exact[0]
    return next((r for r in routes if r.path == path and r.method == "ANY"), None)


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }


def _is_powertools_validation_response(response: Any) -> bool:
    text = json.dumps(response)
    return any(f"schemas/{name}" in text for name in POWERTOOLS_VALIDATION_SCHEMAS)


def _truthful_problems(operation: dict[str, Any]) -> None:
    """Drop Powertools' 422, and document every error response as a problem+json Problem."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in list(responses):
        response = responses[status]
        if _is_powertools_validation_response(response):
            del responses[status]
            continue
        if not status.isdigit() or int(status) < 400:
            continue
        content: dict[str, Any] = response.get("content") or {}
        first: dict[str, Any] = next(iter(content.values()), {})
        schema = first.get("schema")
        if schema is None or schema == {"$ref": PROBLEM_REF}:
            response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}


def _add_problems(operation: dict[str, Any], problems: dict[int, str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in problems.items():
        responses.setdefault(str(status), _problem(description))


def _apply_security(path: str, method: str, operation: dict[str, Any], route: Route) -> None:
    """The template's authorizer and the route's declared access decide, not the handler: a
    token is required behind the authorizer or where the function requires one itself, and
    optional where guests may call too (``commerce.http.access``)."""
    operation.pop("security", None)
    access = declared(method, path)
    token = access.token if access is not None else Token.NONE
    if route.authorizer_pool or token is Token.REQUIRED:
        operation["security"] = [{SECURITY_SCHEME: []}]
        _add_problems(operation, {401: _UNAUTHORIZED})
    elif token is Token.OPTIONAL:
        operation["security"] = copy.deepcopy(OPTIONAL_BEARER)
        _add_problems(operation, {401: _BAD_OPTIONAL_TOKEN})


def _edge_problems(operation: dict[str, Any]) -> None:
    """The errors any operation can meet at the edge, whatever its function documents."""
    if "requestBody" in operation:
        _add_problems(operation, _BODY_PROBLEMS)
    elif operation.get("parameters"):
        _add_problems(operation, _PARAMETER_PROBLEM)
    _add_problems(operation, {429: _THROTTLED})
    # Whoever answers 429 (the gateway, or a function's TooManyRequests) says when to retry.
    operation["responses"]["429"].setdefault("headers", {}).setdefault(
        "Retry-After",
        {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
    )


def _complete_metadata(path: str, method: str, operation: dict[str, Any], route: Route) -> None:
    """operationId, summary and a tag on every operation, whatever the handler passed."""
    if not operation.get("operationId"):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
        operation["operationId"] = f"{method}_{slug}" if slug else method
    if not operation.get("summary"):
        operation["summary"] = f"{method.upper()} {path}"
    if not operation.get("tags"):
        operation["tags"] = [re.sub(r"Function$", "", route.function).lower() or "api"]
    responses = operation.get("responses") or {}
    operation["responses"] = dict(
        sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0]))
    )


def _references(value: Any) -> set[str]:
    return set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(value)))


def _reachable_schemas(document: dict[str, Any]) -> set[str]:
    """Component schemas referenced from the operations, directly or through other schemas."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    pending = _references({k: v for k, v in document.items() if k != "components"})
    reachable: set[str] = set()
    while pending:
        name = pending.pop()
        if name in reachable:
            continue
        reachable.add(name)
        pending |= _references(schemas.get(name, {})) - reachable
    return reachable


def _no_content_is_empty(operation: dict[str, Any]) -> None:
    """A 204 carries no body; Powertools still describes a JSON ``null`` for ``Response[None]``."""
    no_content = operation.get("responses", {}).get("204")
    if isinstance(no_content, dict):
        no_content.pop("content", None)


def finish_document(document: dict[str, Any], routes: list[Route]) -> dict[str, Any]:
    """Make the merged document describe the API as the template deploys it (module docstring)."""
    document = copy.deepcopy(document)
    for path, method, operation in list(_operations(document)):
        route = route_for(routes, path, method)
        if route is None:
            log.warning("OpenAPI: %s %s has no Api event in the template; left out", method, path)
            del document["paths"][path][method]
            if not document["paths"][path]:
                del document["paths"][path]
            continue
        _truthful_problems(operation)
        _no_content_is_empty(operation)
        _apply_security(path, method, operation, route)
        _edge_problems(operation)
        _complete_metadata(path, method, operation, route)

    components = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    schemas.update(problem_schemas())
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito user pool ID token; roles are its `cognito:groups`.",
        }
    }
    # Drop what nothing points at any more (Powertools' validation shapes, chiefly).
    reachable = _reachable_schemas(document)
    for name in [name for name in schemas if name not in reachable]:
        del schemas[name]

    tags: list[str] = []
    for _path, _method, operation in _operations(document):
        tags.extend(tag for tag in operation.get("tags", []) if tag not in tags)
    document["tags"] = [{"name": tag} for tag in tags]
    document.setdefault("info", {})["title"] = TITLE
    document["info"].setdefault("description", DESCRIPTION)
    return document


def mark_secured(document: dict[str, Any], routes: list[Route]) -> dict[str, Any]:
    """The finishing pass under the name the stack calls it by (see :func:`finish_document`)."""
    return finish_document(document, routes)


class OpenApiDocument:
    """Builds the document once, on first use (or in the background at start), and caches it."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._document: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._document is None:
                self._document = self._build()
            return self._document

    def prefetch(self) -> None:
        def run() -> None:
            try:
                self.get()
            except Exception:  # served later as a 500 problem, with the cause in the log
                return

        threading.Thread(target=run, name="openapi-prefetch", daemon=True).start()


# -- without a running stack --------------------------------------------------------------------
def build_offline(template_path: Path, server: str = SERVER_DEFAULT) -> dict[str, Any]:
    """The finished document for a template, merged in a worker with dummy endpoints."""
    from infra.local.environment import endpoint_environment, function_environment, worker_config
    from infra.local.functions import load_functions
    from infra.local.routes import load_routes
    from infra.local.template import Resolver, load_template
    from infra.local.workers import Spawner, run_once

    template_path = template_path.resolve()
    template = load_template(template_path)
    resolver = Resolver(template)
    functions = load_functions(template, resolver, template_path.parent)
    routes = load_routes(template, functions, resolver)
    # Handlers only create clients at import; nothing is called, so no emulator is needed.
    unused = "http://127.0.0.1:9"
    endpoints = endpoint_environment(unused, unused)
    configs = {
        spec.logical_id: worker_config(spec, function_environment(spec, endpoints))
        for spec in functions
    }
    job, event = merge_job(
        functions, routes, configs, repo_root=Path(__file__).resolve().parents[2], servers=[server]
    )
    spawner = Spawner()
    try:
        document = run_once(job, event, spawner)
    finally:
        spawner.shutdown()
    return finish_document(document, routes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.openapi",
        description="Write the API's OpenAPI document, merged from template.yaml's functions.",
    )
    repo_root = Path(__file__).resolve().parents[2]
    parser.add_argument("--template", type=Path, default=repo_root / "template.yaml")
    parser.add_argument(
        "--server", default=SERVER_DEFAULT, help=f"servers[0].url ({SERVER_DEFAULT})"
    )
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    text = json.dumps(build_offline(args.template, args.server), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
