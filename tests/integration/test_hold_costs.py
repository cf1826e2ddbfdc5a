"""What a hold and a refusal cost in DynamoDB requests, through the cart handler on moto.

Issue #13's promises, counted call by call as DynamoDB would bill them (the ``sent`` fixture):

- a guest's hold of a one-shard SKU is three requests: one BatchGetItem (offer, shard, meta,
  line, zones), the cart's Query, one TransactWriteItems; a signed-in customer's batch also
  asks the erasure tombstone, and the member tier's Query (the reply's totals) makes four; a
  cart with other lines adds one BatchGetItem of their current prices (the reply shows every
  line at today's price);
- a refusal of a sold-out SKU is that one BatchGetItem, and nothing at all while this
  instance's sold-out mark from the last second stands; once the mark is older than
  ``sold_out.MARK_SECONDS`` the next refusal reads again (time moved by a fake clock); a
  signed-in customer's refusal costs the same;
- a mark never refuses a removal; it does refuse a decrease (any quantity above 0), which
  this file states as today's behaviour;
- on a four-shard SKU a hold reads the one shard its cart prefers and the SKU's meta at most
  once a second; a dry preferred shard costs one more read, of every shard, and the hold
  succeeds from another;
- the reply is built from what was read and written (the zones and prices of the batch read,
  the line as written, the other lines' prices read for it) and equals a fresh ``GET``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from commerce.carts import sold_out
from commerce.domain.reservations import preferred_shard
from commerce.store import inventory
from dynamodb_calls import Sent, inventory_keys, operations
from http_problems import assert_problem
from monotonic_clock import MonotonicClock, drive
from orders_world import EVENTS, Shop, event, guest_headers, invoke

pytestmark = pytest.mark.integration


ONE = "COST-1"  # one shard, 5 units
NONE_LEFT = "COST-0"  # one shard, nothing on hand
WIDE = "COST-4"  # four shards of 5 units each


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((ONE, 5), (NONE_LEFT, 0), (WIDE, 20), price=1000)
    inventory.set_shard_count(WIDE, 4)
    inventory.forget_seen()  # the reshard's read must not spare the holds theirs
    return shop


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> MonotonicClock:
    """The clock of the sold-out marks and of the remembered metas (nothing else's)."""
    return drive(monkeypatch, sold_out, inventory)


def _shard_row(sku: str, shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"STOCK#{sku}#{shard:02d}"}, "sk": {"S": "STOCK"}}


def _levels(shop: Shop, sku: str, count: int) -> list[tuple[int, int]]:
    """(on_hand, reserved) of each shard, read straight from the table."""
    found = []
    for shard in range(count):
        item = shop.dynamodb.get_item(
            TableName=os.environ["INVENTORY_TABLE"], Key=_shard_row(sku, shard), ConsistentRead=True
        )["Item"]
        found.append((int(item["on_hand"]["N"]), int(item["reserved"]["N"])))
    return found


def _empty(shop: Shop, sku: str, shard: int) -> None:
    """Take a shard's units away (on hand 0): what other carts' holds and orders leave."""
    shop.dynamodb.update_item(
        TableName=os.environ["INVENTORY_TABLE"],
        Key=_shard_row(sku, shard),
        UpdateExpression="SET on_hand = :z, available = :z",
        ExpressionAttributeValues={":z": {"N": "0"}},
    )


def _get(shop: Shop, cart_id: str, who: str | None, token: str | None) -> dict[str, Any]:
    reply = invoke(
        shop.cart,
        event("cart_get.json", who=who, params={"cart_id": cart_id}, headers=guest_headers(token)),
    )
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


# --- one-shard holds ---------------------------------------------------------------------------


def test_a_guest_hold_is_a_batch_read_the_cart_query_and_one_transaction(
    shop: Shop, sent: Sent
) -> None:
    cart_id, token = shop.new_cart()
    sent.clear()
    reply = shop.set_line(cart_id, ONE, 2, token=token)
    assert reply.status == 200, reply.body
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems"]
    assert shop.stock(ONE) == {"on_hand": 5, "reserved": 2, "available": 3}


def test_a_customer_hold_adds_the_tier_query_and_reads_the_tombstone_in_its_batch(
    shop: Shop, sent: Sent
) -> None:
    cart_id, _ = shop.new_cart("customer")
    sent.clear()
    reply = shop.set_line(cart_id, ONE, 1, who="customer")
    assert reply.status == 200, reply.body
    tables = [params.get("TableName") for _, params in sent]
    assert operations(sent) == [
        "BatchGetItem",  # the erasure tombstone rides in the hold's one batch read
        "Query",  # the cart
        "TransactWriteItems",
        "Query",  # the member tier, for the reply's totals
    ]
    assert os.environ["CUSTOMERS_TABLE"] in sent[0][1]["RequestItems"]
    assert tables[1] == os.environ["CARTS_TABLE"]
    assert tables[3] == os.environ["ORDERS_TABLE"]


