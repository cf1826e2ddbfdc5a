"""Holds against moto: exact hold math, expiry by the clock, sharded SKUs, and the sweeper.

Time is moved by replacing the holds' clock, never by sleeping: expiry is enforced by write
conditions and the sweeper, not by TTL deletion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SKU = "TEA-HOLD-1"
T0 = 1_900_000_000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the holds' clock: ``clock(seconds_after_T0)``."""
    from commerce import clock as clock

    current = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: current["now"])

    def move(offset: int) -> None:
        current["now"] = T0 + offset

    return move


@pytest.fixture
def ttl() -> int:
    from commerce.settings import get_settings

    return get_settings().reservation_ttl_seconds


@pytest.fixture
def shards(
    dynamodb: Any, create_product: Callable[..., Any]
) -> Callable[..., list[dict[str, int]]]:
    """Creates SKU with 10 units; returns a reader of every shard row of a SKU."""
    create_product((SKU, 10))
    table = next(t for t in dynamodb.list_tables()["TableNames"] if "nventory" in t)

    def read(sku: str = SKU, count: int = 1) -> list[dict[str, int]]:
        rows = []
        for shard in range(count):
            item = dynamodb.get_item(
                TableName=table,
                Key={"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}},
                ConsistentRead=True,
            )["Item"]
            rows.append({k: int(item[k]["N"]) for k in ("on_hand", "reserved", "available")})
        return rows

    return read


def _split(dynamodb: Any, sku: str, second_shard_units: int) -> None:
    """Give ``sku`` a second shard holding ``second_shard_units`` (as a resharding would)."""
    table = next(t for t in dynamodb.list_tables()["TableNames"] if "nventory" in t)
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "META"}},
        UpdateExpression="SET shard_count = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"STOCK#{sku}#01"},
            "sk": {"S": "STOCK"},
            "sku": {"S": sku},
            "shard": {"N": "1"},
            "on_hand": {"N": str(second_shard_units)},
            "reserved": {"N": "0"},
            "available": {"N": str(second_shard_units)},
        },
    )


def _guest_cart() -> tuple[str, str]:
    from commerce.carts import service
    from commerce.http.auth import Caller

    created = service.create_cart(Caller())
    assert created.cart_token is not None
    return created.cart_id, created.cart_token


def _set(cart: tuple[str, str], quantity: int, sku: str = SKU) -> Any:
    from commerce.carts import service
    from commerce.http.auth import Caller

    return service.set_item(cart[0], sku, quantity, Caller(), cart[1])


def _get(cart: tuple[str, str]) -> Any:
    from commerce.carts import service
    from commerce.http.auth import Caller

    return service.get_cart(cart[0], Caller(), cart[1])


def _sweep() -> Any:
    from commerce import clock as clock
    from commerce.carts import sweeper

    return sweeper.sweep(clock.now(), lambda: 60_000)


def test_hold_math(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None]
) -> None:
    cart = _guest_cart()
    _set(cart, 3)
    assert shards() == [{"on_hand": 10, "reserved": 3, "available": 7}]
    _set(cart, 1)
    assert shards()[0]["reserved"] == 1
    _set(cart, 0)
    assert shards()[0]["reserved"] == 0


def test_an_expired_hold_lapses_and_the_sweeper_releases_it_once(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None], ttl: int
) -> None:
    cart = _guest_cart()
    line = _set(cart, 3).lines[0]
    assert line.reserved_until is not None
    clock(ttl - 1)
    assert _sweep().released == 0  # still live
    assert _get(cart).lines[0].reserved_until is not None
    clock(ttl)
    lapsed = _get(cart).lines[0]
    assert lapsed.reserved_until is None
    assert lapsed.quantity == 3
    assert shards()[0]["reserved"] == 3  # held until released
    report = _sweep()
    assert (report.released, report.skipped) == (1, 0)
    assert shards()[0] == {"on_hand": 10, "reserved": 0, "available": 10}
    assert _get(cart).lines[0].quantity == 3  # the line stays, without a hold
    assert _sweep().released == 0  # exactly once


