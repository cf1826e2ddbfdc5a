"""Catalog management and discovery over HTTP through the local stack (API.md, v1.1): ops edit,
price, file, picture and archive products; guests browse, filter and search (Chinese too);
customers who received a product review it; ops hide a review."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from http_problems import assert_problem
from stack_helpers import (
    checkout,
    new_cart,
    new_sku,
    ops,
    put_item,
    wait_for_order,
)

from infra.local.demo_catalog import ship_and_deliver
from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _url(stack: StackProcess, path: str) -> str:
    return f"{stack.base_url}{path}"


def _product(
    stack: StackProcess, name: str, price: int = 1000, stock: int = 5, **extra: Any
) -> dict[str, Any]:
    body = {
        "name": name,
        "skus": [
            {
                "sku": new_sku("E2E-CAT"),
                "price": {"amount": price, "currency": "CNY"},
                "stock": stock,
            }
        ],
        **extra,
    }
    made = requests.post(_url(stack, "/admin/products"), json=body, headers=ops(stack), timeout=30)
    assert made.status_code == 201, made.text
    product: dict[str, Any] = made.json()
    return product


def _category(stack: StackProcess, name: str, parent_id: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, **({"parent_id": parent_id} if parent_id else {})}
    made = requests.post(
        _url(stack, "/admin/categories"), json=body, headers=ops(stack), timeout=30
    )
    assert made.status_code == 201, made.text
    return str(made.json()["category_id"])


def _ids(stack: StackProcess, **query: str) -> list[str]:
    found: list[str] = []
    token = None
    while True:
        params = {**query, **({"next_token": token} if token else {})}
        page = requests.get(_url(stack, "/products"), params=params, timeout=30)
        assert page.status_code == 200, page.text
        found += [p["product_id"] for p in page.json()["items"]]
        token = page.json().get("next_token")
        if not token:
            return found


def test_the_demo_shows_categories_tags_images_and_reviews(stack: StackProcess) -> None:
    tree = requests.get(_url(stack, "/categories"), timeout=30).json()["items"]
    names = {node["name"]: [c["name"] for c in node["children"]] for node in tree}
    assert names["服装"] == ["T恤", "连衣裙"]
    dress = requests.get(_url(stack, "/products"), params={"q": "连衣裙"}, timeout=30).json()
    [found] = [p for p in dress["items"] if p["name"] == "夏季显瘦连衣裙"]
    assert "summer" in found["tags"]
    assert found["images"]
    assert requests.get(found["images"][0]["url"], timeout=30).content.startswith(b"\x89PNG")
    assert found["rating"]["count"] >= 1
    assert found["sold"] >= 1
    reviews = requests.get(_url(stack, f"/products/{found['product_id']}/reviews"), timeout=30)
    assert reviews.status_code == 200
    assert reviews.json()["items"]


def test_ops_file_and_guests_filter_by_category_tag_price_and_stock(stack: StackProcess) -> None:
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    top = _category(stack, f"E2E top {tag}")
    child = _category(stack, f"E2E child {tag}", top)
    cheap = _product(stack, "E2E cheap", 500, category_id=child, tags=[tag])["product_id"]
    dear = _product(stack, "E2E dear", 9000, category_id=top, tags=[tag])["product_id"]
    gone = _product(stack, "E2E none left", 700, stock=0, tags=[tag])["product_id"]
    assert _ids(stack, category_id=top) == [dear, cheap]
    assert _ids(stack, category_id=child) == [cheap]
    assert _ids(stack, tag=tag.upper(), sort="price_asc") == [cheap, gone, dear]
    assert _ids(stack, tag=tag, in_stock="true", sort="price_desc") == [dear, cheap]
    assert _ids(stack, tag=tag, min_price="600", max_price="800") == [gone]
    third = requests.post(
        _url(stack, "/admin/categories"),
        json={"name": "E2E third", "parent_id": child},
        headers=ops(stack),
        timeout=30,
    )
    assert_problem(third, 409, "conflict")


def test_search_finds_chinese_and_latin_words(stack: StackProcess) -> None:
    word = f"zq{uuid.uuid4().hex[:8]}"
    dress = _product(stack, f"夏季显瘦连衣裙 {word}")["product_id"]
    _product(stack, f"冬季羽绒服 {word}")
    assert _ids(stack, q=f"连衣裙 {word}")[0] == dress
    assert dress in _ids(stack, q="显瘦")
    assert set(_ids(stack, q=word)) >= {dress}


def test_archive_hides_the_product_and_refuses_carts(stack: StackProcess) -> None:
    product = _product(stack, "E2E to archive")
    pid, sku = product["product_id"], product["skus"][0]["sku"]
    archived = requests.patch(
        _url(stack, f"/admin/products/{pid}"),
        json={"status": "archived"},
        headers=ops(stack),
        timeout=30,
    )
    assert archived.status_code == 200, archived.text
    assert_problem(requests.get(_url(stack, f"/products/{pid}"), timeout=30), 404, "not-found")
    assert pid not in _ids(stack, limit="100")
    cart_id, reach = new_cart(stack)
    refused = requests.put(
        _url(stack, f"/carts/{cart_id}/items/{sku}"),
        json={"quantity": 1},
        headers=reach,
        timeout=30,
    )
    assert_problem(refused, 409, "conflict")


def test_a_new_price_is_ledgered_and_charged(stack: StackProcess) -> None:
    product = _product(stack, "E2E repriced", 1000)
    pid, sku = product["product_id"], product["skus"][0]["sku"]
    cart_id, reach = new_cart(stack)
    put_item(stack, cart_id, sku, 2, reach)
    changed = requests.patch(
        _url(stack, f"/admin/products/{pid}/skus/{sku}"),
        json={"price": {"amount": 750, "currency": "CNY"}},
        headers=ops(stack),
        timeout=30,
    )
    assert changed.status_code == 200, changed.text
    cart = requests.get(_url(stack, f"/carts/{cart_id}"), headers=reach, timeout=30).json()
    assert cart["totals"]["subtotal"] == {"amount": 1500, "currency": "CNY"}
    history = requests.get(
        _url(stack, f"/admin/products/{pid}/skus/{sku}/prices"), headers=ops(stack), timeout=30
    ).json()["items"]
    assert [(h["old"]["amount"], h["new"]["amount"]) for h in history] == [(1000, 750)]
    not_money = requests.patch(
        _url(stack, f"/admin/products/{pid}/skus/{sku}"),
        json={"price": {"amount": 7.5, "currency": "CNY"}},
        headers=ops(stack),
        timeout=30,
    )
    assert_problem(not_money, 400, "validation-error")


def test_an_image_uploads_with_the_presigned_url(stack: StackProcess) -> None:
    pid = _product(stack, "E2E pictured")["product_id"]
    asked = requests.post(
        _url(stack, f"/admin/products/{pid}/images"),
        json={"content_type": "image/png", "alt": "side view"},
        headers=ops(stack),
        timeout=30,
    )
    assert asked.status_code == 201, asked.text
    put = requests.put(
        asked.json()["upload_url"], data=PNG, headers={"Content-Type": "image/png"}, timeout=30
    )
    assert put.status_code == 200, put.text
    [image] = requests.get(_url(stack, f"/products/{pid}"), timeout=30).json()["images"]
    assert image["alt"] == "side view"
    assert requests.get(image["url"], timeout=30).content == PNG
    gif = requests.post(
        _url(stack, f"/admin/products/{pid}/images"),
        json={"content_type": "image/gif"},
        headers=ops(stack),
        timeout=30,
    )
    assert_problem(gif, 400, "validation-error")


def _delivered_to(stack: StackProcess, sku: str, customer: dict[str, str]) -> None:
    order_id = checkout(stack, sku, 1, headers=customer)["order_id"]
    wait_for_order(stack, order_id, customer, "PAID")
    ship_and_deliver(stack.base_url, order_id, ops(stack))
    wait_for_order(stack, order_id, customer, "DELIVERED")


def test_a_customer_who_received_it_reviews_it_once_and_ops_hide_it(stack: StackProcess) -> None:
    product = _product(stack, "E2E reviewed")
    pid, sku = product["product_id"], product["skus"][0]["sku"]
    customer = stack.auth(f"e2e-reviewer-{uuid.uuid4().hex[:8]}", ["customer"])
    stranger = stack.auth(f"e2e-stranger-{uuid.uuid4().hex[:8]}", ["customer"])
    review_url = _url(stack, f"/products/{pid}/reviews")
    body = {"rating": 4, "text": "Sturdy"}
    too_early = requests.post(review_url, json=body, headers=customer, timeout=30)
    assert_problem(too_early, 403, "forbidden")
    _delivered_to(stack, sku, customer)
    assert requests.get(_url(stack, f"/products/{pid}"), timeout=30).json()["sold"] == 1
    assert_problem(
        requests.post(review_url, json={"rating": 6, "text": "x"}, headers=customer, timeout=30),
        400,
        "validation-error",
    )
    posted = requests.post(review_url, json=body, headers=customer, timeout=30)
    assert posted.status_code == 201, posted.text
    again = requests.post(review_url, json=body, headers=customer, timeout=30)
    assert_problem(again, 409, "conflict")
    assert_problem(
        requests.post(review_url, json=body, headers=stranger, timeout=30), 403, "forbidden"
    )
    assert_problem(requests.post(review_url, json=body, timeout=30), 401, "unauthorized")
    shown = requests.get(_url(stack, f"/products/{pid}"), timeout=30).json()
    assert shown["rating"] == {"average": 4.0, "count": 1}
    review_id = posted.json()["review_id"]
    hidden = requests.patch(
        _url(stack, f"/admin/reviews/{review_id}"),
        json={"status": "hidden"},
        headers=ops(stack),
        timeout=30,
    )
    assert hidden.status_code == 200, hidden.text
    shown = requests.get(_url(stack, f"/products/{pid}"), timeout=30).json()
    assert shown["rating"] == {"average": None, "count": 0}
    assert requests.get(review_url, timeout=30).json()["items"] == []
