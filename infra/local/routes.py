"""The API's routes, read from every `Api` event of every function in the template.

Matching follows API Gateway: a literal segment beats a {param}, which beats a {proxy+}; a known
path with another method is a 405, an unknown path a 404. Each route also knows whether the API's
Cognito authorizer guards it, and with which user pool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from infra.local.functions import FunctionSpec

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass
class Route:
    """One Api event: a (path, method) served by one function."""

    function: str  # logical id
    path: str  # the template path, e.g. /products/{product_id}
    method: str  # upper case, or ANY
    stage: str
    authorizer_pool: str | None  # logical id of the user pool whose tokens are required
    regex: re.Pattern[str] = field(init=False)
    param_names: list[str] = field(init=False)
    greedy: bool = field(init=False)

    def __post_init__(self) -> None:
        parts: list[str] = []
        self.param_names = []
        self.greedy = False
        for segment in self.path.strip("/").split("/"):
            match = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
            if match:
                self.param_names.append(match.group(1))
                self.greedy = self.greedy or bool(match.group(2))
                pattern = ".+" if match.group(2) else "[^/]+"
                parts.append(f"(?P<p{len(self.param_names) - 1}>{pattern})")
            elif segment:
                parts.append(re.escape(segment))
        self.regex = re.compile("^/" + "/".join(parts) + "/?$")

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (int(self.greedy), len(self.param_names), -self.path.count("/"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path)
        if found is None:
            return None
        return {name: found.group(f"p{i}") for i, name in enumerate(self.param_names)}


class NoRoute(Exception):
    """No route has this path."""


class WrongMethod(Exception):
    """Routes have this path, not this method."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


def _ref_target(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return None


def _pool_of(authorizer: dict[str, Any]) -> str | None:
    arns = authorizer.get("UserPoolArn")
    candidates = arns if isinstance(arns, list) else [arns]
    for arn in candidates:
        if isinstance(arn, dict) and "Fn::GetAtt" in arn:
            target = arn["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def _api_auth(template: dict[str, Any], api_logical_id: str | None) -> dict[str, Any]:
    global_auth = ((template.get("Globals") or {}).get("Api") or {}).get("Auth") or {}
    if api_logical_id is None:
        return dict(global_auth)
    props = ((template.get("Resources") or {}).get(api_logical_id) or {}).get("Properties") or {}
    return {**global_auth, **(props.get("Auth") or {})}


def _api_stage(template: dict[str, Any], api_logical_id: str | None, resolver: Any) -> str:
    if api_logical_id is None:
        return "Prod"
    props = ((template.get("Resources") or {}).get(api_logical_id) or {}).get("Properties") or {}
    stage = props.get("StageName", "Prod")
    return str(resolver.resolve(stage)) if resolver is not None else str(stage)


def load_routes(
    template: dict[str, Any], functions: list[FunctionSpec], resolver: Any = None
) -> list[Route]:
    """Every Api event of every function, most specific first."""
    pools = [
        logical
        for logical, spec in (template.get("Resources") or {}).items()
        if isinstance(spec, dict) and spec.get("Type") == "AWS::Cognito::UserPool"
    ]
    routes: list[Route] = []
    for function in functions:
        for event in function.events.values():
            if not isinstance(event, dict) or event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            api_id = _ref_target(props.get("RestApiId"))
            api_auth = _api_auth(template, api_id)
            event_auth = props.get("Auth") or {}
            name = event_auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
            pool: str | None = None
            if name and name != "NONE" and name != "AWS_IAM":
                authorizer = (api_auth.get("Authorizers") or {}).get(name) or {}
                pool = _pool_of(authorizer) or (pools[0] if pools else None)
            method = str(props.get("Method", "ANY")).upper()
            routes.append(
                Route(
                    function=function.logical_id,
                    path=str(props["Path"]),
                    method="ANY" if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" else method,
                    stage=_api_stage(template, api_id, resolver),
                    authorizer_pool=pool,
                )
            )
    routes.sort(key=lambda route: route.specificity)
    return routes


def find_route(routes: list[Route], path: str, method: str) -> tuple[Route, dict[str, str]]:
    """The route serving (path, method), or NoRoute / WrongMethod.

    Like API Gateway, the most specific matching resource path wins, and only its methods count
    (there is no fall back to a less specific resource for another method).
    """
    matching = [(route, params) for route in routes if (params := route.match(path)) is not None]
    if not matching:
        raise NoRoute(path)
    best_path = min(matching, key=lambda item: (item[0].specificity, item[0].path))[0].path
    candidates = [(route, params) for route, params in matching if route.path == best_path]
    for route, params in candidates:
        if route.method == method:
            return route, params
    for route, params in candidates:
        if route.method == "ANY":
            return route, params
    raise WrongMethod(sorted({route.method for route, _ in candidates}))
