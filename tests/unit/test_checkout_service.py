"""Checkout's rules over the in-memory books: holds become an order, once, or nothing changes.

``checkout.place`` is the service under Powertools idempotency (tested with it against moto in
tests/integration/test_checkout_api.py); here it runs on ``InMemoryOrderBook`` with the
conditions of the DynamoDB books, so each rule is shown without an emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import patch

import pytest
from commerce import clock
from commerce.domain.guest_tokens import hash_guest_token
from commerce.domain.orders import OrderStatus
from commerce.errors import Conflict, Forbidden, NotFound
from commerce.http.auth import Caller
from commerce.http.gate import admit
from commerce.orders import checkout
from commerce.orders.schemas import PlaceOrderIn
from commerce.store.carts import StoredCart
from concurrency import all_at_once
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from order_fakes import LAPSED, LIVE, OWNER, SWEPT, World, cart, world

pytestmark = pytest.mark.unit

NOW = 1_893_456_000
CUSTOMER = Caller(sub=OWNER, email="buyer@example.com")
GUEST_TOKEN = "g" * 43


@pytest.fixture
def fakes() -> Iterator[World]:
    with world() as fakes, patch.object(clock, "now", lambda: NOW):
        fakes.book.stock("A", 10)
        fakes.book.stock("B", 5)
        yield fakes


def _body(cart_id: str, **extra: object) -> PlaceOrderIn:
    return PlaceOrderIn.model_validate(
        {"cart_id": cart_id, "payment": {"method": "card", "token": "tok_ok"}, **extra}
    )


def _levels(fakes: World, sku: str) -> tuple[int, int]:
    shelf = fakes.book.shelf(sku)
    return shelf.on_hand, shelf.reserved


def _snapshot(fakes: World) -> tuple[object, ...]:
    book = fakes.book
    return (
        dict(book.carts),
        dict(book.orders),
        {k: vars(v).copy() for k, v in book.shelves.items()},
    )


# --- live holds become the order ---------------------------------------------------------------


def test_live_holds_become_a_pending_order_that_holds_exactly_those_units(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (2, LIVE), "B": (1, LIVE)}, now=NOW)
    answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert answer["status"] == "PENDING_PAYMENT"
    assert answer["totals"]["subtotal"] == {"amount": 3000, "currency": "CNY"}
    assert "order_token" not in answer
    order = fakes.order(answer["order_id"])
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert order.reservation == {"A": {0: 2}, "B": {0: 1}}
    assert order.order.owner == OWNER
    # The units stay reserved, now by the order; the cart's lines hold nothing of their own.
    assert (_levels(fakes, "A"), _levels(fakes, "B")) == ((10, 2), (5, 1))
    closed = fakes.book.carts[placed_cart.cart_id]
    assert closed.order_id == answer["order_id"]
    assert all(not line.holds_stock for line in closed.lines)
    # Handed to payments, its marker cleared, its event out.
    assert fakes.queue.sent == [answer["order_id"]]
    assert order.dispatch_pending is False
    assert fakes.event_types() == ["order.pending_payment"]


def test_a_guest_checks_out_with_the_cart_token_and_gets_an_order_token(fakes: World) -> None:
    guest_cart = cart(
        fakes, {"A": (1, LIVE)}, now=NOW, owner=None, token_hash=hash_guest_token(GUEST_TOKEN)
    )
    answer = checkout.place(
        _body(guest_cart.cart_id, email="guest@example.com"), Caller(), GUEST_TOKEN
    )
    order = fakes.order(answer["order_id"])
    assert answer["order_token"]
    assert order.order.order_token_hash == hash_guest_token(answer["order_token"])
    assert order.order.cart_token_hash == hash_guest_token(GUEST_TOKEN)
    assert order.order.email == "guest@example.com"


# --- lapsed holds ------------------------------------------------------------------------------


def test_a_swept_line_takes_its_stock_afresh(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (3, SWEPT)}, now=NOW)
    answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert fakes.order(answer["order_id"]).reservation == {"A": {0: 3}}
    assert _levels(fakes, "A") == (10, 3)


def test_a_lapsed_unswept_line_reuses_the_units_it_still_keeps(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (4, LAPSED)}, now=NOW)
    assert _levels(fakes, "A") == (10, 4)
    answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert fakes.order(answer["order_id"]).reservation == {"A": {0: 4}}
    assert _levels(fakes, "A") == (10, 4)  # nothing taken twice


def test_a_lapsed_line_whose_stock_is_gone_is_409_naming_it_and_nothing_changes(
    fakes: World,
) -> None:
    placed_cart = cart(fakes, {"A": (1, LIVE), "B": (4, SWEPT)}, now=NOW)
    fakes.book.stock("B", 5, reserved=3)  # someone else holds most of B meanwhile
    before = _snapshot(fakes)
    with pytest.raises(Conflict) as refused:
        checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert refused.value.extensions["unavailable"] == [{"sku": "B", "quantity": 4, "available": 2}]
    assert _snapshot(fakes) == before
    assert fakes.queue.sent == []


# --- who may check out, and which carts --------------------------------------------------------


def test_who_may_check_out_a_cart(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (1, LIVE)}, now=NOW)
    before = _snapshot(fakes)
    with pytest.raises(NotFound):
        checkout.place(_body(placed_cart.cart_id), Caller(sub="someone-else"), None)
    with pytest.raises(NotFound):
        checkout.place(_body(placed_cart.cart_id), Caller(), GUEST_TOKEN)
    with pytest.raises(Forbidden):
        checkout.place(
            _body(placed_cart.cart_id),
            admit("POST", "/orders", Caller(sub="agent", groups=frozenset({"support"}))),
            None,
        )
    with pytest.raises(NotFound):
        checkout.place(_body("0" * 32), CUSTOMER, None)
    assert _snapshot(fakes) == before


def test_an_empty_cart_and_a_checked_out_cart_are_409(fakes: World) -> None:
    empty = cart(fakes, {}, now=NOW)
    with pytest.raises(Conflict, match="empty"):
        checkout.place(_body(empty.cart_id), CUSTOMER, None)
    placed_cart = cart(fakes, {"A": (1, LIVE)}, now=NOW)
    checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    with pytest.raises(Conflict, match="already been checked out"):
        checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert len(fakes.book.orders) == 1


# --- races -------------------------------------------------------------------------------------


def _bump(fakes: World, cart_id: str) -> None:
    """What a concurrent request does to the cart: a new version of it."""
    current = fakes.book.carts[cart_id]
    fakes.book.carts[cart_id] = StoredCart(**{**vars(current), "version": current.version + 1})


def test_a_cart_changed_under_the_checkout_is_read_again_and_placed_once(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (2, LIVE)}, now=NOW)
    fakes.book.before_write = lambda read: _bump(fakes, placed_cart.cart_id)
    answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert fakes.book.writes == 1
    assert list(fakes.book.orders) == [answer["order_id"]]
    assert _levels(fakes, "A") == (10, 2)


def test_a_cart_that_keeps_changing_is_answered_409(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (2, LIVE)}, now=NOW)

    def keep_changing(read: object) -> None:
        _bump(fakes, placed_cart.cart_id)
        fakes.book.before_write = keep_changing

    fakes.book.before_write = keep_changing
    with pytest.raises(Conflict, match="kept changing"):
        checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert fakes.book.orders == {}
    assert _levels(fakes, "A") == (10, 2)


def test_a_payment_queue_that_refuses_leaves_the_order_marked_for_the_reconciler(
    fakes: World,
) -> None:
    fakes.queue.refuse = True
    placed_cart = cart(fakes, {"A": (1, LIVE)}, now=NOW)
    answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
    assert fakes.order(answer["order_id"]).dispatch_pending is True
    assert fakes.queue.sent == []


def test_a_checkout_retried_after_its_answer_was_lost_answers_the_same_202(
    fakes: World,
) -> None:
    """The function died after the placement and before the answer (the client saw a 502):
    the retry under the same key finds the cart checked out into its own order and answers the
    first 202, guest token included; the hand-off the first attempt never made is finished;
    nothing is placed twice, and another key on that cart is still 409."""
    guest_cart = cart(
        fakes, {"A": (2, LIVE)}, now=NOW, owner=None, token_hash=hash_guest_token(GUEST_TOKEN)
    )
    body = _body(guest_cart.cart_id, email="guest@example.com")
    fakes.queue.refuse = True  # the first attempt dies before its hand-off to payments
    first = checkout.place(body, Caller(), GUEST_TOKEN, scope="scope-of-key-1")
    assert fakes.queue.sent == []
    fakes.queue.refuse = False
    again = checkout.place(body, Caller(), GUEST_TOKEN, scope="scope-of-key-1")
    assert again == first
    order = fakes.order(first["order_id"])
    assert order.order.order_token_hash == hash_guest_token(first["order_token"])
    assert list(fakes.book.orders) == [first["order_id"]]
    assert fakes.queue.sent == [first["order_id"]]
    assert order.dispatch_pending is False
    assert _levels(fakes, "A") == (10, 2)
    with pytest.raises(Conflict, match="already been checked out"):
        checkout.place(body, Caller(), GUEST_TOKEN, scope="scope-of-key-2")


def test_the_order_id_follows_the_key_and_the_cart(fakes: World) -> None:
    one = checkout.placed_order_id("scope-a", "c" * 32)
    assert one == checkout.placed_order_id("scope-a", "c" * 32)
    assert len({one, checkout.placed_order_id("scope-b", "c" * 32)}) == 2
    assert len({one, checkout.placed_order_id("scope-a", "d" * 32)}) == 2
    placed_cart = cart(fakes, {"A": (1, LIVE)}, now=NOW)
    answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None, scope="scope-a")
    assert answer["order_id"] == checkout.placed_order_id("scope-a", placed_cart.cart_id)


def test_concurrent_checkouts_of_one_cart_place_one_order(fakes: World) -> None:
    placed_cart = cart(fakes, {"A": (3, LIVE), "B": (2, SWEPT)}, now=NOW)
    outcomes = all_at_once(8, lambda: checkout.place(_body(placed_cart.cart_id), CUSTOMER, None))
    answers = [o["order_id"] for o in outcomes if isinstance(o, dict)]
    refusals = [o for o in outcomes if isinstance(o, Exception)]
    assert len(answers) == 1
    assert len(refusals) == 7
    assert all(isinstance(error, Conflict) for error in refusals)
    assert list(fakes.book.orders) == answers
    assert (_levels(fakes, "A"), _levels(fakes, "B")) == ((10, 3), (5, 2))


# --- any cart, any stock -----------------------------------------------------------------------

LINE = st.tuples(st.integers(min_value=1, max_value=6), st.sampled_from([LIVE, LAPSED, SWEPT]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.dictionaries(st.sampled_from(["A", "B", "C"]), LINE, min_size=1, max_size=3),
    taken_meanwhile=st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(0, 8)),
)
def test_a_checkout_holds_exactly_its_lines_or_changes_nothing(
    lines: dict[str, tuple[int, str]], taken_meanwhile: dict[str, int]
) -> None:
    """Whatever the lines' states and whatever other carts took meanwhile: either the order
    holds exactly each line's quantity and no shelf is oversold, or the answer is 409 and
    every cart, order and shelf is as it was."""
    with world() as fakes, patch.object(clock, "now", lambda: NOW):
        for sku in ("A", "B", "C"):
            fakes.book.stock(sku, 8)
        placed_cart = cart(fakes, lines, now=NOW)
        for sku, units in taken_meanwhile.items():
            shelf = fakes.book.shelf(sku)
            fakes.book.stock(
                sku, shelf.on_hand, reserved=min(shelf.on_hand, shelf.reserved + units)
            )
        before = _snapshot(fakes)
        reserved_before = {sku: fakes.book.shelf(sku).reserved for sku in ("A", "B", "C")}
        try:
            answer = checkout.place(_body(placed_cart.cart_id), CUSTOMER, None)
        except Conflict:
            assert _snapshot(fakes) == before
            return
        order = fakes.order(answer["order_id"])
        assert {sku: sum(shards.values()) for sku, shards in order.reservation.items()} == {
            sku: quantity for sku, (quantity, _) in lines.items()
        }
        for sku in ("A", "B", "C"):
            shelf = fakes.book.shelf(sku)
            assert 0 <= shelf.reserved <= shelf.on_hand
            state = lines.get(sku, (0, LIVE))
            grew = shelf.reserved - reserved_before[sku]
            # Only a swept line takes stock again; live and lapsed ones already hold theirs.
            assert grew == (state[0] if state[1] == SWEPT else 0)
