"""An erased customer's open order, anonymised by the move that closes it, over the in-memory
order book (the conditions of the DynamoDB book, no emulator).

Erasure marks each open order ``erase_on_close`` (``InMemoryOrderBook.mark_erase_on_close``
does what ``store.orders.settle_for_erasure`` does); the delivery, the cancel, the declined
payment and the refunded return are then each written on the order as erasure leaves it: no
owner, email, address, payment token or tracking number of the customer's, and nothing written
under the customer (points earned, restored or reversed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from commerce.domain.orders import OrderEvent, OrderStatus, advance
from commerce.domain.privacy import ERASED_EMAIL, ERASED_OWNER, ERASED_PHONE, ERASED_TEXT
from commerce.domain.shipping_address import ShippingAddress
from commerce.domain.tracking import TrackingEvent, TrackingStatus
from commerce.http.auth import Caller
from commerce.http.gate import admit
from commerce.orders import cancel, charging, fulfilment, returns
from commerce.orders.book import NO_EFFECTS
from commerce.orders.schemas import ReturnIn, ShipmentIn
from commerce.orders.tracking import record_carrier_event
from commerce.store.orders import StoredOrder
from order_builders import OWNER, URUMQI
from order_fakes import World, world

pytestmark = pytest.mark.unit

_OPS = Caller(sub="ops-1", groups=frozenset({"ops"}))
#: Ops as each route admits them (the reach their role gives on it).
SHIPS = admit("POST", "/admin/orders/{order_id}/shipments", _OPS)
CANCELS = admit("POST", "/orders/{order_id}/cancel", _OPS)
RECEIVES = admit("POST", "/admin/orders/{order_id}/returns/{return_id}/receive", _OPS)
CUSTOMER = Caller(sub=OWNER, groups=frozenset({"customer"}))
AT = 1_893_456_100
_now = [AT]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world, with the clock at ``AT`` and every write of the points ledger refused: an
    erased customer's order must never write under them again."""
    _now[0] = AT
    monkeypatch.setattr("commerce.clock.now", lambda: _now[0])

    def no_ledger(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"points written for an erased customer: {args}")

    monkeypatch.setattr("commerce.store.points.record", no_ledger)
    monkeypatch.setattr("commerce.store.points.record_once", no_ledger)
    with world() as fakes:
        fakes.book.stock("A", 10)
        yield fakes


def _placed(fakes: World, token: str = "tok_ok") -> StoredOrder:  # noqa: S107 - sandbox token
    """The customer's order of 2 x A to Urumqi, pending payment."""
    placed = fakes.place({"A": 2}, token=token)
    addressed = replace(placed.order, shipping_address=ShippingAddress(**URUMQI))
    fakes.book.add(replace(placed, order=addressed))
    return fakes.order(placed.order_id)


def _paid(fakes: World) -> str:
    order_id = _placed(fakes).order_id
    charging.pay(order_id)
    assert fakes.order(order_id).status is OrderStatus.PAID
    return order_id


def _shipped(fakes: World) -> str:
    order_id = _paid(fakes)
    fulfilment.ship_order(order_id, ShipmentIn(carrier="sf", tracking_number="SF9876543210"), SHIPS)
    return order_id


def assert_anonymised(stored: StoredOrder) -> None:
    order = stored.order
    assert (order.owner, order.email) == (ERASED_OWNER, ERASED_EMAIL)
    assert order.shipping_address is not None
    address = order.shipping_address
    assert (address.name, address.line1, address.phone) == (ERASED_TEXT, ERASED_TEXT, ERASED_PHONE)
    assert (address.city, address.region) == ("Urumqi", "Xinjiang")  # kept for the accounts
    assert stored.payment_token is None
    assert stored.tracking_number is None
    assert not stored.erase_on_close


def assert_still_theirs(stored: StoredOrder) -> None:
    assert stored.order.owner == OWNER
    assert stored.order.email == "buyer@example.com"
    assert stored.erase_on_close