def test_a_cart_with_other_lines_adds_one_read_of_their_current_prices(
    shop: Shop, sent: Sent
) -> None:
    cart_id, token = shop.cart_with({WIDE: 1})
    sent.clear()
    assert shop.set_line(cart_id, ONE, 1, token=token).status == 200
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems", "BatchGetItem"]
    assert list(sent[3][1]["RequestItems"]) == [os.environ["CATALOG_TABLE"]]


@pytest.mark.parametrize("who", [None, "customer"])
def test_the_reply_equals_a_fresh_read_of_the_cart(shop: Shop, who: str | None) -> None:
    cart_id, token = shop.cart_with({WIDE: 2}, who=who)
    address = json.loads((EVENTS / "cart_set_shipping_address.json").read_text())["body"]
    addressed = invoke(
        shop.cart,
        event(
            "cart_set_shipping_address.json",
            who=who,
            body=json.loads(address),
            params={"cart_id": cart_id},
            headers=guest_headers(token),
        ),
    )
    assert addressed.status == 200, addressed.body
    reply = shop.set_line(cart_id, ONE, 3, who=who, token=token)
    assert reply.status == 200, reply.body
    assert [line["sku"] for line in reply.body["lines"]] == [ONE, WIDE]
    assert reply.body["shipping_address"]["city"] == "Shanghai"
    assert reply.body["totals"]["shipping"]["amount"] >= 0
    assert reply.body == _get(shop, cart_id, who, token)
    removed = shop.set_line(cart_id, WIDE, 0, who=who, token=token)
    assert removed.status == 200, removed.body
    assert removed.body == _get(shop, cart_id, who, token)


# --- refusals and the sold-out mark ------------------------------------------------------------


def test_a_refusal_reads_once_then_nothing_while_the_mark_stands(
    shop: Shop, sent: Sent, clock: MonotonicClock
) -> None:
    cart_id, token = shop.new_cart()
    sent.clear()
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, token=token), 409, "out-of-stock")
    assert operations(sent) == ["BatchGetItem"]
    sent.clear()
    clock.now += sold_out.MARK_SECONDS  # a mark read exactly a second ago still stands
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, token=token), 409, "out-of-stock")
    other_id, other_token = shop.new_cart()
    sent.clear()
    assert_problem(shop.set_line(other_id, NONE_LEFT, 4, token=other_token), 409, "out-of-stock")
    assert sent == []
    clock.now += 0.001  # older than the mark's second: read again
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, token=token), 409, "out-of-stock")
    assert operations(sent) == ["BatchGetItem"]


def test_a_customers_refusal_costs_what_a_guests_does(shop: Shop, sent: Sent) -> None:
    """The tombstone is asked in the hold's batch, so a signed-in refusal is one request, then
    none while the mark stands (the mark refuses before anything is read)."""
    cart_id, _ = shop.new_cart("customer")
    sent.clear()
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, who="customer"), 409, "out-of-stock")
    assert operations(sent) == ["BatchGetItem"]
    assert os.environ["CUSTOMERS_TABLE"] in sent[0][1]["RequestItems"]
    sent.clear()
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, who="customer"), 409, "out-of-stock")
    assert sent == []


def test_a_mark_lifts_when_stock_comes_back_after_its_second(
    shop: Shop,
    sent: Sent,
    clock: MonotonicClock,
    call_inventory: Callable[..., Any],
    make_event: Any,
) -> None:
    cart_id, token = shop.new_cart()
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, token=token), 409, "out-of-stock")
    restock = make_event(
        "inventory_adjust.json",
        role="ops",
        body={"delta": 3, "reason": "restock"},
        path_params={"sku": NONE_LEFT},
    )
    assert call_inventory(restock).status == 200
    # The mark is believed for its second (a stale mark only refuses) ...
    assert_problem(shop.set_line(cart_id, NONE_LEFT, 1, token=token), 409, "out-of-stock")
    clock.now += sold_out.MARK_SECONDS + 0.001
    # ... then the next request reads and holds.
    assert shop.set_line(cart_id, NONE_LEFT, 1, token=token).status == 200
    assert shop.stock(NONE_LEFT)["reserved"] == 1


