"""The idle-carts index against moto: which cart headers are in gsi1's IDLE# partitions, under
which key, after each write that changes a cart; and that they never reach the holds' HOLDS#
partitions the sweeper reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from commerce.settings import get_settings
from commerce.store import carts, coupons, keys
from commerce.store.carts import StoredCart
from commerce.store.tables.carts import CartModel
from commerce.store.transactions import LabelledTransaction

pytestmark = pytest.mark.integration

NOW = 1_893_456_000
T1, T2, T3, T4 = (f"2030-01-01T00:00:0{n}.000000Z" for n in range(1, 5))


def idle_index(client: Any) -> dict[str, str]:
    """cart_id -> gsi1sk of every item in the IDLE# partitions, read with the raw client."""
    found: dict[str, str] = {}
    for bucket in range(keys.IDLE_BUCKETS):
        pages = client.get_paginator("query").paginate(
            TableName=get_settings().carts_table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.idle_gsi1pk(bucket)}},
        )
        for page in pages:
            for item in page["Items"]:
                assert item["sk"]["S"] == keys.CART_SK, item  # headers only
                found[item["cart_id"]["S"]] = item["gsi1sk"]["S"]
    return found


def stored(cart_id: str) -> StoredCart:
    cart = carts.load(cart_id)
    assert cart is not None
    return cart


def touch(cart_id: str, at: str) -> None:
    tx = LabelledTransaction()
    carts.touch(tx, stored(cart_id), at=at, now=NOW)
    assert tx.commit() == []


def header(cart_id: str) -> CartModel:
    return CartModel.get(keys.cart_pk(cart_id), keys.CART_SK, consistent_read=True)


def test_a_signed_in_cart_enters_the_index_at_creation_and_a_guest_cart_never(
    dynamodb: Any,
) -> None:
    carts.create("c-signed", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)
    carts.create("c-guest", owner_sub=None, token_hash="a" * 64, at=T1, now=NOW)
    touch("c-guest", T2)

    assert idle_index(dynamodb) == {"c-signed": f"{T1}#c-signed"}
    assert header("c-signed").gsi1pk == keys.idle_gsi1pk(keys.idle_bucket("c-signed"))


def test_every_change_moves_the_key_to_the_new_change_time(dynamodb: Any) -> None:
    carts.create("c-1", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)

    touch("c-1", T2)  # a line change commits this header update in its transaction
    assert idle_index(dynamodb) == {"c-1": f"{T2}#c-1"}

    address = {"name": "Li Lei", "line1": "88 Century Avenue", "city": "Shanghai"}
    assert carts.set_shipping_address(stored("c-1"), address, at=T3, now=NOW)
    assert idle_index(dynamodb) == {"c-1": f"{T3}#c-1"}

    assert coupons.set_cart_coupons(stored("c-1"), ["WELCOME"], at=T4, now=NOW)
    assert idle_index(dynamodb) == {"c-1": f"{T4}#c-1"}
    assert header("c-1").gsi2sk == T4  # the owner index follows the same change time


def test_a_claimed_guest_cart_enters_the_index(dynamodb: Any) -> None:
    carts.create("c-1", owner_sub=None, token_hash="a" * 64, at=T1, now=NOW)
    assert idle_index(dynamodb) == {}

    assert carts.claim(stored("c-1"), "sub-a", at=T2, now=NOW)

    assert idle_index(dynamodb) == {"c-1": f"{T2}#c-1"}


def test_checkout_takes_the_cart_out(dynamodb: Any) -> None:
    carts.create("c-1", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)
    tx = LabelledTransaction()
    carts.check_out(tx, stored("c-1"), "ord-1", at=T2, now=NOW)
    assert tx.commit() == []

    assert idle_index(dynamodb) == {}
    assert header("c-1").gsi1sk is None


