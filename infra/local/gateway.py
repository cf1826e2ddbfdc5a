"""The HTTP gateway: API Gateway's REST API in front of the function workers.

It routes by the template's Api events, enforces the payload limit and the Cognito authorizer
before any handler runs, builds the proxy event and hands it to the function's worker pool, and
serves the local-only routes (/_local/token, /_local/outbox, /_local/carrier-events,
/_local/faults) and the API's docs.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_lambda_powertools
from commerce.http import json_guard
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.local.auth import (
    CognitoIssuer,
    CognitoVerifier,
    SignInRefused,
    TokenRequest,
    TokenRequestInvalid,
    Unauthorized,
)
from infra.local.carrier import (
    CarrierEventInvalid,
    CarrierEventRequest,
    NoShipment,
    SandboxCarrier,
)
from infra.local.events import (
    RAW_HEADERS_KEY,
    MalformedProxyResponse,
    build_event,
    to_response,
)
from infra.local.faults import WORKER_KILLED, FaultPlan, FaultPlanInvalid, Faults
from infra.local.openapi import OpenApiDocument
from infra.local.outbox import Outbox
from infra.local.payment_sandbox import PREFIX as PAYMENTS_PREFIX
from infra.local.payment_sandbox import PaymentSandbox
from infra.local.problems import PROBLEM_TYPE, problem, problem_body
from infra.local.routes import NoRoute, Route, WrongMethod, find_route
from infra.local.workers import FunctionPool, InvokeError, WorkerKilled, WorkerTimedOut

log = logging.getLogger("infra.local.gateway")

FAULTS_PATH = "/_local/faults"
DEFAULT_MAX_BODY = 64 * 1024  # the template's MaxRequestBodyBytes default, as the WAF enforces it
SWAGGER_DIR = Path(str(aws_lambda_powertools.__file__)).parent / (
    "event_handler/openapi/swagger_ui"
)


@dataclass
class Gateway:
    """The WSGI application of the local API."""

    routes: list[Route]
    pools: dict[str, FunctionPool]
    verifiers: dict[str, CognitoVerifier] = field(default_factory=dict)
    issuer: CognitoIssuer | None = None
    outbox: Outbox | None = None
    openapi: OpenApiDocument | None = None
    max_body: int = DEFAULT_MAX_BODY
    #: Signing secrets of the carriers (the webhooks function's own), for the sandbox carrier.
    carrier_secrets: dict[str, str] = field(default_factory=dict)
    _carrier: SandboxCarrier | None = field(default=None, repr=False)
    payments: PaymentSandbox | None = None
    #: The faults the stack injects (``/_local/faults``; workers killed mid-request here).
    faults: Faults | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request_id = str(uuid.uuid4())
        try:
            response = self.dispatch(request, request_id)
        except Exception:  # the gateway itself failed: log it, never show it
            log.exception("gateway error on %s %s", request.method, request.path)
            response = problem(500, "internal-error", "The gateway failed to handle the request.")
        response.headers["x-amzn-RequestId"] = request_id
        return response(environ, start_response)

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, request: Request, request_id: str) -> Response:
        local = self._local_route(request)
        if local is not None:
            return local
        try:
            route, params = find_route(self.routes, request.path, request.method)
        except NoRoute:
            return problem(404, "not-found", f"No route for {request.path}.")
        except WrongMethod as exc:
            return problem(
                405,
                "method-not-allowed",
                f"{request.method} is not allowed on {request.path}.",
                headers={"Allow": ", ".join(exc.allowed)},
            )
        body = self._read_body(request)
        if body is None:
            return problem(
                413, "payload-too-large", f"The request body exceeds {self.max_body} bytes."
            )
        claims: dict[str, str] | None = None
        if route.authorizer_pool is not None:
            verifier = self.verifiers.get(route.authorizer_pool)
            if verifier is None:
                return problem(401, "unauthorized", "No authorizer is configured for this route.")
            try:
                claims = verifier.verify(request.headers.get("Authorization"))
            except Unauthorized as exc:
                return problem(401, "unauthorized", f"Authentication failed: {exc}.")
        event = build_event(request, route, params, body, claims, request_id)
        return self._invoke(route, event, request_id)

    def _read_body(self, request: Request) -> bytes | None:
        length = request.content_length
        if length is not None and length > self.max_body:
            return None
        data = request.stream.read(self.max_body + 1)
        if len(data) > self.max_body:
            return None
        return bytes(data)

    def _invoke(self, route: Route, event: dict[str, Any], request_id: str) -> Response:
        pool = self.pools[route.function]
        kill_after = self.faults.kill_after() if self.faults is not None else None
        try:
            result = pool.invoke(event, request_id, kill_after=kill_after)
        except WorkerTimedOut:
            return _function_failed(504, "The function timed out.")
        except WorkerKilled:
            if self.faults is not None:
                self.faults.record(WORKER_KILLED)
            log.warning("function %s: worker killed mid-request (injected fault)", route.function)
            return _function_failed(502, "The function failed to respond.")
        except InvokeError:
            log.exception("function %s failed", route.function)
            return _function_failed(502, "The function failed to respond.")
        if not result.ok:
            log.error("function %s raised: %s", route.function, result.payload)
            return _function_failed(502, "The function failed to respond.")
        try:
            return to_response(result.payload)
        except MalformedProxyResponse as exc:
            log.error("function %s returned a malformed response: %s", route.function, exc)
            return problem(502, "internal-error", "The function returned a malformed response.")

    # -- local-only routes ------------------------------------------------------------------
    def _local_route(self, request: Request) -> Response | None:
        handlers = {
            "/_local/token": ("POST", self._token),
            "/_local/outbox": ("GET", self._outbox),
            "/_local/carrier-events": ("POST", self._carrier_event),
            "/_local/health": ("GET", lambda _r: _json({"status": "ok"})),
            "/openapi.json": ("GET", self._openapi),
            "/docs": ("GET", self._docs),
            "/docs/swagger-ui-bundle.min.js": ("GET", self._swagger_asset),
            "/docs/swagger-ui.min.css": ("GET", self._swagger_asset),
        }
        if request.path.startswith(PAYMENTS_PREFIX) and self.payments is not None:
            return self.payments.handle(request)
        if request.path.rstrip("/") == FAULTS_PATH:
            return self._faults(request)
        entry = handlers.get(request.path.rstrip("/") or "/")
        if entry is None:
            return None
        method, handler = entry
        if request.method != method:
            return problem(
                405,
                "method-not-allowed",
                f"{request.method} is not allowed on {request.path}.",
                headers={"Allow": method},
            )
        return handler(request)

    def _local_body(self, request: Request) -> Any:
        """A local route's JSON body (None when empty or not JSON: the route's parser says
        why), or the problem of a body over the size limit or breaking a JSON guard limit."""
        raw = request.get_data(cache=False)
        if len(raw) > self.max_body:
            return problem(
                413, "payload-too-large", f"The request body exceeds {self.max_body} bytes."
            )
        try:
            text = raw.decode("utf-8") or "null"
        except UnicodeDecodeError:
            return None
        refused = json_guard.refusal(text)
        if refused is not None:
            errors = [{"field": refused.field, "message": refused.message}]
            return problem(400, "validation-error", refused.message, errors=errors)
        try:
            return json.loads(text)
        except ValueError:
            return None

    def _token(self, request: Request) -> Response:
        if self.issuer is None:
            return problem(404, "not-found", "The template declares no user pool.")
        body = self._local_body(request)
        if isinstance(body, Response):
            return body
        try:
            token_request = TokenRequest.parse(body)
        except TokenRequestInvalid as exc:
            return problem(
                400, "validation-error", "The token request is invalid.", errors=exc.errors
            )
        try:
            return _json({"token": self.issuer.issue(token_request)})
        except SignInRefused as exc:
            return problem(403, "forbidden", str(exc))

    def _carrier_event(self, request: Request) -> Response:
        """The sandbox carrier reports a step of the order's shipment through the webhook."""
        if self.issuer is None:
            return problem(404, "not-found", "The template declares no user pool.")
        body = self._local_body(request)
        if isinstance(body, Response):
            return body
        try:
            event = CarrierEventRequest.parse(body)
        except CarrierEventInvalid as exc:
            return problem(
                400, "validation-error", "The carrier event is invalid.", errors=exc.errors
            )
        if self._carrier is None:  # one per gateway: it keeps its token between calls
            self._carrier = SandboxCarrier(self.dispatch, self.issuer, self.carrier_secrets)
        try:
            sent, reply = self._carrier.send(event)
        except NoShipment as exc:
            slug = {404: "not-found", 409: "conflict"}.get(exc.status, "internal-error")
            return problem(exc.status, slug, exc.detail)
        if reply.status_code >= 300:
            return reply  # the webhook's own problem: what a real carrier would have been told
        return _json({**sent, "webhook": json.loads(reply.get_data())}, status=202)

    def _faults(self, request: Request) -> Response:
        """``/_local/faults``: GET what is on and what was injected; PATCH turns faults on or
        off (a JSON object of plan fields); DELETE turns every fault off."""
        if self.faults is None:
            return problem(404, "not-found", "This stack injects no faults.")
        if request.method == "PATCH":
            body = self._local_body(request)
            if isinstance(body, Response):
                return body
            try:
                self.faults.apply(self.faults.plan.changed(body))
            except FaultPlanInvalid as exc:
                return problem(
                    400, "validation-error", "The fault plan is invalid.", errors=exc.errors
                )
        elif request.method == "DELETE":
            self.faults.apply(FaultPlan())
        elif request.method != "GET":
            return problem(
                405,
                "method-not-allowed",
                f"{request.method} is not allowed on {request.path}.",
                headers={"Allow": "GET, PATCH, DELETE"},
            )
        return _json(self.faults.snapshot())

    def _outbox(self, _request: Request) -> Response:
        items = self.outbox.items() if self.outbox is not None else []
        return _json({"items": items})

    def _document(self) -> dict[str, Any] | Response:
        """The merged OpenAPI document, or the problem that says why there is none."""
        if self.openapi is None:
            return problem(404, "not-found", "No OpenAPI document.")
        try:
            return self.openapi.get()
        except Exception:
            log.exception("OpenAPI document failed to build")
            return problem(500, "internal-error", "The OpenAPI document failed to build.")

    def _openapi(self, _request: Request) -> Response:
        document = self._document()
        return document if isinstance(document, Response) else _json(document)

    def _docs(self, request: Request) -> Response:
        if request.args.get("format") == "json":
            return self._openapi(request)
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import (
            generate_swagger_html,
        )

        document = self._document()
        if isinstance(document, Response):
            return document
        html = generate_swagger_html(
            spec=json.dumps(document),
            swagger_js="/docs/swagger-ui-bundle.min.js",
            swagger_css="/docs/swagger-ui.min.css",
            swagger_base_url="/docs",
            oauth2_config=None,
            persist_authorization=True,
        ).replace('updateUrl(currentUrl.pathname + "?format=json")', 'updateUrl("/openapi.json")')
        return Response(html, content_type="text/html; charset=utf-8")

    def _swagger_asset(self, request: Request) -> Response:
        name = request.path.rsplit("/", 1)[-1]
        content_type = "text/css" if name.endswith(".css") else "application/javascript"
        return Response((SWAGGER_DIR / name).read_bytes(), content_type=content_type)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _function_failed(status: int, detail: str) -> Response:
    """What API Gateway answers when the Lambda behind a route crashed, raised or timed out:
    502 (504 for a timeout) naming the error type in ``x-amzn-ErrorType``, as a problem."""
    return problem(
        status,
        "internal-error",
        detail,
        headers={"x-amzn-ErrorType": "InternalServerErrorException"},
    )


