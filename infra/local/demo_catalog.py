"""The catalog's demo: categories, tags, images and reviews, loaded through the API itself.

After the demo products exist (``demo.py``), this files each under a category of a small
two-level tree, tags it, uploads a picture for it with the presigned URL the API hands out
(into the images bucket the stack made in moto), and has two demo customers buy, receive and
review a few of them: checkout, payment by the sandbox, an ops shipment and the carrier's
signed delivery, exactly as a real order goes. One review is hidden by ops, so the rating
shows it left out. Everything it reads is ``demo_catalog.json``; nothing here fails the stack.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from commerce.webhooks.signatures import sign

from infra.local.environment import DEV_WEBHOOK_SECRET

CATALOG_FILE = Path(__file__).with_name("demo_catalog.json")
CARRIER = "sf-express"
#: How long a demo order may take to be paid or delivered: the payments queue and the carrier
#: events are real, and a busy machine slows them.
_POLL_SECONDS = 180.0


class DemoError(RuntimeError):
    """A step of the demo was answered with something other than what it expects."""


#: Answers that say the stack was too busy to do the work (throttled, or a function timed out):
#: the steps that may be sent again are, after a pause.
_BUSY = frozenset({429, 502, 503, 504})
_TRIES = 4


def _again(method: str, url: str, **kwargs: Any) -> requests.Response:
    """Send until the stack is not too busy to answer, at most ``_TRIES`` times. Only for steps
    that a repeat cannot double: reads, PUTs, a checkout under its Idempotency-Key, a carrier
    event under its event id, a shipment (a repeat finds it shipped)."""
    for attempt in range(1, _TRIES + 1):
        response = requests.request(method, url, timeout=30, **kwargs)
        if response.status_code not in _BUSY or attempt == _TRIES:
            return response
        time.sleep(2.0 * attempt)
    raise AssertionError("unreachable")


def _check(response: requests.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        raise DemoError(
            f"{response.request.method} {response.url}: {response.status_code} "
            f"{response.text[:300]}"
        )
    return response.json() if response.content else None


def png(rgb: Iterable[int], size: int = 64) -> bytes:
    """A small solid-colour PNG (what a product photo stands in for)."""
    red, green, blue = rgb
    row = b"\x00" + bytes((red, green, blue)) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def ship_and_deliver(base_url: str, order_id: str, ops: Mapping[str, str | bytes]) -> None:
    """Ops ship the paid order (``ops``: their headers); then its carrier reports the delivery
    to the carriers' webhook, signed with the stack's development secret as carriers sign."""
    shipment = {"carrier": CARRIER, "tracking_number": f"SF{order_id[:10].upper()}"}
    path = f"{base_url}/admin/orders/{order_id}/shipments"
    shipped = _again("POST", path, json=shipment, headers=dict(ops))
    if shipped.status_code == 409:  # a try that timed out shipped it after all
        shipped = _again("GET", f"{base_url}/orders/{order_id}", headers=dict(ops))
        if _check(shipped, 200)["status"] not in ("SHIPPED", "DELIVERED"):
            raise DemoError(f"order {order_id} could not be shipped")
    else:
        _check(shipped, 200)
    now = int(time.time())
    raw = json.dumps(
        {"event_id": f"delivered-{order_id}", "type": "delivered", "order_id": order_id, "at": now}
    )
    delivered = _again(
        "POST",
        f"{base_url}/webhooks/carriers/{CARRIER}",
        data=raw.encode(),
        headers={
            "Content-Type": "application/json",
            "X-Signature": sign(DEV_WEBHOOK_SECRET, now, raw),
        },
    )
    _check(delivered, 200)


class CatalogDemo:
    """One pass of the demo against the stack at ``base_url`` (``session`` is an admin's)."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.base_url = base_url
        self.admin = session
        self.data: dict[str, Any] = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def token(self, sub: str, email: str) -> dict[str, str]:
        body = {"sub": sub, "email": email, "groups": ["customer"]}
        issued = _check(_again("POST", self.url("/_local/token"), json=body), 200)
        return {"Authorization": f"Bearer {issued['token']}"}

    # --- the tree and the products ---------------------------------------------------------

    def categories(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        for top in self.data["categories"]:
            body = {"name": top["name"]}
            made = self.admin.post(self.url("/admin/categories"), json=body, timeout=30)
            ids[top["name"]] = _check(made, 201)["category_id"]
            for child in top["children"]:
                body = {"name": child, "parent_id": ids[top["name"]]}
                made = self.admin.post(self.url("/admin/categories"), json=body, timeout=30)
                ids[child] = _check(made, 201)["category_id"]
        return ids

    def products(self) -> dict[str, dict[str, Any]]:
        """Every product by name, the extra demo products made first."""
        for product in self.data["products"]:
            _check(self.admin.post(self.url("/admin/products"), json=product, timeout=30), 201)
        found: dict[str, dict[str, Any]] = {}
        token: str | None = None
        while True:
            params = {"limit": "100", **({"next_token": token} if token else {})}
            page = _check(requests.get(self.url("/products"), params=params, timeout=30), 200)
            found.update({p["name"]: p for p in page["items"]})
            token = page.get("next_token")
            if not token:
                return found

    def place(self, products: dict[str, dict[str, Any]], categories: dict[str, str]) -> None:
        """File, tag and picture each product named in ``placement``."""
        for name, placement in self.data["placement"].items():
            product = products.get(name)
            if product is None:
                continue
            body = {"category_id": categories[placement["category"]], "tags": placement["tags"]}
            path = f"/admin/products/{product['product_id']}"
            _check(self.admin.patch(self.url(path), json=body, timeout=30), 200)
            alt = {"content_type": "image/png", "alt": name}
            upload = _check(self.admin.post(self.url(f"{path}/images"), json=alt, timeout=30), 201)
            put = requests.put(
                upload["upload_url"],
                data=png(placement["colour"]),
                headers={"Content-Type": "image/png"},
                timeout=30,
            )
            if not put.ok:
                raise DemoError(f"image upload for {name!r}: {put.status_code} {put.text[:200]}")

    # --- orders delivered, then reviewed ---------------------------------------------------

    def _wait(self, order_id: str, headers: dict[str, str], status: str) -> None:
        deadline = time.monotonic() + _POLL_SECONDS
        while True:
            order = _check(
                _again("GET", self.url(f"/orders/{order_id}"), headers=headers),
                200,
            )
            if order["status"] == status:
                return
            if time.monotonic() > deadline:
                raise DemoError(f"order {order_id} is {order['status']}, not {status}")
            time.sleep(0.3)

    def deliver(self, order: dict[str, Any]) -> None:
        """Checkout, payment (the sandbox approves tok_ok), shipment and delivery."""
        who = self.token(order["customer"], order["email"])
        cart = _check(requests.post(self.url("/carts"), headers=who, timeout=30), 201)
        for sku, quantity in order["lines"].items():
            path = f"/carts/{cart['cart_id']}/items/{sku}"
            line = {"quantity": quantity}
            _check(
                _again("PUT", self.url(path), json=line, headers=who),
                200,
            )
        body = {"cart_id": cart["cart_id"], "payment": {"method": "card", "token": "tok_ok"}}
        key = {"Idempotency-Key": f"demo-{uuid.uuid4().hex}"}
        placed = _check(
            _again("POST", self.url("/orders"), json=body, headers={**who, **key}),
            202,
        )
        order_id = placed["order_id"]
        self._wait(order_id, who, "PAID")
        ship_and_deliver(self.base_url, order_id, self.admin.headers)
        self._wait(order_id, who, "DELIVERED")

    def review(self, products: dict[str, dict[str, Any]]) -> int:
        by_sku = {s["sku"]: p for p in products.values() for s in p["skus"]}
        emails = {o["customer"]: o["email"] for o in self.data["orders"]}
        posted = 0
        for review in self.data["reviews"]:
            product = by_sku[review["sku"]]
            who = self.token(review["customer"], emails[review["customer"]])
            body = {"rating": review["rating"], "text": review["text"]}
            path = f"/products/{product['product_id']}/reviews"
            made = _check(requests.post(self.url(path), json=body, headers=who, timeout=30), 201)
            if review.get("hidden"):
                hide = self.admin.patch(
                    self.url(f"/admin/reviews/{made['review_id']}"),
                    json={"status": "hidden"},
                    timeout=30,
                )
                _check(hide, 200)
            posted += 1
        return posted


def load_catalog_demo(base_url: str, session: requests.Session) -> int:
    """Categories, tags, images, orders and reviews; the reviews posted."""
    demo = CatalogDemo(base_url, session)
    categories = demo.categories()
    products = demo.products()
    demo.place(products, categories)
    # Each order waits on the payments queue and the carrier: side by side, not one by one.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(demo.deliver, demo.data["orders"]))
    return demo.review(products)