def test_a_reminded_cart_leaves_the_index_and_stays_out_after_changes(dynamodb: Any) -> None:
    carts.create("c-1", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)
    [idle] = carts.idle_signed_in_carts(T2)

    assert carts.mark_reminded(idle, at=T2)
    assert idle_index(dynamodb) == {}
    touch("c-1", T3)

    assert idle_index(dynamodb) == {}
    assert header("c-1").updated_at == T3


def test_giving_the_mark_back_puts_the_cart_back_under_its_current_change_time(
    dynamodb: Any,
) -> None:
    carts.create("c-1", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)
    [idle] = carts.idle_signed_in_carts(T2)
    assert carts.mark_reminded(idle, at=T2)
    touch("c-1", T3)  # changed while marked: the change saw a reminded cart, left the keys out

    assert carts.unmark_reminded(idle, at=T2)

    assert idle_index(dynamodb) == {"c-1": f"{T3}#c-1"}
    assert header("c-1").reminded_at is None
    assert not carts.unmark_reminded(idle, at=T2)  # nothing left to give back


def test_the_query_returns_only_carts_last_changed_before_the_cutoff(dynamodb: Any) -> None:
    for cart_id, at in (("c-old", T1), ("c-at-cutoff", T2), ("c-new", T3)):
        carts.create(cart_id, owner_sub="sub-a", token_hash=None, at=at, now=NOW)

    found = list(carts.idle_signed_in_carts(T2, page_size=1))

    assert [(c.cart_id, c.owner_sub, c.updated_at) for c in found] == [("c-old", "sub-a", T1)]


def test_dropping_a_cart_holds_only_until_its_next_change(dynamodb: Any) -> None:
    carts.create("c-1", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)
    [idle] = carts.idle_signed_in_carts(T2)

    assert carts.drop_idle(idle)
    assert idle_index(dynamodb) == {}
    assert not carts.drop_idle(idle)  # already out: the condition refuses a second time

    touch("c-1", T3)
    assert idle_index(dynamodb) == {"c-1": f"{T3}#c-1"}


def test_dropping_a_cart_changed_since_it_was_found_leaves_it_in(dynamodb: Any) -> None:
    carts.create("c-1", owner_sub="sub-a", token_hash=None, at=T1, now=NOW)
    [idle] = carts.idle_signed_in_carts(T2)
    touch("c-1", T3)

    assert not carts.drop_idle(idle)

    assert idle_index(dynamodb) == {"c-1": f"{T3}#c-1"}


def test_a_header_written_before_the_index_joins_it_on_its_next_change(dynamodb: Any) -> None:
    CartModel(
        keys.cart_pk("c-old"),
        keys.CART_SK,
        cart_id="c-old",
        owner_sub="sub-a",
        coupons=[],
        version=1,
        created_at=T1,
        updated_at=T1,
        ttl=NOW,
        gsi2pk=keys.owner_gsi2pk("sub-a"),
        gsi2sk=T1,
    ).save()
    assert list(carts.idle_signed_in_carts(T4)) == []

    touch("c-old", T2)

    assert [c.cart_id for c in carts.idle_signed_in_carts(T4)] == ["c-old"]


def test_the_holds_partitions_hold_only_lines(
    dynamodb: Any, create_product: Callable[..., Any]
) -> None:
    from commerce.carts import service
    from commerce.http.auth import Caller
    from commerce.store import holds

    create_product(("IDLE-HOLD-1", 5))
    caller = Caller(sub="sub-a")
    cart = service.create_cart(caller)
    service.set_item(cart.cart_id, "IDLE-HOLD-1", 2, caller, None)
    assert set(idle_index(dynamodb)) == {cart.cart_id}  # the header, through the line's change

    far = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
    found = [h for b in range(keys.HOLD_BUCKETS) for h in holds.expired_holds(b, far)]

    assert [(h.cart_id, h.line.sku, h.line.quantity) for h in found] == [
        (cart.cart_id, "IDLE-HOLD-1", 2)
    ]
