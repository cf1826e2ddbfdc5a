"""Flash sales under concurrency, on DynamoDB Local: ops scheduling overlapping sales of one SKU
at the same moment get exactly one of them, and one customer's holds racing for a sale's limit
are counted to exactly the limit. As in the other race tests, the racing runs in a child
interpreter whose clients point at DynamoDB Local from the start (moto is not safe under
concurrent writes); run directly, this file is that child.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from local_engine import run_child

pytestmark = pytest.mark.integration

THREADS = 16


def test_racing_overlapping_sales_of_one_sku_schedule_exactly_one(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "schedule")
    assert result["unexpected"] == [], result
    assert result["created"] == 1, result
    assert result["refused"] == THREADS - 1, result
    assert result["schedule"] == result["winners"], result


def test_racing_holds_of_one_customer_count_exactly_the_limit(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "counts")
    assert result["unexpected"] == [], result
    assert result["committed"] == result["limit"], result
    assert result["count"] == result["limit"], result


def test_one_customer_from_twenty_threads_and_two_carts_gets_exactly_the_limit(
    dynamodb_local: str,
) -> None:
    result = run_child(__file__, dynamodb_local, "carts")
    assert result["unexpected"] == [], result
    for round_ in result["rounds"]:
        # Every request wanted the whole limit: one cart holds it, the other nothing.
        assert sorted(round_["lines"]) == [0, result["limit"]], round_
        assert round_["count"] == result["limit"], round_
        assert round_["reserved"] == result["limit"], round_
        assert round_["ok"] >= 1, round_
    mixed = result["mixed"]  # then any quantities: the books still agree, never over
    assert sum(mixed["lines"]) == mixed["count"] == mixed["reserved"] <= result["limit"], mixed


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _schedule_child() -> dict[str, Any]:
    from commerce import clock
    from commerce.catalog import flash_sales, products
    from commerce.catalog.flash_sale_schemas import FlashSaleIn
    from commerce.catalog.schemas import CreateProductIn
    from commerce.errors import Conflict
    from commerce.http.auth import Caller
    from commerce.store import flash_sales as store
    from concurrency import all_at_once

    ops = Caller(sub="ops-race", groups=frozenset({"ops"}))
    body = CreateProductIn.model_validate(
        {
            "name": "Hot",
            "skus": [{"sku": "HOT-1", "price": {"amount": 1000, "currency": "CNY"}, "stock": 9}],
        }
    )
    products.create_product(body, ops)
    now = clock.now()
    offsets = iter(range(THREADS))

    def schedule() -> str:
        n = next(offsets)
        sale = FlashSaleIn.model_validate(
            {
                "sku": "HOT-1",
                "price": {"amount": 500 + n, "currency": "CNY"},
                "starts_at": clock.iso(now + 60 + n),
                "ends_at": clock.iso(now + 3600 + n),
                "per_customer_limit": 2,
            }
        )
        return flash_sales.create_sale(sale, ops).flash_sale_id

    results = all_at_once(THREADS, schedule)
    winners = sorted(r for r in results if isinstance(r, str))
    schedule_now = store.read_schedule("HOT-1")
    assert schedule_now is not None
    return {
        "created": len(winners),
        "refused": sum(1 for r in results if isinstance(r, Conflict)),
        "unexpected": [
            repr(r) for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)
        ],
        "winners": winners,
        "schedule": sorted(s.sale_id for s in schedule_now.sales),
    }


def _counts_child() -> dict[str, Any]:
    from commerce.store import flash_sales as store
    from commerce.store.transactions import LabelledTransaction
    from concurrency import all_at_once

    sale_id, customer, limit = "7" * 32, "c0000000-0000-4000-8000-000000000001", 5

    def hold() -> bool:
        tx = LabelledTransaction()
        store.count_hold(tx, sale_id, customer, 1, limit)
        failures = tx.commit()
        if failures and [f.label for f in failures] != [store.SALE_LIMIT_LABEL]:
            raise AssertionError(failures)
        return not failures

    results = all_at_once(THREADS, hold)
    return {
        "committed": sum(1 for r in results if r is True),
        "unexpected": [repr(r) for r in results if isinstance(r, Exception)],
        "limit": limit,
        "count": store.count_of(sale_id, customer),
    }


def _carts_child() -> dict[str, Any]:
    """Twenty threads of one signed-in customer, half on each of two carts, each asking for the
    whole limit of a live sale's SKU (stock to spare), through the cart service; then a round of
    mixed quantities. Refusals allowed: the limit, a busy shard, a cart that kept changing."""
    from commerce import clock
    from commerce.carts import service
    from commerce.catalog import flash_sales, products
    from commerce.catalog.flash_sale_schemas import FlashSaleIn
    from commerce.catalog.schemas import CreateProductIn
    from commerce.errors import Conflict, PurchaseLimit, TooManyRequests
    from commerce.http.auth import Caller
    from commerce.store import flash_sales as store
    from concurrency import all_at_once
    from payment_orders import level

    limit, sku = 3, "HOT-LIMIT"
    ops = Caller(sub="ops-race", groups=frozenset({"ops"}))
    body = CreateProductIn.model_validate(
        {
            "name": "Hot",
            "skus": [{"sku": sku, "price": {"amount": 1000, "currency": "CNY"}, "stock": 500}],
        }
    )
    products.create_product(body, ops)
    start = clock.now() + 2
    sale = FlashSaleIn.model_validate(
        {
            "sku": sku,
            "price": {"amount": 600, "currency": "CNY"},
            "starts_at": clock.iso(start),
            "ends_at": clock.iso(start + 3600),
            "per_customer_limit": limit,
        }
    )
    sale_id = flash_sales.create_sale(sale, ops).flash_sale_id
    real_now = clock.now
    clock.now = lambda: real_now() + 3  # type: ignore[assignment]
    buyer = Caller(sub="c0000000-0000-4000-8000-0000000000b1", email="buyer@example.com")
    unexpected: list[str] = []

    def race(carts: list[str], quantities: list[int]) -> dict[str, Any]:
        calls = iter(range(len(quantities)))

        def put() -> int:
            n = next(calls)
            service.set_item(carts[n % 2], sku, quantities[n], buyer, None)
            return quantities[n]

        results = all_at_once(len(quantities), put)
        allowed = (PurchaseLimit, TooManyRequests, Conflict)
        unexpected.extend(
            repr(r) for r in results if isinstance(r, Exception) and not isinstance(r, allowed)
        )
        lines = []
        for cart_id in carts:
            shown = service.get_cart(cart_id, buyer, None).lines
            lines.append(sum(line.quantity for line in shown))
        return {
            "ok": sum(1 for r in results if isinstance(r, int)),
            "lines": lines,
            "count": store.count_of(sale_id, buyer.sub or ""),
            "reserved": level(sku).reserved,
        }

    rounds = []
    for _ in range(3):
        carts = [service.create_cart(buyer).cart_id for _ in range(2)]
        rounds.append(race(carts, [limit] * 20))
        for cart_id in carts:  # give the round back before the next
            service.clear_items(cart_id, buyer, None)
    carts = [service.create_cart(buyer).cart_id for _ in range(2)]
    mixed = race(carts, [n % (limit + 2) for n in range(20)])
    return {"limit": limit, "rounds": rounds, "mixed": mixed, "unexpected": unexpected}


if __name__ == "__main__":
    here = Path(__file__).resolve()
    sys.path[:0] = [str(here.parents[1]), str(here.parent)]
    CHILDREN = {"schedule": _schedule_child, "counts": _counts_child, "carts": _carts_child}
    print(json.dumps(CHILDREN[sys.argv[1]]()))
