"""Reviews through the catalog handler on moto: only customers who received the product, once;
ops hide and restore; the product's rating always equals its published reviews."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog, new_sku
from commerce.catalog import reviews as review_service
from commerce.catalog.review_schemas import ReviewIn, ReviewStatusIn
from commerce.clock import now_iso
from commerce.domain.ratings import ReviewStatus, recompute
from commerce.http.auth import Caller
from commerce.store import keys
from commerce.store import products as product_store
from commerce.store import reviews as review_store
from commerce.store.tables.catalog import BuyerModel
from http_problems import assert_problem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orders_world import SUBS, Shop, deliver, pay

pytestmark = pytest.mark.integration

GOOD = {"rating": 5, "text": "Lovely"}


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


def _bought(shop: Shop, sku: str, who: str = "customer", *, delivered: bool = True) -> str:
    cart_id, _ = shop.cart_with({sku: 1}, who=who)
    placed = shop.place(cart_id, who=who, email=None)
    assert placed.status == 202, placed.body
    order_id: str = placed.body["order_id"]
    if delivered:
        deliver(shop, order_id)
    else:
        pay(order_id)
    return order_id


@pytest.fixture
def received(catalog: Catalog, shop: Shop) -> str:
    """A product the customer received in a delivered order; its id."""
    sku = new_sku()
    product_id: str = catalog.create("Teapot", skus=[sku])["product_id"]
    _bought(shop, sku)
    return product_id


def test_a_customer_who_received_it_reviews_it_once(catalog: Catalog, received: str) -> None:
    reply = catalog.review(received, {"rating": 4, "text": "Pours well"})
    assert reply.status == 201, reply.body
    assert reply.body["rating"] == 4
    assert reply.body["status"] == "published"
    assert reply.body["product_id"] == received
    assert catalog.get(received).body["rating"] == {"average": 4.0, "count": 1}
    listed = catalog.reviews(received)
    assert [r["review_id"] for r in listed.body["items"]] == [reply.body["review_id"]]
    assert_problem(catalog.review(received, GOOD), 409, "conflict")
    assert catalog.get(received).body["rating"]["count"] == 1


def test_no_delivered_order_no_review(
    catalog: Catalog, shop: Shop, scan_all: Callable[[], Any]
) -> None:
    sku = new_sku()
    product = catalog.create(skus=[sku])["product_id"]
    _bought(shop, sku, delivered=False)  # paid, not delivered
    before = scan_all()
    assert_problem(catalog.review(product, GOOD), 403, "forbidden")
    assert_problem(catalog.review(product, GOOD, who="other"), 403, "forbidden")
    assert_problem(catalog.review(product, GOOD, who=None), 401, "unauthorized")
    assert scan_all() == before


def test_a_delivered_order_without_a_buyer_record_is_found_in_the_orders(
    catalog: Catalog, received: str
) -> None:
    BuyerModel(keys.buyer_pk(SUBS["customer"]), keys.product_pk(received)).delete()
    assert catalog.review(received, GOOD).status == 201
    assert review_store.buyer(received, SUBS["customer"]) is not None


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0, "text": "x"},
        {"rating": 6, "text": "x"},
        {"rating": 4.5, "text": "x"},
        {"rating": "5", "text": "x"},
        {"rating": True, "text": "x"},
        {"rating": 5},
        {"rating": 5, "text": "x" * 2001},
        {"rating": 5, "text": "x", "author": "me"},
    ],
)
def test_bad_reviews_are_400_and_change_nothing(
    catalog: Catalog, received: str, scan_all: Callable[[], Any], body: Any
) -> None:
    before = scan_all()
    assert_problem(catalog.review(received, body), 400, "validation-error")
    assert scan_all() == before


def test_archived_and_unknown_products_cannot_be_reviewed(catalog: Catalog, received: str) -> None:
    assert_problem(catalog.review("0" * 32, GOOD), 404, "not-found")
    catalog.archive(received)
    assert_problem(catalog.review(received, GOOD), 404, "not-found")
    assert_problem(catalog.reviews(received), 404, "not-found")


def test_hiding_and_restoring_moves_the_rating_and_the_list(
    catalog: Catalog, received: str
) -> None:
    review_id = catalog.review(received, {"rating": 2, "text": "Chipped"}).body["review_id"]
    hidden = catalog.moderate(review_id, "hidden")
    assert hidden.status == 200
    assert hidden.body["status"] == "hidden"
    assert catalog.get(received).body["rating"] == {"average": None, "count": 0}
    assert catalog.reviews(received).body["items"] == []
    assert catalog.moderate(review_id, "hidden").status == 200  # no change, no harm
    assert catalog.get(received).body["rating"]["count"] == 0
    assert catalog.moderate(review_id, "published").body["status"] == "published"
    assert catalog.get(received).body["rating"] == {"average": 2.0, "count": 1}


def test_moderation_needs_ops_and_a_real_review(
    catalog: Catalog, received: str, scan_all: Callable[[], Any]
) -> None:
    review_id = catalog.review(received, GOOD).body["review_id"]
    before = scan_all()
    assert_problem(catalog.moderate(review_id, "hidden", who="customer"), 403, "forbidden")
    assert_problem(catalog.moderate(review_id, "hidden", who="support"), 403, "forbidden")
    assert_problem(catalog.moderate("0" * 32, "hidden"), 404, "not-found")
    assert_problem(catalog.moderate("../x", "hidden"), 404, "not-found")
    assert_problem(catalog.moderate(review_id, "deleted"), 400, "validation-error")
    assert scan_all() == before


def _buyers(product_id: str, count: int) -> list[str]:
    subs = [f"c{n:07d}-0000-4000-8000-000000000000" for n in range(count)]
    for n, sub in enumerate(subs):
        review_store.record_buyer(product_id, sub, f"order-{n}", at=now_iso())
    return subs


def test_reviews_list_newest_first_in_pages(catalog: Catalog) -> None:
    product = catalog.create()["product_id"]
    posted = [
        review_service.post_review(product, ReviewIn(rating=3, text=f"#{n}"), Caller(sub=sub))
        for n, sub in enumerate(_buyers(product, 5))
    ]
    first = catalog.reviews(product, limit="3")
    assert [r["text"] for r in first.body["items"]] == ["#4", "#3", "#2"]
    rest = catalog.reviews(product, limit="3", next_token=first.body["next_token"])
    assert [r["text"] for r in rest.body["items"]] == ["#1", "#0"]
    assert "next_token" not in rest.body
    other = catalog.create()["product_id"]
    assert_problem(
        catalog.reviews(other, next_token=first.body["next_token"]), 400, "validation-error"
    )
    assert len(posted) == 5


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ratings=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    steps=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=12),
)
def test_any_interleaving_keeps_the_stored_rating_exact(
    catalog: Catalog, ratings: list[int], steps: list[tuple[int, bool]]
) -> None:
    """Post, hide and restore in any order, through the store's conditional writes: the
    product's rating equals a recomputation from its reviews after every step."""
    product = catalog.create()["product_id"]
    ops = Caller(sub=SUBS["ops"], groups=frozenset({"ops"}))
    ids = [
        review_service.post_review(
            product, ReviewIn(rating=rating, text="t"), Caller(sub=sub)
        ).review_id
        for rating, sub in zip(ratings, _buyers(product, len(ratings)), strict=True)
    ]

    def check() -> None:
        stored = product_store.get(product, consistent=True)
        assert stored is not None
        found = [review_store.get(review_id) for review_id in ids]
        assert stored.rating == recompute((r.rating, r.status) for r in found if r is not None)

    check()
    for index, hide in steps:
        if index < len(ids):
            target = "hidden" if hide else "published"
            review_service.moderate(ids[index], ReviewStatusIn(status=target), ops)
            check()
    published = [r for r in (review_store.get(i) for i in ids) if r is not None]
    assert (
        sum(1 for r in published if r.status is ReviewStatus.PUBLISHED)
        == (catalog.get(product).body["rating"]["count"])
    )


