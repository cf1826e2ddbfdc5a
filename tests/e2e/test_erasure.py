"""Erasure without dead ends over HTTP through the local stack: a customer with a paid order not
yet delivered erases their account (202 scheduled), every token of theirs is refused at once,
and the sandbox carrier's delivery anonymises the order, after which support's search by the
email finds nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from stack_helpers import (
    create_product,
    new_cart,
    order_item,
    place_order,
    put_item,
    staff,
    wait_for_order,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e


def _call(stack: StackProcess, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    return requests.request(method, f"{stack.base_url}{path}", headers=headers, timeout=60, **kw)


def _unauthorized(reply: requests.Response) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["type"] == "unauthorized"


def _found_by_email(stack: StackProcess, email: str) -> list[str]:
    reply = _call(stack, "GET", "/admin/orders", staff(stack, "support"), params={"email": email})
    assert reply.status_code == 200, reply.text
    return [item["order_id"] for item in reply.json()["items"]]


def test_erasure_with_a_paid_undelivered_order_is_completed_by_its_delivery(
    stack: StackProcess,
) -> None:
    sub = str(uuid.uuid4())
    email = f"erase-{sub[:8]}@example.com"
    me = stack.auth(sub, ["customer"], email)
    name = f"Erase Me {sub[:6]}"
    address = {
        "name": name,
        "line1": "9 Wukang Road",
        "city": "Shanghai",
        "postal_code": "200031",
        "country": "CN",
        "phone": "+8613700009999",
    }
    sku = create_product(stack, "E2E-ERASE", stock=5, price=2500, name="E2E erasure item")
    cart_id, reach = new_cart(stack, me)
    put_item(stack, cart_id, sku, 1, reach)
    shipped_to = _call(stack, "PUT", f"/carts/{cart_id}/shipping-address", reach, json=address)
    assert shipped_to.status_code == 200, shipped_to.text
    order_id = str(place_order(stack, cart_id, reach)["order_id"])
    assert wait_for_order(stack, order_id, me)["status"] == "PAID"
    ops = staff(stack, "ops")
    shipped = _call(
        stack,
        "POST",
        f"/admin/orders/{order_id}/shipments",
        ops,
        json={"carrier": "sf", "tracking_number": f"SF{uuid.uuid4().hex[:10].upper()}"},
    )
    assert shipped.status_code == 200, shipped.text

    erased = _call(stack, "DELETE", "/me", me)
    assert erased.status_code == 202, erased.text
    assert erased.json() == {"status": "scheduled", "order_ids": [order_id]}

    # The token the customer still holds is refused everywhere, and creates nothing again.
    for method, path, body in (
        ("GET", "/me", None),
        ("GET", "/me/export", None),
        ("DELETE", "/me", None),
        ("GET", f"/orders/{order_id}", None),
        ("POST", "/tickets", {"subject": "Still there?", "message": "Hello"}),
        ("POST", "/me/addresses", address),
    ):
        _unauthorized(_call(stack, method, path, me, json=body))
    _unauthorized(_call(stack, "POST", "/carts", me))  # a route open to guests verifies it too
    # The user pool no longer signs them in: no fresh token either.
    refused = requests.post(
        f"{stack.base_url}/_local/token", json={"sub": sub, "email": email}, timeout=30
    )
    assert refused.status_code == 403, refused.text
    # Until it is delivered the order keeps what its delivery needs; support still finds it.
    assert _found_by_email(stack, email) == [order_id]

    delivered = requests.post(
        f"{stack.base_url}/_local/carrier-events",
        json={"order_id": order_id, "status": "delivered", "location": "Front desk"},
        timeout=60,
    )
    assert delivered.status_code == 202, delivered.text
    support = staff(stack, "support")
    order = wait_for_order(stack, order_id, support, "DELIVERED")
    assert order["shipping_address"]["name"] == "ERASED"
    assert order["shipping_address"]["city"] == "Shanghai"
    item = order_item(stack, order_id)
    assert item["owner_sub"]["S"] == "erased-customer"
    assert item["email"]["S"] == "erased@erased.invalid"
    assert "erase_on_close" not in item
    assert _found_by_email(stack, email) == []
    # Nothing of the customer is left to support, and the account stays erased.
    gone = _call(stack, "GET", f"/admin/customers/{sub}", support)
    assert gone.status_code == 404, gone.text
    _unauthorized(_call(stack, "GET", "/me", me))
