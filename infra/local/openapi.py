"""The OpenAPI document of the whole API, merged by Powertools from every function's resolver.

The merge imports each handler module, so it runs in a short-lived worker with the functions'
environment (as a handler would import), never in the stack's own process. The gateway then
marks the operations its Cognito authorizer guards with the bearer security scheme.
"""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local.routes import Route

SECURITY_SCHEME = "bearerAuth"
TITLE = "Commerce API"


def build_document(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Worker job: OpenAPIMerge over the handler files named in the event."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    merge = OpenAPIMerge(
        title=event["title"],
        version=event["version"],
        description=event.get("description"),
        servers=[Server(url=url) for url in event["servers"]],
        security_schemes={SECURITY_SCHEME: HTTPBearer(bearerFormat="JWT")},
        on_conflict="warn",
    )
    for file in event["files"]:
        merge.add_file(file, resolver_name="app")
    result: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    return result


def project_version(repo_root: Path) -> str:
    try:
        with (repo_root / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0.0.0"


def mark_secured(document: dict[str, Any], routes: list[Route]) -> dict[str, Any]:
    """Operations behind the authorizer get `security: bearerAuth`, public ones none."""
    secured = {(r.path, r.method.lower()) for r in routes if r.authorizer_pool}
    for path, operations in (document.get("paths") or {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            if (path, method) in secured or (path, "any") in secured:
                operation.setdefault("security", [{SECURITY_SCHEME: []}])
    return document


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
