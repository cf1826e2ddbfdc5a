"""The authorization matrix and token tampering, generated from the OpenAPI document the stack
serves (QUALITY.md, end to end: "authorization matrix").

Every operation of the document is called once by each principal of
``commerce.http.access.Principal`` (anonymous, the guest holding the resource's token, its
signed-in owner, another customer, support, ops, admin) on resources of a small shop built for
the run (``access_world``), and each answer's class is held to the operation's declared access
(``commerce.http.access.ROUTES``): 401, 403, 404, or allowed (any answer but those refusals and
a 5xx; where the route acts on someone's resource, not a 400 either, so the owner check was
reached). An operation the table does not declare fails the matrix.

Then every operation is called with tokens forged from the owner's: unsigned (``alg: none``),
signed HS256 with the pool's public key, its signature stripped, signed by a key of ours, its
claims edited, and, signed with the pool's own key (moto's), expired, for another audience, from
another issuer or of another token use. Where the document says an operation reads a token
(behind the gateway's Cognito authorizer, or verified by the function itself) each is a 401
problem; where it reads none, the forgery changes nothing from an anonymous call. Never a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from access_world import Shop, build, samples
from commerce.http.access import ROUTES, Outcome, Principal, declared
from http_problems import PROBLEM, content_type
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from moto.utilities.utils import load_resource

from infra.local.harness import StackProcess
from infra.local.openapi import HTTP_METHODS

pytestmark = pytest.mark.e2e

#: The order principals call in: the refused first, so the allowed cannot change what they see.
PRINCIPALS = (
    Principal.ANONYMOUS,
    Principal.OTHER_CUSTOMER,
    Principal.SUPPORT,
    Principal.OPS,
    Principal.ADMIN,
    Principal.GUEST,
    Principal.OWNER,
)
SLUGS = {401: "unauthorized", 403: "forbidden", 404: "not-found"}


@pytest.fixture(scope="module")
def served(stack: StackProcess) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(f"{stack.base_url}/openapi.json", timeout=120).json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("METHOD /path", operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


@pytest.fixture(scope="module")
def shop(stack: StackProcess) -> Shop:
    return build(stack)


def test_every_served_operation_declares_who_may_call_it(served: dict[str, Any]) -> None:
    labels = {label for label, _ in operations(served)}
    undeclared = sorted(label for label in labels if declared(*label.split(" ", 1)) is None)
    assert not undeclared, f"no access declared in commerce.http.access for {undeclared}"
    assert set(ROUTES) == labels, f"declared but not served: {sorted(set(ROUTES) - labels)}"
    missing = sorted(labels - set(samples()))
    assert not missing, f"no sample in events/ to build a request from: {missing}"


def _mismatch(label: str, principal: Principal, response: requests.Response) -> str | None:
    """Why the answer does not fit the declaration, or None."""
    access = declared(*label.split(" ", 1))
    assert access is not None
    expected = access.expected(principal)
    status = response.status_code
    said = f"{label} as {principal.value}: expected {expected.name}, got {status} {response.text}"
    if status >= 500:
        return said
    if expected is Outcome.ALLOWED:
        refusals = {401, 403, 400, 404} if access.owned else {401, 403}
        return said if status in refusals else None
    if status != expected.value:
        return said
    problem = response.json() if content_type(dict(response.headers)) == PROBLEM else {}
    return None if problem.get("type") == SLUGS[status] else said


def test_every_operation_answers_each_principal_as_declared(
    stack: StackProcess, served: dict[str, Any], shop: Shop
) -> None:
    by_route = samples()
    failures: list[str] = []
    calls = 0
    for label, _ in operations(served):
        for principal in PRINCIPALS:
            response = shop.call(label, principal, by_route[label]).send(stack.base_url)
            calls += 1
            failure = _mismatch(label, principal, response)
            if failure is not None:
                failures.append(failure)
    print(f"\n{calls} calls, {len(failures)} not as declared")
    assert not failures, "\n".join(failures)


# --- forged tokens -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload)), signature


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _hs256(claims: dict[str, Any], kid: str, secret: bytes) -> str:
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


Forgery = Callable[[str], str]


def pool_key() -> RSAKey:
    """The private key moto's user pools sign with (moto ships it): tokens it signs carry a
    valid signature, so each claim check is tested on its own."""
    return RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def forgeries(stack: StackProcess, genuine: str) -> dict[str, Forgery]:
    """Ways to make a token out of a genuine one (the owner's) that the API must refuse."""
    pool_id = str(_parts(genuine)[1]["iss"]).rsplit("/", 1)[1]
    jwks_url = f"{stack.moto_endpoint}/{pool_id}/.well-known/jwks.json"
    public = KeySet.import_key_set(requests.get(jwks_url, timeout=30).json()).keys[0]
    assert isinstance(public, RSAKey), public
    ours = RSAKey.generate_key(2048, parameters={"kid": public.kid or "dummy"})

    def resigned(edit: dict[str, Any], key: RSAKey | None = None) -> Forgery:
        def forge(token: str) -> str:
            header, claims, _ = _parts(token)
            header = {"alg": "RS256", "kid": header["kid"]}
            return str(jwt.encode(header, {**claims, **edit}, key or pool_key()))

        return forge

    def edited(token: str) -> str:
        header, claims, signature = _parts(token)
        claims["cognito:groups"] = ["admin"]
        return f"{_unsigned(header, claims)}.{signature}"

    return {
        "alg none": lambda t: _unsigned({"alg": "none", "typ": "JWT"}, _parts(t)[1]) + ".",
        "HS256 keyed with the public key": lambda t: _hs256(
            _parts(t)[1], _parts(t)[0]["kid"], public.as_pem(private=False)
        ),
        "stripped signature": lambda t: t.rsplit(".", 1)[0] + ".",
        "foreign signature": resigned({}, ours),
        "edited claims": edited,
        "expired": resigned({"exp": int(time.time()) - 60, "iat": int(time.time()) - 3660}),
        "wrong audience": resigned({"aud": "another-app-client"}),
        "wrong issuer": resigned(
            {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Someone"}
        ),
        "wrong token use": resigned({"token_use": "refresh"}),
    }


def test_the_genuine_token_is_what_the_forgeries_start_from(shop: Shop) -> None:
    """The pool's own key really signs what the stack issues: a re-signed token with nothing
    changed passes, so the resigned forgeries below fail for their edits alone."""
    token = shop.auth[Principal.OWNER]["Authorization"].split(" ", 1)[1]
    header, claims, _ = _parts(token)
    same = jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, pool_key())
    me = requests.get(
        f"{shop.stack.base_url}/me", headers={"Authorization": f"Bearer {same}"}, timeout=30
    )
    assert me.status_code == 200, me.text


def _refused_as_forged(answer: requests.Response, reads_token: bool, baseline: int | None) -> bool:
    """A 401 problem where the operation reads a token; elsewhere what an anonymous call gets."""
    if answer.status_code >= 500:
        return False
    if not reads_token:
        return answer.status_code == baseline
    problem = content_type(dict(answer.headers)) == PROBLEM
    return answer.status_code == 401 and problem and answer.json()["type"] == "unauthorized"


def test_forged_tokens_are_refused_wherever_a_token_is_read(
    stack: StackProcess, served: dict[str, Any], shop: Shop
) -> None:
    by_route = samples()
    genuine = shop.auth[Principal.OWNER]["Authorization"].split(" ", 1)[1]
    forged = {name: forge(genuine) for name, forge in forgeries(stack, genuine).items()}
    failures: list[str] = []
    calls = 0
    for label, operation in operations(served):
        reads_token = bool(operation.get("security"))
        call = shop.call(label, Principal.OWNER, by_route[label])
        anonymous = shop.call(label, Principal.ANONYMOUS, by_route[label])
        baseline = None if reads_token else anonymous.send(stack.base_url).status_code
        for name, token in forged.items():
            response = call.send(stack.base_url, Authorization=f"Bearer {token}")
            calls += 1
            if not _refused_as_forged(response, reads_token, baseline):
                failures.append(f"{label} with {name}: {response.status_code} {response.text}")
    print(f"\n{calls} forged calls over {len(forged)} forgeries, {len(failures)} not refused")
    assert not failures, "\n".join(failures)
