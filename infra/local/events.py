"""API Gateway REST proxy events (payload version 1.0) and the way back to HTTP.

The handler must not be able to tell the local gateway from API Gateway, so the event carries
every field the real one does, in the same shapes (None rather than {} where API Gateway sends
null), and a proxy response is translated the way API Gateway translates it.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from infra.local.routes import Route
from infra.local.template import ACCOUNT_ID

API_ID = "localapi01"
RAW_HEADERS_KEY = "local.raw_headers"  # set by the gateway's request handler


class MalformedProxyResponse(ValueError):
    """The handler's result is not a valid Lambda proxy response."""


def _body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def build_event(
    request: Request,
    route: Route,
    path_params: dict[str, str],
    body: bytes,
    claims: dict[str, str] | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The REST proxy event for one request to one route."""
    request_id = request_id or str(uuid.uuid4())
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    raw_headers = request.environ.get(RAW_HEADERS_KEY) or list(request.headers.items())
    for name, value in raw_headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, values in request.args.lists():
        query[key] = values[-1]
        multi_query[key] = list(values)
    now = datetime.now(UTC)
    text, is_base64 = _body(body)
    source_ip = request.remote_addr or "127.0.0.1"
    request_context: dict[str, Any] = {
        "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.path).hex[:6],
        "resourcePath": route.path,
        "httpMethod": request.method,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{route.stage}{request.path}",
        "accountId": ACCOUNT_ID,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "stage": route.stage,
        "domainPrefix": "localhost",
        "requestTimeEpoch": int(time.time() * 1000),
        "requestId": request_id,
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": request.headers.get("User-Agent"),
            "user": None,
        },
        "domainName": request.host,
        "apiId": API_ID,
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": claims}
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": text,
        "isBase64Encoded": is_base64,
    }


def to_response(result: Any) -> Response:
    """API Gateway's translation of a Lambda proxy response into HTTP."""
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedProxyResponse("missing statusCode")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise MalformedProxyResponse("statusCode is not an integer") from exc
    headers = Headers()
    for name, value in (result.get("headers") or {}).items():
        headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.remove(name)
        for value in values or []:
            headers.add(name, str(value))
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(str(body))
    else:
        payload = str(body).encode("utf-8")
    typed = "Content-Type" in headers
    if not typed and payload:
        headers["Content-Type"] = "application/json"
    response = Response(payload, status=status, headers=headers)
    if not typed and not payload:
        # An empty answer (204) names no media type; werkzeug would otherwise default one.
        del response.headers["Content-Type"]
    return response
