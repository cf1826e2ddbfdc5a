"""Holds under real concurrency, against DynamoDB Local (AWS's own engine, not moto).

A flash sale (60 carts racing for 20 units) must hold exactly 20 and never oversell, sharded or
not; sweepers racing each other and the customers' own DELETEs must release each hold exactly
once. The racing happens in a child interpreter whose clients point at DynamoDB Local from the
start (this process's clients were made for moto). Run directly, this file is that child.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from local_engine import run_child

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _race(endpoint: str, scenario: str) -> dict[str, Any]:
    return run_child(__file__, endpoint, scenario)


@pytest.mark.parametrize("scenario", ["flash", "flash-sharded"])
def test_sixty_carts_racing_for_twenty_units_hold_exactly_twenty(
    dynamodb_local: str, scenario: str
) -> None:
    result = _race(dynamodb_local, scenario)
    outcomes = result["outcomes"]
    assert outcomes.get("error", 0) == 0, result
    assert outcomes["held"] == 20, result
    assert outcomes["held"] + outcomes.get("out-of-stock", 0) + outcomes.get("busy", 0) == 60
    assert result["reserved"] == 20
    assert result["available"] == 0
    assert all(0 <= r <= o for r, o in result["shards"]), result
    assert result["held_in_lines"] == 20


def test_racing_sweepers_and_deletes_release_each_hold_once(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "sweep")
    assert result["errors"] == [], result
    assert result["released_twice"] == [], result
    # Only the bystanders' live holds remain: no hold was given back twice.
    assert result["reserved"] == result["bystander_units"]
    # Holds nobody deleted are released by a sweeper; deleted ones by whichever won the race.
    assert result["expired_holds"] - result["deleted"] <= result["released"]
    assert result["released"] <= result["expired_holds"]
    assert result["lines_still_holding"] == result["bystanders"]
    assert result["deleted_lines_left"] == 0


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _product(sku: str, stock: int) -> None:
    import uuid

    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.store import products

    spec = SkuSpec(sku=sku, price=Money(100), stock=stock)
    products.create(
        uuid.uuid4().hex, NewProduct("Race", "", (spec,)), actor="race", at="2026-01-01T00:00:00Z"
    )


def _split_evenly(sku: str, stock: int, count: int) -> None:
    """Move the SKU's stock onto ``count`` equal shards (what a resharding would leave)."""
    from commerce.store import keys
    from commerce.store.tables.inventory import SkuMetaModel, StockShardModel

    per_shard = stock // count
    for shard in range(count):
        StockShardModel(
            keys.stock_pk(sku, shard),
            keys.STOCK_SK,
            sku=sku,
            shard=shard,
            on_hand=per_shard,
            reserved=0,
            available=per_shard,
        ).save()
    meta = SkuMetaModel.get(keys.sku_pk(sku), keys.META_SK)
    meta.update(actions=[SkuMetaModel.shard_count.set(count)])


def _levels(sku: str) -> list[tuple[int, int]]:
    from commerce.store import inventory

    stock = inventory.read_shards(sku)
    return [(level.reserved, level.on_hand) for level in stock.levels]


def _flash(sharded: bool) -> dict[str, Any]:
    import uuid

    from commerce.carts import service
    from commerce.errors import OutOfStock, TooManyRequests
    from commerce.http.auth import Caller

    sku = f"FLASH-{uuid.uuid4().hex[:8]}"
    _product(sku, 20)
    if sharded:
        _split_evenly(sku, 20, 4)
    cart_list = [service.create_cart(Caller()) for _ in range(60)]

    def buy(index: int) -> str:
        cart = cart_list[index]
        try:
            service.set_item(cart.cart_id, sku, 1, Caller(), cart.cart_token)
        except OutOfStock:
            return "out-of-stock"
        except TooManyRequests:
            return "busy"
        except Exception as error:  # reported, and fails the test
            print(repr(error), file=sys.stderr)
            return "error"
        return "held"

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = Counter(pool.map(buy, range(60)))
    levels = _levels(sku)
    held_in_lines = 0
    for cart in cart_list:
        view = service.get_cart(cart.cart_id, Caller(), cart.cart_token)
        held_in_lines += sum(line.quantity for line in view.lines if line.reserved_until)
    return {
        "outcomes": dict(outcomes),
        "shards": levels,
        "reserved": sum(r for r, _ in levels),
        "available": sum(o - r for r, o in levels),
        "held_in_lines": held_in_lines,
    }


def _sweep_race() -> dict[str, Any]:
    import threading
    import uuid

    from commerce import clock
    from commerce.carts import service, sweeper
    from commerce.http.auth import Caller
    from commerce.settings import get_settings
    from commerce.store import carts, holds

    sku = f"SWEEP-{uuid.uuid4().hex[:8]}"
    _product(sku, 500)
    ttl = get_settings().reservation_ttl_seconds
    start = clock.now()
    expiring = [service.create_cart(Caller()) for _ in range(40)]
    for cart in expiring:
        service.set_item(cart.cart_id, sku, 2, Caller(), cart.cart_token)
    # Bystanders hold stock far past the sweep's "now": a double release would eat into theirs.
    real_now = clock.now
    clock.now = lambda: start + 100 * ttl  # type: ignore[assignment]
    bystanders = [service.create_cart(Caller()) for _ in range(5)]
    for cart in bystanders:
        service.set_item(cart.cart_id, sku, 3, Caller(), cart.cart_token)
    clock.now = real_now  # type: ignore[assignment]

    sweep_at = clock.now() + ttl + 1  # every expiring hold has expired by then
    errors: list[str] = []
    wins: Counter[tuple[str, int, int | None]] = Counter()
    lock = threading.Lock()
    release = holds.release_expired

    def counted_release(hold: holds.ExpiredHold, now: int, at: str) -> bool:
        won = release(hold, now, at)
        if won and hold.line.sku == sku:  # other tests' holds in the table are swept too
            with lock:
                wins[(hold.cart_id, hold.line.version, hold.line.expires_at)] += 1
        return won

    holds.release_expired = counted_release  # type: ignore[assignment]

    def run_sweeper() -> None:
        try:
            sweeper.sweep(sweep_at, lambda: 60_000, page_size=5)
        except Exception as error:
            errors.append(repr(error))

    def delete(index: int) -> None:
        cart = expiring[index]
        try:
            service.remove_item(cart.cart_id, sku, Caller(), cart.cart_token)
        except Exception as error:
            errors.append(repr(error))

    to_delete = range(0, 40, 2)  # half the expiring carts race their own DELETE
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(run_sweeper) for _ in range(3)]
        futures += [pool.submit(delete, i) for i in to_delete]
        for future in futures:
            future.result()
    levels = _levels(sku)
    lines_holding = 0
    deleted_left = 0
    for index, cart in enumerate([*expiring, *bystanders]):
        stored = carts.load(cart.cart_id)
        assert stored is not None
        line = stored.line(sku)
        if line is not None and line.holds_stock:
            lines_holding += 1
        if index in to_delete and line is not None:
            deleted_left += 1
    return {
        "errors": errors,
        "released": sum(wins.values()),
        "released_twice": [key for key, count in wins.items() if count > 1],
        "expired_holds": len(expiring),
        "deleted": len(to_delete),
        "reserved": sum(r for r, _ in levels),
        "bystanders": len(bystanders),
        "bystander_units": 3 * len(bystanders),
        "lines_still_holding": lines_holding,
        "deleted_lines_left": deleted_left,
    }


def _child(scenario: str) -> dict[str, Any]:
    if scenario == "sweep":
        return _sweep_race()
    return _flash(sharded=scenario == "flash-sharded")


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1])))