def test_the_delivery_anonymises_the_order_earns_no_points_and_makes_no_buyer(
    fakes: World,
) -> None:
    order_id = _shipped(fakes)
    fakes.book.mark_erase_on_close(order_id)
    before = fakes.order(order_id)
    reported = TrackingEvent("ev-1", TrackingStatus.DELIVERED, AT + 10, "Door")
    delivered = record_carrier_event(order_id, "sf", reported)
    assert delivered.status is OrderStatus.DELIVERED
    stored = fakes.order(order_id)
    assert_anonymised(stored)
    # The accounts are untouched: what was bought, what it cost, how it went.
    assert stored.order.lines == before.order.lines
    assert stored.order.totals == before.order.totals
    assert stored.order.payment == before.order.payment
    assert [e.status for e in stored.order.history][-1] is OrderStatus.DELIVERED
    assert stored.tracking[-1].location == "Door"
    assert fakes.event_types()[-1] == "order.delivered"
    assert OWNER not in repr(fakes.published.events[-1])
    assert fakes.sales.buyers == set()  # nobody is left to review what was delivered


def test_the_moves_before_the_close_leave_the_order_to_its_customer(fakes: World) -> None:
    """Paying and shipping need the customer's address and email: the order keeps them, and
    its mark, until the move that closes it."""
    placed = _placed(fakes)
    fakes.book.mark_erase_on_close(placed.order_id)
    charging.pay(placed.order_id)
    assert_still_theirs(fakes.order(placed.order_id))
    fulfilment.ship_order(placed.order_id, ShipmentIn(carrier="sf", tracking_number="SF1"), SHIPS)
    shipped = fakes.order(placed.order_id)
    assert_still_theirs(shipped)
    assert shipped.tracking_number == "SF1"
    assert shipped.order.shipping_address is not None
    assert shipped.order.shipping_address.name == URUMQI["name"]


def test_cancelling_a_paid_order_anonymises_it_refunds_and_restocks(fakes: World) -> None:
    order_id = _paid(fakes)
    fakes.book.mark_erase_on_close(order_id)
    out = cancel.cancel_order(order_id, CANCELS, ())
    assert out.status == "CANCELLED"
    assert_anonymised(fakes.order(order_id))
    assert fakes.net_charged(order_id) == 0
    assert fakes.book.shelf("A").on_hand == 10
    assert order_id in fakes.book.perks_returned  # the coupon's own count still comes back


def test_a_declined_payment_anonymises_the_order_and_releases_its_stock(fakes: World) -> None:
    placed = _placed(fakes, token="tok_declined")
    fakes.book.mark_erase_on_close(placed.order_id)
    charging.pay(placed.order_id)
    stored = fakes.order(placed.order_id)
    assert stored.status is OrderStatus.PAYMENT_FAILED
    assert_anonymised(stored)
    assert fakes.book.shelf("A").reserved == 0


def test_a_refunded_return_anonymises_the_order_and_reverses_no_points(fakes: World) -> None:
    order_id = _shipped(fakes)
    current = fakes.order(order_id)
    delivered = advance(current.order, OrderEvent.DELIVER, AT)
    assert fakes.book.write(current, delivered, NO_EFFECTS, at="2030-01-01T00:00:40.000000Z")
    body = ReturnIn.model_validate({"lines": [{"sku": "A", "quantity": 1}], "reason": "quality"})
    return_id = returns.request_return(order_id, body, CUSTOMER, ()).return_id
    fakes.book.mark_erase_on_close(order_id)
    out = returns.receive_return(order_id, return_id, RECEIVES)
    assert out.status == "REFUNDED"
    stored = fakes.order(order_id)
    assert_anonymised(stored)
    received = fakes.book.load_return(order_id, return_id)
    assert received is not None
    assert received.reversal is None  # nobody to take points back from
    assert fakes.net_charged(order_id) == stored.order.totals.total.amount - 1000


def test_an_erasure_landing_between_a_cancel_s_read_and_write_still_anonymises(
    fakes: World,
) -> None:
    """The mark moves the order's version on, so a cancel decided on the order as read before
    it fails its condition and is decided again on the marked order: one write, anonymised."""
    order_id = _placed(fakes).order_id
    fakes.book.before_write = lambda target: fakes.book.mark_erase_on_close(order_id)
    writes = fakes.book.writes
    cancel.cancel_order(order_id, CANCELS, ())
    assert fakes.book.writes == writes + 1
    stored = fakes.order(order_id)
    assert stored.status is OrderStatus.CANCELLED
    assert_anonymised(stored)


def test_an_order_not_marked_is_closed_as_ever(fakes: World) -> None:
    order_id = _paid(fakes)
    cancel.cancel_order(order_id, CANCELS, ())
    stored = fakes.order(order_id)
    assert stored.order.owner == OWNER
    assert stored.order.email == "buyer@example.com"
    assert stored.payment_token == "tok_ok"