class QuietRequestHandler(WSGIRequestHandler):
    """Access logs only when asked for (they drown the handlers' own logs otherwise)."""

    verbose = False

    def make_environ(self) -> Any:
        # WSGI folds repeated headers into one comma-joined value; API Gateway keeps each one
        # in multiValueHeaders, so the raw list travels alongside.
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.verbose:
            super().log_request(code, size)

    def send_header(self, keyword: str, value: str) -> None:
        # API Gateway names no server software, and neither does its stand-in.
        if keyword.lower() != "server":
            super().send_header(keyword, value)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the HTTP server answers itself, before any WSGI (a request line or a header
        over its limits, a malformed request): a problem, like every other answer."""
        if code in (413, 414, 431):
            status, slug = 413, "payload-too-large"
            detail = "The request line or its headers exceed what the gateway reads."
        else:
            status, slug = 400, "validation-error"
            detail = "The request is not valid HTTP."
        body = problem_body(status, slug, detail)
        self.log_error("code %d, message %s", code, message)
        self.send_response(status)
        self.send_header("Content-Type", PROBLEM_TYPE)
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve(app: Gateway, port: int, verbose: bool = False) -> BaseWSGIServer:
    """A threaded server on 127.0.0.1:port; call serve_forever() on a thread."""
    handler = type("Handler", (QuietRequestHandler,), {"verbose": verbose})
    return make_server("127.0.0.1", port, app, threaded=True, request_handler=handler)
