"""The access table and the gate that applies it, without a stack: what each kind of declaration
means for each principal, and what the edge answers before a request is parsed. The matrix over
the running stack (tests/e2e/test_access_matrix.py) holds every route to the same table."""

from __future__ import annotations

from typing import Any

import pytest
from commerce.domain.access import Reach
from commerce.errors import Forbidden, NotFound, Unauthorized
from commerce.http.access import (
    EARNED,
    GUESTS_TOO,
    PUBLIC,
    ROUTES,
    SIGNED_BY_SENDER,
    SIGNED_IN,
    Access,
    Outcome,
    Principal,
    owned,
    staff,
)
from commerce.http.auth import Caller
from commerce.http.gate import admit, edge_refusal

pytestmark = pytest.mark.unit

OK, E401, E403, E404 = Outcome.ALLOWED, Outcome.UNAUTHORIZED, Outcome.FORBIDDEN, Outcome.NOT_FOUND


def row(access: Access) -> list[Outcome]:
    """What each principal gets, in the order the enum declares them (as in the rows below:
    anonymous, guest, owner, another customer, support, ops, admin)."""
    return [access.expected(principal) for principal in Principal]


@pytest.mark.parametrize(
    ("access", "expected"),
    [
        (PUBLIC, [OK, OK, OK, OK, OK, OK, OK]),
        (GUESTS_TOO, [OK, OK, OK, OK, OK, OK, OK]),
        (SIGNED_IN, [E401, E401, OK, OK, OK, OK, OK]),
        (SIGNED_BY_SENDER, [E401] * 7),
        (staff("ops"), [E401, E401, E403, E403, E403, OK, OK]),
        (staff("support", "ops"), [E401, E401, E403, E403, OK, OK, OK]),
        # an order: staff read any; cancelling is for ops and admin, support is told 403
        (owned(guests=True, act={"support", "ops", "admin"}), [E404, OK, OK, E404, OK, OK, OK]),
        (
            owned(guests=True, act={"ops", "admin"}, see={"support"}),
            [E404, OK, OK, E404, E403, OK, OK],
        ),
        # a return is the customer's alone: staff see the order but may not ask for it
        (
            owned(guests=True, see={"support", "ops", "admin"}),
            [E404, OK, OK, E404, E403, E403, E403],
        ),
        # an address in the caller's own book: anyone else's id is simply not in theirs
        (owned(guests=False, sign_in=True), [E401, E401, OK, E404, E404, E404, E404]),
        # a review: only the customer who received the product, anyone else 403
        (EARNED, [E401, E401, OK, E403, E403, E403, E403]),
    ],
)
def test_what_each_kind_of_declaration_means(access: Access, expected: list[Outcome]) -> None:
    assert row(access) == expected


def test_staff_routes_hold_admin_and_refuse_unknown_roles() -> None:
    assert staff("ops").roles == {"ops", "admin"}
    with pytest.raises(ValueError, match="not staff roles"):
        staff("customer")
    with pytest.raises(ValueError, match="not staff roles"):
        owned(guests=True, act={"opps"})


def test_every_route_is_declared_as_method_and_path_template() -> None:
    for route in ROUTES:
        method, path = route.split(" ")
        assert method in {"GET", "POST", "PUT", "PATCH", "DELETE"}, route
        assert path.startswith("/"), route
        assert "<" not in path, route


# --- the gate ------------------------------------------------------------------------------------


def event(
    method: str, path: str, claims: dict[str, str] | None = None, **headers: str
) -> dict[str, Any]:
    context: dict[str, Any] = {"authorizer": {"claims": claims}} if claims else {}
    return {"httpMethod": method, "resource": path, "headers": headers, "requestContext": context}


def test_the_edge_refuses_by_the_declaration_before_anything_is_parsed() -> None:
    customer = {"sub": "c-1", "cognito:groups": "customer"}
    ops = {"sub": "o-1", "cognito:groups": "ops"}
    assert isinstance(edge_refusal(event("POST", "/admin/products")), Unauthorized)
    assert isinstance(edge_refusal(event("POST", "/admin/products", customer)), Forbidden)
    assert edge_refusal(event("POST", "/admin/products", ops)) is None
    assert isinstance(edge_refusal(event("GET", "/me")), Unauthorized)
    assert edge_refusal(event("GET", "/me", customer)) is None
    assert edge_refusal(event("POST", "/carts")) is None  # guests too
    assert isinstance(edge_refusal(event("POST", "/carts/{cart_id}/claim")), Unauthorized)


def test_an_undeclared_route_is_no_route_and_a_non_api_event_is_not_the_gates() -> None:
    assert isinstance(edge_refusal(event("GET", "/nope")), NotFound)
    assert isinstance(edge_refusal(event("POST", "/products")), NotFound)
    assert edge_refusal({"not": "an API Gateway event"}) is None


def test_a_bad_token_on_a_route_open_to_guests_is_refused_at_the_edge() -> None:
    refused = edge_refusal(event("POST", "/carts", Authorization="Basic abc def"))
    assert isinstance(refused, Unauthorized)


def test_public_and_signed_routes_read_no_token_at_all() -> None:
    garbage = {"Authorization": "Bearer not.a.token"}
    assert edge_refusal(event("GET", "/products", **garbage)) is None
    assert edge_refusal(event("POST", "/webhooks/carriers/{carrier}", **garbage)) is None


@pytest.mark.parametrize(
    ("route", "groups", "reach"),
    [
        ("GET /orders/{order_id}", {"support"}, Reach.ACT),
        ("POST /orders/{order_id}/cancel", {"support"}, Reach.SEE),
        ("POST /orders/{order_id}/cancel", {"ops"}, Reach.ACT),
        ("POST /orders/{order_id}/returns", {"admin"}, Reach.SEE),
        ("POST /orders/{order_id}/returns", {"customer"}, Reach.NONE),
        ("PUT /carts/{cart_id}/items/{sku}", {"ops"}, Reach.SEE),
        ("POST /tickets/{ticket_id}/messages", {"ops"}, Reach.SEE),
        ("POST /tickets/{ticket_id}/messages", {"admin"}, Reach.ACT),
        ("POST /admin/orders/{order_id}/shipments", {"ops"}, Reach.ACT),
    ],
)
def test_admit_gives_the_staff_role_its_reach_on_the_route(
    route: str, groups: set[str], reach: Reach
) -> None:
    method, path = route.split(" ")
    caller = admit(method, path, Caller(sub="u-1", groups=frozenset(groups)))
    assert caller.reach is reach


def test_admit_refuses_as_the_edge_does() -> None:
    with pytest.raises(Forbidden):
        admit("PATCH", "/admin/tickets/{ticket_id}", Caller(sub="o", groups=frozenset({"ops"})))
    with pytest.raises(Unauthorized):
        admit("GET", "/orders", Caller())
    with pytest.raises(NotFound):
        admit("GET", "/nowhere", Caller(sub="a", groups=frozenset({"admin"})))