def test_a_removal_is_never_refused_by_a_mark_and_a_decrease_is(
    shop: Shop, clock: MonotonicClock
) -> None:
    holder_id, holder_token = shop.cart_with({ONE: 5})  # every unit held: sold out
    buyer_id, buyer_token = shop.new_cart()
    assert_problem(shop.set_line(buyer_id, ONE, 1, token=buyer_token), 409, "out-of-stock")
    assert sold_out.marked(ONE)  # the clock stands still: the mark stands throughout
    # A decrease needs no stock, but the mark refuses any quantity above 0 before reading.
    refused = shop.set_line(holder_id, ONE, 4, token=holder_token)
    assert_problem(refused, 409, "out-of-stock")
    assert shop.stock(ONE)["reserved"] == 5
    # Quantity 0 is a removal: it is not refused, releases the units and lifts the mark.
    removed = shop.set_line(holder_id, ONE, 0, token=holder_token)
    assert removed.status == 200, removed.body
    assert removed.body["lines"] == []
    assert not sold_out.marked(ONE)
    assert shop.set_line(buyer_id, ONE, 1, token=buyer_token).status == 200
    assert shop.stock(ONE) == {"on_hand": 5, "reserved": 1, "available": 4}


def test_a_delete_is_never_refused_by_a_mark(shop: Shop, clock: MonotonicClock) -> None:
    holder_id, holder_token = shop.cart_with({ONE: 5})
    buyer_id, buyer_token = shop.new_cart()
    assert_problem(shop.set_line(buyer_id, ONE, 1, token=buyer_token), 409, "out-of-stock")
    assert sold_out.marked(ONE)  # the clock stands still: the mark stands throughout
    params = {"cart_id": holder_id, "sku": ONE}
    reply = invoke(
        shop.cart,
        event("cart_remove_item.json", params=params, headers=guest_headers(holder_token)),
    )
    assert reply.status == 200, reply.body
    assert shop.stock(ONE)["reserved"] == 0


# --- four shards ---------------------------------------------------------------------------------


def test_a_hold_reads_one_shard_and_the_meta_at_most_once_a_second(
    shop: Shop, sent: Sent, clock: MonotonicClock
) -> None:
    carts = [shop.new_cart() for _ in range(3)]
    meta = f"SKU#{WIDE}"
    sent.clear()
    (first_id, first_token), (second_id, second_token), (third_id, third_token) = carts
    assert shop.set_line(first_id, WIDE, 1, token=first_token).status == 200
    # The shard count is not known yet: shard 0, which every SKU has, and the meta.
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems"]
    assert inventory_keys(sent[0][1]) == [meta, f"STOCK#{WIDE}#00"]
    sent.clear()
    assert shop.set_line(second_id, WIDE, 1, token=second_token).status == 200
    preferred = preferred_shard(second_id, 4)
    assert operations(sent) == ["BatchGetItem", "Query", "TransactWriteItems"]
    assert inventory_keys(sent[0][1]) == [f"STOCK#{WIDE}#{preferred:02d}"]  # the meta is fresh
    clock.now += inventory.META_SECONDS + 0.001
    sent.clear()
    assert shop.set_line(third_id, WIDE, 1, token=third_token).status == 200
    preferred = preferred_shard(third_id, 4)
    assert inventory_keys(sent[0][1]) == [meta, f"STOCK#{WIDE}#{preferred:02d}"]
    assert shop.stock(WIDE)["reserved"] == 3


def test_a_dry_preferred_shard_costs_one_more_read_and_the_hold_takes_elsewhere(
    shop: Shop, sent: Sent, clock: MonotonicClock
) -> None:
    cart_id, token = shop.new_cart()
    preferred = preferred_shard(cart_id, 4)
    _empty(shop, WIDE, preferred)
    inventory.read_shards(WIDE)  # the shard count is known: the hold reads its cart's shard
    sent.clear()
    reply = shop.set_line(cart_id, WIDE, 2, token=token)
    assert reply.status == 200, reply.body
    assert operations(sent) == ["BatchGetItem", "BatchGetItem", "Query", "TransactWriteItems"]
    assert inventory_keys(sent[0][1]) == sorted([f"SKU#{WIDE}", f"STOCK#{WIDE}#{preferred:02d}"])
    assert len(inventory_keys(sent[1][1])) == 5  # the meta and every shard
    levels = _levels(shop, WIDE, 4)
    assert levels[preferred] == (0, 0)
    assert sum(reserved for _, reserved in levels) == 2
    assert reply.body["lines"][0]["quantity"] == 2


def test_a_sold_out_sharded_sku_is_refused_after_reading_every_shard_once(
    shop: Shop, sent: Sent, clock: MonotonicClock
) -> None:
    for shard in range(4):
        _empty(shop, WIDE, shard)
    cart_id, token = shop.new_cart()
    sent.clear()
    assert_problem(shop.set_line(cart_id, WIDE, 1, token=token), 409, "out-of-stock")
    # One shard and the meta, then the rest: two requests the first time ...
    assert operations(sent) == ["BatchGetItem", "BatchGetItem"]
    sent.clear()
    # ... and none while the mark stands.
    assert_problem(shop.set_line(cart_id, WIDE, 1, token=token), 409, "out-of-stock")
    assert sent == []
