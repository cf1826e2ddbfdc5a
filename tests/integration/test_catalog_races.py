"""The catalog's counters stay exact under concurrency: checked against DynamoDB Local.

Sales (with redeliveries) race edits that move the product between lists, archive and restore
it and change its prices; reviews are hidden and restored by racing moderators. Afterwards the
product's ``sold`` is exactly the units of the distinct events, every listing entry carries it,
the entries are exactly the lists of the final state, and the rating equals its published
reviews. As in the other race tests, the racing runs in a child interpreter whose clients point
at DynamoDB Local from the start (moto is not safe under concurrent writes); run directly, this
file is that child.
"""

from __future__ import annotations

import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from local_engine import run_child

pytestmark = pytest.mark.integration


def test_sales_and_edits_keep_sold_and_the_lists_exact(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "sales")
    assert result["errors"] == [], result
    assert result["sold"] == result["expected_sold"]
    assert result["markers"] == result["events"]
    assert result["entry_sold"] == [result["sold"]] * len(result["entries"])
    assert sorted(result["entries"]) == sorted(result["partitions"])


def test_racing_moderators_keep_the_rating_exact(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "moderation")
    assert result["errors"] == [], result
    assert result["rating"] == result["recomputed"]


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _sales_child() -> dict[str, Any]:
    from commerce.catalog import categories, editing, products
    from commerce.catalog.sales import DynamoSalesLedger
    from commerce.catalog.schemas import (
        CategoryIn,
        CreateProductIn,
        MoneyIn,
        PatchProductIn,
        PatchSkuIn,
    )
    from commerce.errors import TooManyRequests
    from commerce.http.auth import Caller
    from commerce.store import keys
    from commerce.store import products as store
    from commerce.store.tables.catalog import ListingEntryModel, SaleMarkerModel

    ops = Caller(sub="ops-race", groups=frozenset({"ops"}))
    top = categories.create_category(CategoryIn(name="Top"), ops).category_id
    child = categories.create_category(CategoryIn(name="Child", parent_id=top), ops).category_id
    body = CreateProductIn.model_validate(
        {
            "name": "Racer",
            "skus": [{"sku": "RACE-A", "price": {"amount": 100, "currency": "CNY"}, "stock": 9}],
            "category_id": child,
            "tags": ["fast"],
        }
    )
    product_id = products.create_product(body, ops).product_id
    rng = random.Random(7)
    events = [(f"order-{n}", "paid", rng.randint(1, 3)) for n in range(40)]
    events += [(f"order-{n}", "cancelled", -units) for n, (_, _, units) in enumerate(events[:8])]
    work: list[tuple[str, Any]] = [("sale", e) for e in events]
    work += [("sale", e) for e in events[:15]]  # redeliveries
    edits: list[Any] = [
        PatchProductIn(tags=["fast", "new"]),
        PatchProductIn(category_id=top),
        PatchProductIn(status="archived"),
        PatchProductIn(status="active"),
        PatchProductIn(tags=["slow"]),
        PatchProductIn(category_id=child),
        PatchSkuIn(price=MoneyIn(amount=90, currency="CNY")),
        PatchSkuIn(price=MoneyIn(amount=120, currency="CNY")),
    ]
    work += [("edit", edit) for edit in edits]
    rng.shuffle(work)
    ledger = DynamoSalesLedger()
    errors: list[str] = []
    throttled: list[Any] = []

    def edit(what: Any) -> None:
        """As a client does: a 429 is retried after its Retry-After (here, at once)."""
        for _ in range(30):
            try:
                if isinstance(what, PatchSkuIn):
                    editing.patch_sku(product_id, "RACE-A", what, ops)
                else:
                    editing.patch_product(product_id, what, ops)
                return
            except TooManyRequests:
                throttled.append(what)
        raise RuntimeError("an edit never got through")

    def one(job: tuple[str, Any]) -> None:
        kind, what = job
        try:
            if kind == "sale":
                order_id, event, units = what
                ledger.count(order_id, event, {"RACE-A": units})
            else:
                edit(what)
        except Exception as error:  # reported, and fails the test
            errors.append(f"{kind}: {type(error).__name__}: {error}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, work))
    final = store.get(product_id, consistent=True)
    assert final is not None
    entries = list(
        ListingEntryModel.query(
            keys.product_pk(product_id),
            ListingEntryModel.sk.startswith(keys.LIST_SK_PREFIX),
            consistent_read=True,
        )
    )
    markers = list(
        SaleMarkerModel.query(
            keys.product_pk(product_id),
            SaleMarkerModel.sk.startswith(keys.SALE_SK_PREFIX),
            consistent_read=True,
        )
    )
    return {
        "errors": errors,
        "sold": final.sold,
        "expected_sold": sum(units for _, _, units in events),
        "events": len(events),
        "markers": len(markers),
        "entries": [entry.lpk for entry in entries],
        "entry_sold": [int(entry.lsold) for entry in entries],
        "partitions": [keys.list_lpk(p) for p in final.partitions],
        "throttled_edits": len(throttled),
        "price": final.skus[0].price.amount,
    }


def _moderation_child() -> dict[str, Any]:
    from commerce.catalog import products, reviews
    from commerce.catalog.review_schemas import ReviewIn, ReviewStatusIn
    from commerce.catalog.schemas import CreateProductIn
    from commerce.clock import now_iso
    from commerce.domain.ratings import recompute
    from commerce.http.auth import Caller
    from commerce.store import products as store
    from commerce.store import reviews as review_store

    ops = Caller(sub="ops-race", groups=frozenset({"ops"}))
    body = CreateProductIn.model_validate(
        {
            "name": "Rated",
            "skus": [{"sku": "RATE-A", "price": {"amount": 100, "currency": "CNY"}, "stock": 1}],
        }
    )
    product_id = products.create_product(body, ops).product_id
    ids = []
    for n in range(6):
        sub = f"buyer-{n}"
        review_store.record_buyer(product_id, sub, f"order-{n}", at=now_iso())
        review = reviews.post_review(
            product_id, ReviewIn(rating=n % 5 + 1, text="t"), Caller(sub=sub)
        )
        ids.append(review.review_id)
    rng = random.Random(11)
    jobs = [(rng.choice(ids), rng.choice(["hidden", "published"])) for _ in range(60)]
    errors: list[str] = []

    def one(job: tuple[str, str]) -> None:
        review_id, status = job
        try:
            reviews.moderate(review_id, ReviewStatusIn(status=status), ops)  # type: ignore[arg-type]
        except Exception as error:  # a 429 after too many lost races would show here
            errors.append(f"{type(error).__name__}: {error}")

    with ThreadPoolExecutor(max_workers=24) as pool:
        list(pool.map(one, jobs))
    final = store.get(product_id, consistent=True)
    assert final is not None
    found = [review_store.get(review_id) for review_id in ids]
    recomputed = recompute((r.rating, r.status) for r in found if r is not None)
    return {
        "errors": errors,
        "rating": [final.rating.total, final.rating.count],
        "recomputed": [recomputed.total, recomputed.count],
    }


if __name__ == "__main__":
    CHILDREN = {"sales": _sales_child, "moderation": _moderation_child}
    print(json.dumps(CHILDREN[sys.argv[1]]()))
