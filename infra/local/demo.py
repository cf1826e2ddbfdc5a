"""Demo data, loaded through the API itself: products (POST /admin/products with an admin
token), the shipping zone table (PUT /admin/shipping-zones), the catalog's categories, tags,
images and reviews (``demo_catalog.py``), a customer with an address book and a support ticket
(their own token), so the personal centre and support's view have something to show, then a
couple of customers' orders paid with the sandbox's ``tok_ok`` (carts, checkout, the payments
queue), so the insight figures and a campaign have something to show.

Going through the gateway rather than writing tables directly means the demo exercises the real
path, and stays right when a table's layout changes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from commerce import clock

from infra.local.demo_catalog import DemoError, load_catalog_demo

log = logging.getLogger("infra.local.demo")

DEMO_FILE = Path(__file__).with_name("demo_data.json")
DEMO_ADMIN = {"sub": "demo-admin", "email": "admin@example.com", "groups": ["admin"]}


def load_demo_data(base_url: str, has_route: bool, path: Path = DEMO_FILE) -> int:
    """POST every demo product; returns how many were created. Never fails the stack."""
    if not has_route:
        log.warning("demo data skipped: no function serves POST /admin/products yet")
        return 0
    products: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["products"]
    session = requests.Session()
    token = session.post(f"{base_url}/_local/token", json=DEMO_ADMIN, timeout=30).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    admin = dict(session.headers)
    with ThreadPoolExecutor(max_workers=4) as pool:
        created = sum(pool.map(lambda product: _create(base_url, admin, product), products))
    _load_zones(session, base_url, path)
    _load_flash_sales(session, base_url, path)
    # The catalog's part waits on payments and the carrier; the customers' part is
    # independent of it, so the two load side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        catalog = pool.submit(_load_catalog, base_url, session)
        pool.submit(_load_customers, requests.Session(), base_url, path).result()
        catalog.result()
    return created


def _create(base_url: str, admin: Mapping[str, str | bytes], product: dict[str, Any]) -> int:
    response = requests.post(f"{base_url}/admin/products", json=product, headers=admin, timeout=60)
    if response.status_code == 201:
        return 1
    log.warning(
        "demo product %r not loaded: %s %s",
        product["name"],
        response.status_code,
        response.text[:300],
    )
    return 0


def _load_catalog(base_url: str, session: requests.Session) -> None:
    try:
        reviews = load_catalog_demo(base_url, session)
        log.info("demo catalog loaded: categories, tags, images and %d reviews", reviews)
    except (DemoError, requests.RequestException, KeyError) as error:
        log.warning("demo catalog not loaded: %s", error)


def _load_customers(session: requests.Session, base_url: str, path: Path) -> None:
    _load_customer(base_url, path)
    orders = json.loads(path.read_text(encoding="utf-8")).get("orders") or []
    placed = sum(1 for index, order in enumerate(orders) if _place(session, base_url, index, order))
    if orders:
        log.info("demo orders placed: %d of %d", placed, len(orders))


def _load_zones(session: requests.Session, base_url: str, path: Path) -> None:
    zones = json.loads(path.read_text(encoding="utf-8")).get("shipping_zones")
    if not zones:
        return
    response = session.put(f"{base_url}/admin/shipping-zones", json={"zones": zones}, timeout=60)
    if response.status_code != 200:
        log.warning("demo shipping zones not loaded: %s %s", response.status_code, response.text)


def _load_flash_sales(session: requests.Session, base_url: str, path: Path) -> None:
    """Each demo sale, live from now for its ``hours``: a shopper sees the sale price and the
    limit at once (a guest's hold of it is 401, a customer's over the limit 409)."""
    sales = json.loads(path.read_text(encoding="utf-8")).get("flash_sales") or []
    now = clock.now()
    for sale in sales:
        body = {
            "sku": sale["sku"],
            "price": sale["price"],
            "starts_at": clock.iso(now),
            "ends_at": clock.iso(now + sale["hours"] * 3600),
            "per_customer_limit": sale["per_customer_limit"],
        }
        response = session.post(f"{base_url}/admin/flash-sales", json=body, timeout=60)
        if response.status_code == 201:
            log.info("demo flash sale of %s: %s", sale["sku"], response.json()["flash_sale_id"])
        else:
            log.warning("demo flash sale not loaded: %s %s", response.status_code, response.text)


def _load_customer(base_url: str, path: Path) -> None:
    """The demo customer's address book and ticket, each written by the customer."""
    customer: dict[str, Any] | None = json.loads(path.read_text(encoding="utf-8")).get("customer")
    if not customer:
        return
    session = requests.Session()
    body = {"sub": customer["sub"], "email": customer["email"], "groups": ["customer"]}
    token = session.post(f"{base_url}/_local/token", json=body, timeout=30).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    writes = [("/me/addresses", a) for a in customer.get("addresses", [])]
    writes += [("/tickets", t) for t in customer.get("tickets", [])]
    for route, item in writes:
        response = session.post(f"{base_url}{route}", json=item, timeout=60)
        if response.status_code != 201:
            log.warning("demo %s not loaded: %s %s", route, response.status_code, response.text)


def _place(session: requests.Session, base_url: str, index: int, order: dict[str, Any]) -> bool:
    """One customer's order: their marketing choice, a cart with the lines, checkout with the
    sandbox's approving token. Payment follows asynchronously, as for any order."""
    customer = order["customer"]
    minted = session.post(
        f"{base_url}/_local/token", json={**customer, "groups": ["customer"]}, timeout=30
    )
    headers = {"Authorization": f"Bearer {minted.json()['token']}"}
    consent = {"marketing_consent": bool(order.get("marketing_consent"))}
    try:
        _ok(requests.patch(f"{base_url}/me", json=consent, headers=headers, timeout=60))
        cart = _ok(requests.post(f"{base_url}/carts", headers=headers, timeout=60)).json()
        for line in order["lines"]:
            route = f"{base_url}/carts/{cart['cart_id']}/items/{line['sku']}"
            _ok(
                requests.put(
                    route, json={"quantity": line["quantity"]}, headers=headers, timeout=60
                )
            )
        checkout = {"cart_id": cart["cart_id"], "payment": {"method": "card", "token": "tok_ok"}}
        keyed = {**headers, "Idempotency-Key": f"demo-order-{index}"}
        _ok(requests.post(f"{base_url}/orders", json=checkout, headers=keyed, timeout=60))
    except DemoStepFailed as failure:
        log.warning("demo order of %s not placed: %s", customer["sub"], failure)
        return False
    return True


class DemoStepFailed(RuntimeError):
    """A demo request got an error answer (the demo goes on without it)."""


def _ok(response: requests.Response) -> requests.Response:
    if response.status_code >= 400:
        raise DemoStepFailed(f"{response.status_code} {response.text[:300]}")
    return response