def test_setting_an_expired_unswept_hold_nets_it(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None], ttl: int
) -> None:
    cart = _guest_cart()
    _set(cart, 3)
    clock(ttl + 5)
    line = _set(cart, 2).lines[0]
    assert line.reserved_until is not None
    assert shards()[0]["reserved"] == 2
    assert _sweep().released == 0  # the renewed hold is live


def test_a_lapsed_line_takes_its_stock_again(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None], ttl: int
) -> None:
    cart = _guest_cart()
    _set(cart, 3)
    clock(ttl)
    _sweep()
    assert shards()[0]["reserved"] == 0
    _set(cart, 3)
    assert shards()[0]["reserved"] == 3
    _set(cart, 0)
    assert shards()[0]["reserved"] == 0


def test_a_release_that_loses_to_the_customer_is_skipped(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None], ttl: int
) -> None:
    from commerce.store import holds

    cart = _guest_cart()
    _set(cart, 4)
    clock(ttl + 1)
    found = [h for b in range(16) for h in holds.expired_holds(b, T0 + ttl + 1)]
    assert len(found) == 1
    _set(cart, 0)  # the customer's DELETE wins the race
    assert shards()[0]["reserved"] == 0
    assert holds.release_expired(found[0], T0 + ttl + 1, "2030-01-01T00:00:00Z") is False
    assert shards()[0] == {"on_hand": 10, "reserved": 0, "available": 10}


def test_a_release_cannot_hit_a_line_set_again(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None], ttl: int
) -> None:
    """A stale index entry names an old version and expiry: the new hold is not released."""
    from commerce.store import holds

    cart = _guest_cart()
    _set(cart, 2)
    clock(ttl + 1)
    (stale,) = [h for b in range(16) for h in holds.expired_holds(b, T0 + ttl + 1)]
    _set(cart, 0)
    _set(cart, 2)  # same version number as the stale line, new expiry
    assert holds.release_expired(stale, T0 + 10 * ttl, "2030-01-01T00:00:00Z") is False
    assert shards()[0]["reserved"] == 2


def test_sharded_sku_takes_over_shards_and_gives_back_to_them(
    dynamodb: Any,
    shards: Callable[..., list[dict[str, int]]],
    clock: Callable[[int], None],
    ttl: int,
) -> None:
    _split(dynamodb, SKU, 5)
    cart = _guest_cart()
    _set(cart, 12)
    levels = shards(count=2)
    assert sum(level["reserved"] for level in levels) == 12
    assert all(level["available"] == level["on_hand"] - level["reserved"] for level in levels)
    _set(cart, 4)
    assert sum(level["reserved"] for level in shards(count=2)) == 4
    clock(ttl)
    assert _sweep().released == 1
    assert [level["reserved"] for level in shards(count=2)] == [0, 0]


def test_sharded_out_of_stock_reports_the_sum(
    dynamodb: Any, shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None]
) -> None:
    from commerce.errors import OutOfStock

    _split(dynamodb, SKU, 5)
    cart = _guest_cart()
    with pytest.raises(OutOfStock) as refused:
        _set(cart, 16)
    assert refused.value.available == 15
    assert [level["reserved"] for level in shards(count=2)] == [0, 0]


def test_the_sweeper_stops_before_its_time_is_up(
    shards: Callable[..., list[dict[str, int]]], clock: Callable[[int], None], ttl: int
) -> None:
    from commerce.carts import sweeper

    cart = _guest_cart()
    _set(cart, 1)
    clock(ttl)
    report = sweeper.sweep(T0 + ttl, lambda: 1_000)
    assert report.stopped_early
    assert report.released == 0
    assert shards()[0]["reserved"] == 1
    assert sweeper.sweep(T0 + ttl, lambda: 60_000).released == 1


def test_the_sweeper_pages_through_many_holds(
    create_product: Callable[..., Any],
    shards: Callable[..., list[dict[str, int]]],
    clock: Callable[[int], None],
    ttl: int,
) -> None:
    from commerce.carts import sweeper

    for _ in range(7):
        _set(_guest_cart(), 1)
    clock(ttl)
    report = sweeper.sweep(T0 + ttl, lambda: 60_000, page_size=2)
    assert report.released == 7
    assert shards()[0]["reserved"] == 0
