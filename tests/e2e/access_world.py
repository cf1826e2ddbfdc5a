"""A small shop for the authorization matrix: one of every resource a route can name, owned by
one signed-in customer and, where guests may own it, by one guest; every principal of
``commerce.http.access.Principal`` with a token of their own; and the request each principal
sends to each operation.

Requests are built from the operation's sample in ``events/`` (its body, query and
Idempotency-Key), with the sample's ids replaced by this shop's, so a request is valid enough
for the function to get as far as deciding who may call it. Operations that use up what they
act on (deleting an address, claiming a cart, erasing an account) get resources, or callers, of
their own.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from commerce.clock import iso
from commerce.http.access import Principal
from stack_helpers import ADDRESS, checkout, create_skus, deliver, new_cart, ops, put_item

from infra.local.harness import StackProcess

EVENTS = Path(__file__).resolve().parents[2] / "events"
#: Headers of a sample worth replaying; the rest (CloudFront's, tokens of the sample's own
#: principals, the webhook's signature) belong to the sample.
_REPLAYED_HEADERS = ("Idempotency-Key",)


def samples() -> dict[str, dict[str, Any]]:
    """The first API Gateway sample of each route in events/, by "METHOD /path"."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(event, dict) and "httpMethod" in event and "resource" in event:
            found.setdefault(f"{event['httpMethod']} {event['resource']}", event)
    return found


