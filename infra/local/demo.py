"""Demo data, loaded through the API itself (POST /admin/products with an admin token), then
the catalog's categories, tags, images and reviews (``demo_catalog.py``).

Going through the gateway rather than writing tables directly means the demo exercises the real
path, and stays right when the catalog's table layout changes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import requests

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
    created = 0
    for product in products:
        response = session.post(f"{base_url}/admin/products", json=product, timeout=60)
        if response.status_code == 201:
            created += 1
        else:
            log.warning(
                "demo product %r not loaded: %s %s",
                product["name"],
                response.status_code,
                response.text[:300],
            )
    try:
        reviews = load_catalog_demo(base_url, session)
        log.info("demo catalog loaded: categories, tags, images and %d reviews", reviews)
    except (DemoError, requests.RequestException, KeyError) as error:
        log.warning("demo catalog not loaded: %s", error)
    return created
