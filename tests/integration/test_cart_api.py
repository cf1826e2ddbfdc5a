"""Cart routes through the cart function's handler, against moto: API.md's cart contract.

Guests send X-Cart-Token; signed-in callers arrive with claims (as the gateway's verified token
would give them). Anyone else gets 404; staff may read but not change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from http_problems import assert_problem
from orders_world import Context

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

SKU = "TEA-CART-1"
ADDRESS = {
    "name": "Li Wei",
    "line1": "88 Nanjing East Road",
    "city": "Shanghai",
    "postal_code": "200001",
    "country": "cn",
    "phone": "138 1234 5678",
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


_SAMPLES = {
    ("POST", "create"): "cart_create.json",
    ("GET", "cart"): "cart_get.json",
    ("PUT", "item"): "cart_set_item.json",
    ("DELETE", "item"): "cart_remove_item.json",
    ("DELETE", "items"): "cart_clear.json",
    ("PUT", "address"): "cart_set_shipping_address.json",
    ("POST", "claim"): "cart_claim.json",
}


class Carts:
    """Calls the cart handler as the gateway would, as a guest (token), a role, or nobody."""

    def __init__(self, module: ModuleType, make_event: Callable[..., dict[str, Any]]) -> None:
        self.module = module
        self.make_event = make_event

    def call(
        self,
        method: str,
        route: str,
        *,
        cart_id: str | None = None,
        sku: str | None = None,
        body: Any = "keep",
        token: str | None = None,
        role: str | None = None,
        raw_body: str | None = None,
    ) -> Reply:
        params: dict[str, str] = {}
        if cart_id is not None:
            params["cart_id"] = cart_id
        if sku is not None:
            params["sku"] = sku
        event = self.make_event(
            _SAMPLES[(method, route)],
            role=role,
            body=body,
            raw_body=raw_body,
            path_params=params or None,
        )
        event["headers"].pop("X-Cart-Token", None)
        event["multiValueHeaders"].pop("X-Cart-Token", None)
        if token is not None:
            event["headers"]["X-Cart-Token"] = token
            event["multiValueHeaders"]["X-Cart-Token"] = [token]
        result = self.module.lambda_handler(event, Context())
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.setdefault(name, values[-1])
        raw = result.get("body")
        return Reply(result["statusCode"], headers, json.loads(raw) if raw else None)

    def create(self, role: str | None = None) -> Reply:
        reply = self.call("POST", "create", role=role)
        assert reply.status == 201, reply.body
        return reply

    def set(self, cart_id: str, sku: str, quantity: Any, **who: Any) -> Reply:
        return self.call(
            "PUT", "item", cart_id=cart_id, sku=sku, body={"quantity": quantity}, **who
        )

    def get(self, cart_id: str, **who: Any) -> Reply:
        return self.call("GET", "cart", cart_id=cart_id, **who)


@pytest.fixture
def carts(dynamodb: Any, cart_module: ModuleType, make_event: Callable[..., Any]) -> Carts:
    return Carts(cart_module, make_event)


@pytest.fixture
def stock(dynamodb: Any, create_product: Callable[..., Any]) -> Callable[[str], dict[str, int]]:
    """Creates SKU (10 units at 10.00) and returns a reader of its stock row."""
    create_product((SKU, 10), price=1000)

    def read(sku: str = SKU) -> dict[str, int]:
        item = dynamodb.get_item(
            TableName=_table(dynamodb, "nventory"),
            Key={"pk": {"S": f"STOCK#{sku}#00"}, "sk": {"S": "STOCK"}},
            ConsistentRead=True,
        )["Item"]
        return {k: int(item[k]["N"]) for k in ("on_hand", "reserved", "available")}

    return read


def _table(dynamodb: Any, fragment: str) -> str:
    return next(t for t in dynamodb.list_tables()["TableNames"] if fragment in t)


def _problem(reply: Reply, status: int, kind: str) -> None:
    assert_problem(reply, status, kind)


# --- creating and reading ----------------------------------------------------------------------


def test_guest_cart_gets_a_token_once(carts: Carts, dynamodb: Any) -> None:
    created = carts.create()
    body = created.body
    assert set(body) == {"cart_id", "cart_token", "lines", "coupons", "totals"}
    assert body["lines"] == []
    assert body["coupons"] == []
    assert body["totals"]["total"] == {"amount": 0, "currency": "CNY"}
    again = carts.get(body["cart_id"], token=body["cart_token"])
    assert again.status == 200
    assert "cart_token" not in again.body
    stored = json.dumps(dynamodb.scan(TableName=_table(dynamodb, "arts"))["Items"])
    assert body["cart_token"] not in stored  # only its hash is kept


def test_customer_cart_has_no_token_and_is_theirs(carts: Carts) -> None:
    created = carts.create(role="customer").body
    assert "cart_token" not in created
    assert carts.get(created["cart_id"], role="customer").status == 200
    _problem(carts.get(created["cart_id"]), 404, "not-found")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ({"token": "right"}, 200),
        ({"token": "w" * 43}, 404),
        ({}, 404),
        ({"role": "customer"}, 404),
        ({"role": "support"}, 200),
        ({"role": "ops"}, 200),
        ({"role": "admin"}, 200),
    ],
)
def test_who_may_read_a_guest_cart(carts: Carts, who: dict[str, str], status: int) -> None:
    created = carts.create().body
    if who.get("token") == "right":
        who = {"token": created["cart_token"]}
    reply = carts.get(created["cart_id"], **who)
    assert reply.status == status, reply.body


@pytest.mark.parametrize(
    ("who", "status", "kind"),
    [
        ({"token": "right"}, 200, None),
        ({"token": "x" * 43}, 404, "not-found"),
        ({}, 404, "not-found"),
        ({"role": "customer"}, 404, "not-found"),
        ({"role": "support"}, 403, "forbidden"),
        ({"role": "admin"}, 403, "forbidden"),
    ],
)
def test_who_may_change_a_guest_cart(
    carts: Carts, stock: Callable[..., dict[str, int]], who: dict[str, str], status: int, kind: str
) -> None:
    created = carts.create().body
    if who.get("token") == "right":
        who = {"token": created["cart_token"]}
    reply = carts.set(created["cart_id"], SKU, 1, **who)
    assert reply.status == status, reply.body
    if kind:
        assert reply.body["type"] == kind
        assert stock()["reserved"] == 0


def test_unknown_and_malformed_cart_ids_are_404(carts: Carts) -> None:
    _problem(carts.get("0" * 32, token="t" * 43), 404, "not-found")
    _problem(carts.get("not-a-cart-id"), 404, "not-found")


# --- lines and holds ---------------------------------------------------------------------------


def test_a_line_holds_exactly_its_quantity(
    carts: Carts, stock: Callable[..., dict[str, int]]
) -> None:
    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    reply = carts.set(cart_id, SKU, 3, token=token)
    assert reply.status == 200, reply.body
    (line,) = reply.body["lines"]
    assert line["sku"] == SKU
    assert line["quantity"] == 3
    assert line["unit_price"] == {"amount": 1000, "currency": "CNY"}
    assert line["reserved_until"] is not None
    assert line["reserved_until"].endswith("Z")
    assert reply.body["totals"] == {
        "subtotal": {"amount": 3000, "currency": "CNY"},
        "discount": {"amount": 0, "currency": "CNY"},
        "shipping": {"amount": 1000, "currency": "CNY"},
        "points_redeemed": {"amount": 0, "currency": "CNY"},
        "total": {"amount": 4000, "currency": "CNY"},
    }
    assert stock() == {"on_hand": 10, "reserved": 3, "available": 7}
    assert carts.set(cart_id, SKU, 1, token=token).status == 200
    assert stock() == {"on_hand": 10, "reserved": 1, "available": 9}
    removed = carts.call("DELETE", "item", cart_id=cart_id, sku=SKU, token=token)
    assert removed.status == 200
    assert removed.body["lines"] == []
    assert stock() == {"on_hand": 10, "reserved": 0, "available": 10}


def test_quantity_zero_removes_and_releases(
    carts: Carts, stock: Callable[..., dict[str, int]]
) -> None:
    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    carts.set(cart_id, SKU, 4, token=token)
    reply = carts.set(cart_id, SKU, 0, token=token)
    assert reply.status == 200
    assert reply.body["lines"] == []
    assert stock()["reserved"] == 0
    assert carts.set(cart_id, SKU, 0, token=token).status == 200  # nothing to remove: fine


def test_out_of_stock_changes_nothing(
    carts: Carts, stock: Callable[..., dict[str, int]], scan_all: Callable[[], Any]
) -> None:
    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    carts.set(cart_id, SKU, 4, token=token)
    other = carts.create().body
    carts.set(other["cart_id"], SKU, 5, token=other["cart_token"])
    before = scan_all()
    reply = carts.set(cart_id, SKU, 6, token=token)
    _problem(reply, 409, "out-of-stock")
    assert reply.body["available"] == 1
    assert scan_all() == before
    assert carts.get(cart_id, token=token).body["lines"][0]["quantity"] == 4


def test_unknown_sku_is_404(carts: Carts, stock: Callable[..., dict[str, int]]) -> None:
    created = carts.create().body
    _problem(
        carts.set(created["cart_id"], "NO-SUCH-SKU", 1, token=created["cart_token"]),
        404,
        "not-found",
    )
    _problem(
        carts.set(created["cart_id"], "bad sku!", 1, token=created["cart_token"]), 404, "not-found"
    )


@pytest.mark.parametrize("quantity", [-1, 100, 1.5, "2", True, None])
def test_bad_quantities_are_400(
    carts: Carts, stock: Callable[..., dict[str, int]], quantity: Any
) -> None:
    created = carts.create().body
    reply = carts.set(created["cart_id"], SKU, quantity, token=created["cart_token"])
    _problem(reply, 400, "validation-error")
    assert reply.body["errors"][0]["field"] == "quantity"
    assert stock()["reserved"] == 0


def test_malformed_body_is_400(carts: Carts, stock: Callable[..., dict[str, int]]) -> None:
    created = carts.create().body
    reply = carts.call(
        "PUT",
        "item",
        cart_id=created["cart_id"],
        sku=SKU,
        raw_body="{",
        token=created["cart_token"],
    )
    _problem(reply, 400, "validation-error")


def test_clear_releases_every_hold(
    carts: Carts, stock: Callable[..., dict[str, int]], create_product: Callable[..., Any]
) -> None:
    create_product(("TEA-CART-2", 3), name="Second")
    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    carts.set(cart_id, SKU, 2, token=token)
    carts.set(cart_id, "TEA-CART-2", 3, token=token)
    assert stock("TEA-CART-2")["available"] == 0
    reply = carts.call("DELETE", "items", cart_id=cart_id, token=token)
    assert reply.status == 200
    assert reply.body["lines"] == []
    assert stock()["reserved"] == 0
    assert stock("TEA-CART-2")["reserved"] == 0


def test_too_many_lines_is_409(
    carts: Carts, create_product: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from commerce.domain import cart as cart_rules

    monkeypatch.setattr(cart_rules, "MAX_LINES", 2)
    create_product(("L-1", 5), ("L-2", 5), ("L-3", 5))
    created = carts.create().body
    for sku in ("L-1", "L-2"):
        assert carts.set(created["cart_id"], sku, 1, token=created["cart_token"]).status == 200
    _problem(carts.set(created["cart_id"], "L-3", 1, token=created["cart_token"]), 409, "conflict")


def test_free_shipping_from_the_threshold(
    carts: Carts, stock: Callable[..., dict[str, int]]
) -> None:
    created = carts.create().body
    reply = carts.set(created["cart_id"], SKU, 10, token=created["cart_token"])
    assert reply.body["totals"]["shipping"]["amount"] == 0
    assert reply.body["totals"]["total"]["amount"] == 10_000


# --- shipping address ----------------------------------------------------------------------------


def test_shipping_address_is_normalised(carts: Carts) -> None:
    created = carts.create().body
    reply = carts.call(
        "PUT", "address", cart_id=created["cart_id"], body=ADDRESS, token=created["cart_token"]
    )
    assert reply.status == 200, reply.body
    address = reply.body["shipping_address"]
    assert address["country"] == "CN"
    assert address["phone"] == "+8613812345678"
    assert "line2" not in address
    got = carts.get(created["cart_id"], token=created["cart_token"]).body
    assert got["shipping_address"] == address


def test_bad_address_lists_every_field(carts: Carts, scan_all: Callable[[], Any]) -> None:
    created = carts.create().body
    before = scan_all()
    bad = {**ADDRESS, "country": "XX", "postal_code": "12", "phone": "call me"}
    reply = carts.call(
        "PUT", "address", cart_id=created["cart_id"], body=bad, token=created["cart_token"]
    )
    _problem(reply, 400, "validation-error")
    assert {e["field"] for e in reply.body["errors"]} >= {"country", "phone"}
    missing = carts.call(
        "PUT",
        "address",
        cart_id=created["cart_id"],
        body={"name": "x"},
        token=created["cart_token"],
    )
    _problem(missing, 400, "validation-error")
    assert scan_all() == before


def test_a_stranger_cannot_set_an_address(carts: Carts) -> None:
    created = carts.create().body
    reply = carts.call("PUT", "address", cart_id=created["cart_id"], body=ADDRESS, role="customer")
    _problem(reply, 404, "not-found")


# --- claiming ------------------------------------------------------------------------------------


def test_claim_moves_a_guest_cart_to_the_customer(
    carts: Carts, stock: Callable[..., dict[str, int]]
) -> None:
    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    carts.set(cart_id, SKU, 2, token=token)
    claimed = carts.call("POST", "claim", cart_id=cart_id, token=token, role="customer")
    assert claimed.status == 200, claimed.body
    assert claimed.body["lines"][0]["quantity"] == 2
    assert carts.get(cart_id, role="customer").status == 200
    # The guest token no longer opens the cart; a retried claim still succeeds.
    _problem(carts.get(cart_id, token=token), 404, "not-found")
    assert carts.call("POST", "claim", cart_id=cart_id, token=token, role="customer").status == 200
    # The customer keeps changing it; the hold stays exact.
    assert carts.set(cart_id, SKU, 5, role="customer").status == 200
    assert stock()["reserved"] == 5


def test_claim_refusals(carts: Carts) -> None:
    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    _problem(carts.call("POST", "claim", cart_id=cart_id, token=token), 401, "unauthorized")
    _problem(carts.call("POST", "claim", cart_id=cart_id, role="customer"), 404, "not-found")
    _problem(
        carts.call("POST", "claim", cart_id=cart_id, token="z" * 43, role="customer"),
        404,
        "not-found",
    )
    assert carts.call("POST", "claim", cart_id=cart_id, token=token, role="customer").status == 200
    # Someone else's cart now: 404 even with the old token.
    _problem(
        carts.call("POST", "claim", cart_id=cart_id, token=token, role="support"), 404, "not-found"
    )


def test_a_guest_token_stops_working_mid_change_once_claimed(
    carts: Carts, stock: Callable[..., dict[str, int]]
) -> None:
    """A line change conditioned on the guest token fails once the cart changed hands."""
    from commerce.carts import holding
    from commerce.store import carts as cart_store

    created = carts.create().body
    cart_id, token = created["cart_id"], created["cart_token"]
    read_as_guest = cart_store.load(cart_id)
    assert read_as_guest is not None
    assert carts.call("POST", "claim", cart_id=cart_id, token=token, role="customer").status == 200
    from commerce.domain.money import Money
    from commerce.errors import NotFound

    with pytest.raises(NotFound):
        holding.set_line(read_as_guest, SKU, 1, Money(1000))
    assert stock()["reserved"] == 0


CUSTOMER_SUB = "c0000000-0000-4000-8000-000000000001"  # the "customer" role's token subject


def test_an_erased_customer_is_401_at_the_hold_and_nothing_is_held(
    carts: Carts, stock: Callable[..., dict[str, int]]
) -> None:
    """The line route reads the erasure tombstone in its one batch read, not at the entrypoint
    (``Access.reads_tombstone``): an erased subject is refused all the same, before any write."""
    from commerce import clock
    from commerce.store import erasures

    cart_id = carts.create(role="customer").body["cart_id"]
    assert carts.set(cart_id, SKU, 1, role="customer").status == 200
    erasures.begin(CUSTOMER_SUB, "customer", at=clock.now_iso())
    _problem(carts.set(cart_id, SKU, 2, role="customer"), 401, "unauthorized")
    assert stock()["reserved"] == 1
    assert carts.set(cart_id, SKU, 0, role="customer").status == 401
    assert stock()["reserved"] == 1