@dataclass(frozen=True)
class Call:
    """One request of the matrix."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str] | None
    body: Any

    def send(self, base_url: str, **headers: str) -> requests.Response:
        """The request, with ``headers`` in place of its own of the same names."""
        return requests.request(
            self.method,
            base_url + self.path,
            headers={**self.headers, **headers},
            params=self.params,
            json=self.body,
            timeout=60,
        )


@dataclass
class Shop:
    """What the matrix acts on; ``ids`` fills path templates for the customer's resources,
    ``guest_ids`` for the guest's."""

    stack: StackProcess
    auth: dict[Principal, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    guest_ids: dict[str, str] = field(default_factory=dict)
    guest_tokens: dict[str, str] = field(default_factory=dict)  # cart_id -> its X-Cart-Token
    guest_order_token: str = ""
    spare: dict[str, str] = field(default_factory=dict)

    # --- requests --------------------------------------------------------------------------

    def call(self, operation: str, principal: Principal, sample: dict[str, Any]) -> Call:
        """The request ``principal`` sends to ``operation`` ("METHOD /path/{template}")."""
        method, template = operation.split(" ", 1)
        guest = principal is Principal.GUEST
        ids = {**(self.guest_ids if guest else self.ids), **self._ids_for(operation, guest)}
        headers = {
            name: f"{value}-{uuid.uuid4().hex[:8]}"
            for name, value in (sample.get("headers") or {}).items()
            if name in _REPLAYED_HEADERS
        }
        headers.update(self._credentials(operation, principal, ids))
        body = json.loads(sample["body"]) if sample.get("body") else None
        body = BODIES.get(operation, _same)(self, ids, principal, body)
        path = template
        for name in _parameters(template):
            assert name in ids, f"{operation}: the matrix has no {name} (add one to access_world)"
            path = path.replace("{" + name + "}", ids[name])
        return Call(method, path, headers, sample.get("queryStringParameters"), body)

    def _ids_for(self, operation: str, guest: bool) -> dict[str, str]:
        """Resources of one operation's own, where acting on the shared ones would use them up."""
        if operation == "DELETE /carts/{cart_id}/coupons/{code}":
            return {"cart_id": self.spare["guest_coupon_cart" if guest else "coupon_cart"]}
        if operation == "POST /carts/{cart_id}/claim":
            return {"cart_id": self.spare["claim_cart"]}
        if operation == "DELETE /me/addresses/{address_id}":
            return {"address_id": self.spare["address"]}
        if operation == "DELETE /me/devices/{device_id}":
            return {"device_id": self.spare["device"]}
        return {}

    def _credentials(
        self, operation: str, principal: Principal, ids: dict[str, str]
    ) -> dict[str, str]:
        if operation == "DELETE /me":  # erasure ends the account: a caller used for it alone
            return erasable(self.stack, principal)
        headers = dict(self.auth.get(principal, {}))
        cart_token = self.guest_tokens.get(ids.get("cart_id", ""))
        if principal is Principal.GUEST:
            headers["X-Order-Token"] = self.guest_order_token
            if cart_token:
                headers["X-Cart-Token"] = cart_token
        elif principal is Principal.OWNER and operation == "POST /carts/{cart_id}/claim":
            headers["X-Cart-Token"] = self.guest_tokens[ids["cart_id"]]
        return headers


def _parameters(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


def erasable(stack: StackProcess, principal: Principal) -> dict[str, str]:
    """A fresh signed-in caller for ``principal`` (none for the anonymous and the guest)."""
    if principal in (Principal.ANONYMOUS, Principal.GUEST):
        return {}
    role = principal.role or "customer"
    sub = f"matrix-erase-{principal.value}-{uuid.uuid4().hex[:8]}"
    return stack.auth(sub, [role], f"{sub}@example.com")


# --- bodies the samples cannot know ------------------------------------------------------------

Body = Callable[[Shop, dict[str, str], Principal, Any], Any]


def _same(_: Shop, __: dict[str, str], ___: Principal, body: Any) -> Any:
    return body


def _checkout(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    placed = {"cart_id": ids["cart_id"], "payment": {"method": "card", "token": "tok_ok"}}
    signed_in = caller not in (Principal.ANONYMOUS, Principal.GUEST)
    return placed if signed_in else {**placed, "email": "matrix-guest@example.com"}


def _coupon(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return {"code": ids["code"]}


def _return(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return {"lines": [{"sku": ids["sku"], "quantity": 1}], "reason": "changed my mind"}


def _ticket(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return {key: value for key, value in body.items() if key != "order_id"}


def _campaign(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return {**body, "segment_id": ids["segment_id"]}


def _stale_zones(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    # Made on a version the table never had: 409 for whoever may write it, and nothing changes
    # for the rest of the suite.
    return {**body, "version": 10**9}


def _address(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return dict(ADDRESS)


def _tags(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return {"tags": ["matrix"]}  # the sample's category is not this shop's


def _top_category(shop: Shop, ids: dict[str, str], caller: Principal, body: Any) -> Any:
    return {"name": "Matrix teaware"}


BODIES: dict[str, Body] = {
    "POST /orders": _checkout,
    "POST /carts/{cart_id}/coupons": _coupon,
    "PUT /carts/{cart_id}/shipping-address": _address,
    "POST /orders/{order_id}/returns": _return,
    "POST /tickets": _ticket,
    "POST /admin/campaigns": _campaign,
    "PUT /admin/shipping-zones": _stale_zones,
    "PATCH /admin/products/{product_id}": _tags,
    "POST /admin/categories": _top_category,
}


# --- building the shop ---------------------------------------------------------------------------


def _ok(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _post(stack: StackProcess, path: str, headers: dict[str, str], body: Any, status: int) -> Any:
    response = requests.post(f"{stack.base_url}{path}", json=body, headers=headers, timeout=60)
    return _ok(response, status)


def _delivered(stack: StackProcess, sku: str, headers: dict[str, str] | None) -> dict[str, Any]:
    """An order of one unit, paid, shipped and delivered; the 202 body of its checkout."""
    placed = checkout(stack, sku, headers=headers, email="matrix-guest@example.com")
    deliver(stack, placed["order_id"], headers or {"X-Order-Token": placed["order_token"]})
    return placed


def _guest_cart(shop: Shop, sku: str, coupon: str | None = None) -> str:
    cart_id, reach = new_cart(shop.stack)
    put_item(shop.stack, cart_id, sku, 1, reach)
    if coupon:
        _post(shop.stack, f"/carts/{cart_id}/coupons", reach, {"code": coupon}, 200)
    shop.guest_tokens[cart_id] = reach["X-Cart-Token"]
    return cart_id


def _owner_cart(shop: Shop, sku: str, coupon: str | None = None) -> str:
    cart_id, reach = new_cart(shop.stack, shop.auth[Principal.OWNER])
    put_item(shop.stack, cart_id, sku, 1, reach)
    if coupon:
        _post(shop.stack, f"/carts/{cart_id}/coupons", reach, {"code": coupon}, 200)
    return cart_id


def build(stack: StackProcess) -> Shop:
    """The shop, through the API as its staff and customers would make it."""
    run = uuid.uuid4().hex[:8]
    shop = Shop(stack)
    for principal in Principal:
        if principal in (Principal.ANONYMOUS, Principal.GUEST):
            continue
        sub = f"matrix-{principal.value}-{run}"
        shop.auth[principal] = stack.auth(sub, [principal.role or "customer"], f"{sub}@example.com")
    owner = shop.auth[Principal.OWNER]
    staff = ops(stack)

    sku = f"MTX-{run}".upper()
    teapot = create_skus(stack, [sku], stock=500, price=5000, name="Matrix teapot")
    product_id = teapot["product_id"]
    code = f"MTX-{run}".upper()
    coupon = {"code": code, "kind": "amount", "amount": {"amount": 100, "currency": "CNY"}}
    _post(stack, "/admin/coupons", staff, coupon, 201)
    segment = {"name": f"Matrix {run}", "rules": {"min_orders": 100_000}}
    segment_id = _post(stack, "/admin/segments", staff, segment, 201)["segment_id"]
    campaign = {
        "name": f"Matrix {run}",
        "segment_id": segment_id,
        "channels": ["email"],
        "subject": "Nobody",
        "body": "No member matches this segment.",
    }
    campaign_headers = {**staff, "Idempotency-Key": f"matrix-{run}"}
    campaign_id = _post(stack, "/admin/campaigns", campaign_headers, campaign, 202)["campaign_id"]

    order = _delivered(stack, sku, owner)
    wanted = {"lines": [{"sku": sku, "quantity": 1}], "reason": "changed my mind"}
    returned = _post(stack, f"/orders/{order['order_id']}/returns", owner, wanted, 201)
    guest_order = _delivered(stack, sku, None)
    shop.guest_order_token = guest_order["order_token"]

    addresses = [_post(stack, "/me/addresses", owner, ADDRESS, 201) for _ in range(2)]
    devices = [
        _post(stack, "/me/devices", owner, {"platform": "android", "token": uuid.uuid4().hex}, 201)
        for _ in range(2)
    ]
    ticket = {"subject": "Where is my tea?", "message": "Checking on my order."}
    ticket_id = _post(stack, "/tickets", owner, ticket, 201)["ticket_id"]
    review = {"rating": 4, "text": "Pours well."}
    review_id = _post(stack, f"/products/{product_id}/reviews", owner, review, 201)["review_id"]
    image = {"content_type": "image/png", "alt": "The teapot"}
    added = _post(stack, f"/admin/products/{product_id}/images", staff, image, 201)
    # A sale of a SKU of its own, a year ahead: it prices nothing the matrix buys.
    sale_sku = f"MTX-SALE-{run}".upper()
    create_skus(stack, [sale_sku], stock=5, price=5000, name="Matrix sale kettle")
    start = int(time.time()) + 365 * 24 * 3600
    sale = {
        "sku": sale_sku,
        "price": {"amount": 4000, "currency": "CNY"},
        "starts_at": iso(start),
        "ends_at": iso(start + 3600),
        "per_customer_limit": 1,
    }
    flash_sale_id = _post(stack, "/admin/flash-sales", staff, sale, 201)["flash_sale_id"]

    common = {
        "sku": sku,
        "code": code,
        "product_id": product_id,
        "customer_id": f"matrix-{Principal.OWNER.value}-{run}",
        "segment_id": segment_id,
        "campaign_id": campaign_id,
        "return_id": returned["return_id"],
        "ticket_id": ticket_id,
        "review_id": review_id,
        "image_id": added["image"]["image_id"],
        "flash_sale_id": flash_sale_id,
        "address_id": addresses[0]["address_id"],
        "device_id": devices[0]["device_id"],
        "carrier": "sf",
        "provider": "sandbox",
    }
    shop.ids = {**common, "cart_id": _owner_cart(shop, sku), "order_id": order["order_id"]}
    shop.guest_ids = {
        **common,
        "cart_id": _guest_cart(shop, sku),
        "order_id": guest_order["order_id"],
    }
    shop.spare = {
        "coupon_cart": _owner_cart(shop, sku, code),
        "guest_coupon_cart": _guest_cart(shop, sku, code),
        "claim_cart": _guest_cart(shop, sku),
        "address": addresses[1]["address_id"],
        "device": devices[1]["device_id"],
    }
    return shop