# --- privacy ----------------------------------------------------------------------------------


@pytest.fixture
def customers(customers_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The customers handler, with a user pool on moto holding the customer."""
    import boto3
    from commerce.customers import privacy as privacy_service

    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id = cognito.create_user_pool(PoolName="reviews-test")["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="customer")
    monkeypatch.setattr(privacy_service, "user_pool_id", lambda: pool_id)
    return customers_module


def test_reviews_are_exported_and_erasure_anonymises_their_author(
    catalog: Catalog, received: str, customers: ModuleType, scan_all: Callable[[], Any]
) -> None:
    from commerce.domain import privacy
    from orders_world import event, invoke

    review = catalog.review(received, {"rating": 3, "text": "Fine"}).body
    exported = invoke(customers, event("customers_export.json", who="customer"))
    assert exported.status == 200, exported.body
    [mine] = exported.body["reviews"]
    assert (mine["review_id"], mine["product_id"], mine["rating"]) == (
        review["review_id"],
        received,
        3,
    )
    assert mine["customer_id"] == SUBS["customer"]
    erased = invoke(customers, event("customers_erase.json", who="customer"))
    assert erased.status == 204, erased.body
    kept = review_store.get(review["review_id"])
    assert kept is not None
    assert kept.customer_id == privacy.ERASED_OWNER
    assert (kept.rating, kept.text) == (3, "Fine")
    assert review_store.buyer(received, SUBS["customer"]) is None
    assert privacy.find_values(scan_all(), [SUBS["customer"]]) == []
    # The review still counts and is still listed: the shop's content, by nobody in particular.
    assert catalog.get(received).body["rating"] == {"average": 3.0, "count": 1}
    assert [r["review_id"] for r in catalog.reviews(received).body["items"]] == [
        review["review_id"]
    ]
