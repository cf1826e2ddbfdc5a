"""Spike load on the local stack: browse, cart, and (once the orders feature is there) checkout.

Users arrive in steps up to a peak (``SpikeShape``) and the run ends by itself. Browsers list
and open products; shoppers open a guest cart and put items in it, half the time the one hot
SKU the runner created with little stock, so some of them meet a 409 out-of-stock: that is the
one expected failure, recorded as "409 out-of-stock (expected)". Checkout (a guest order paid
with the sandbox's ``tok_ok``, then polled until it leaves PENDING_PAYMENT) runs only when
``functions/orders`` exists or LOAD_CHECKOUT=1.

Run it through ``tests/load/run.py`` (``make load``), which starts the stack and reports.
Environment: LOAD_DURATION (seconds, default 60), LOAD_PEAK_USERS (default 40), LOAD_HOT_SKU
(set by the runner), LOAD_CHECKOUT (0/1, default: whether functions/orders exists).
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path
from typing import Any

import requests
from locust import HttpUser, LoadTestShape, between, events, task
from locust.env import Environment

ROOT = Path(__file__).resolve().parents[2]
DURATION = int(os.environ.get("LOAD_DURATION", "60"))
PEAK_USERS = int(os.environ.get("LOAD_PEAK_USERS", "40"))
HOT_SKU = os.environ.get("LOAD_HOT_SKU", "")
CHECKOUT = os.environ.get(
    "LOAD_CHECKOUT", "1" if (ROOT / "functions" / "orders" / "app.py").exists() else "0"
) not in ("", "0")
EXPECTED = "409 out-of-stock (expected)"
ADDRESS = {
    "name": "Load Test",
    "line1": "1 Century Avenue",
    "city": "Shanghai",
    "postal_code": "200120",
    "country": "CN",
    "phone": "+8613800000000",
}

#: Filled once at test start from GET /products: product ids and SKU codes to pick from.
PRODUCTS: list[str] = []
SKUS: list[str] = []


@events.test_start.add_listener
def _discover(environment: Environment, **_: Any) -> None:
    """Read the catalog once (outside the measurements) so users pick real products."""
    base = environment.host or ""
    token: str | None = None
    for _page in range(20):
        params = {"limit": "50", **({"next_token": token} if token else {})}
        body = requests.get(f"{base}/products", params=params, timeout=30).json()
        for product in body.get("items", []):
            PRODUCTS.append(product["product_id"])
            SKUS.extend(s["sku"] for s in product.get("skus", []) if s["sku"] != HOT_SKU)
        token = body.get("next_token")
        if not token:
            break


def _out_of_stock(response: Any) -> bool:
    if response.status_code != 409:
        return False
    try:
        return bool(response.json().get("type") == "out-of-stock")
    except ValueError:
        return False


class Browser(HttpUser):
    """Someone looking around: the product list, then a product or two."""

    weight = 3
    wait_time = between(0.2, 1.0)

    @task(1)
    def list_products(self) -> None:
        self.client.get("/products", name="GET /products")

    @task(3)
    def open_product(self) -> None:
        if PRODUCTS:
            product_id = random.choice(PRODUCTS)
            self.client.get(f"/products/{product_id}", name="GET /products/[id]")


class Guest(HttpUser):
    """What every guest does with a cart; the users below choose when."""

    abstract = True
    wait_time = between(0.2, 1.0)
    cart_id = ""
    token = ""

    def open_cart(self) -> bool:
        with self.client.post("/carts", name="POST /carts", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code} {response.text[:200]}")
                return False
            body = response.json()
            self.cart_id, self.token = body["cart_id"], body["cart_token"]
        return True

    def set_line(self, sku: str, quantity: int) -> bool:
        """PUT a line; True when it is held (an out-of-stock is the expected failure)."""
        with self.client.put(
            f"/carts/{self.cart_id}/items/{sku}",
            json={"quantity": quantity},
            headers={"X-Cart-Token": self.token},
            name="PUT /carts/[id]/items/[sku]",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                return True
            if _out_of_stock(response):
                response.failure(EXPECTED)
            else:
                response.failure(f"{response.status_code} {response.text[:200]}")
            return False


class Shopper(Guest):
    """A guest who opens a cart and keeps setting lines, the hot SKU half the time."""

    weight = 2

    def on_start(self) -> None:
        self.open_cart()

    def pick_sku(self) -> str | None:
        if HOT_SKU and (not SKUS or random.random() < 0.5):
            return HOT_SKU
        return random.choice(SKUS) if SKUS else None

    @task(4)
    def put_item(self) -> None:
        sku = self.pick_sku()
        if sku and self.cart_id:
            self.set_line(sku, random.randint(1, 2))

    @task(1)
    def look_at_cart(self) -> None:
        if self.cart_id:
            self.client.get(
                f"/carts/{self.cart_id}",
                headers={"X-Cart-Token": self.token},
                name="GET /carts/[id]",
            )

    @task(1)
    def start_over(self) -> None:
        """A new cart (the old one's holds lapse and the sweeper gives them back)."""
        self.open_cart()


class Buyer(Guest):
    """A guest who checks out: cart, line, address, POST /orders, then polls the order."""

    abstract = not CHECKOUT
    weight = 1

    @task
    def checkout(self) -> None:
        if not self.open_cart():
            return
        sku = random.choice(SKUS) if SKUS else HOT_SKU
        if not sku or not self.set_line(sku, 1):
            return
        headers = {"X-Cart-Token": self.token}
        self.client.put(
            f"/carts/{self.cart_id}/shipping-address",
            json=ADDRESS,
            headers=headers,
            name="PUT /carts/[id]/shipping-address",
        )
        order = {
            "cart_id": self.cart_id,
            "email": f"load-{uuid.uuid4().hex[:8]}@example.com",
            "payment": {"method": "card", "token": "tok_ok"},
        }
        with self.client.post(
            "/orders",
            json=order,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            name="POST /orders",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                if _out_of_stock(response):
                    response.failure(EXPECTED)
                else:
                    response.failure(f"{response.status_code} {response.text[:200]}")
                return
            order_id = response.json()["order_id"]
        self.cart_id = ""  # checked out: this cart can no longer change
        for _ in range(20):
            polled = self.client.get(
                f"/orders/{order_id}", headers=headers, name="GET /orders/[id] (poll)"
            )
            if polled.status_code != 200 or polled.json().get("status") != "PENDING_PAYMENT":
                return
            self.wait()


class SpikeShape(LoadTestShape):
    """Users in four equal steps up to the peak (a quarter, a half, three quarters, all),
    over LOAD_DURATION seconds; then the run stops."""

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        if elapsed >= DURATION:
            return None
        step = min(3, int(4 * elapsed / DURATION))
        users = max(1, PEAK_USERS * (step + 1) // 4)
        return users, float(max(1, PEAK_USERS // 4))
