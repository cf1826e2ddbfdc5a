"""Carrier events on an order, over the in-memory order book (the conditions of the DynamoDB
book, no emulator): the trail, each event once, out-of-order arrivals, what moves the order,
what is refused, and what the customer is told."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from commerce.domain.orders import IllegalTransition, OrderStatus
from commerce.domain.tracking import TrackingEvent, TrackingStatus
from commerce.errors import NotFound, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.gate import admit
from commerce.orders import charging, fulfilment
from commerce.orders.schemas import ShipmentIn
from commerce.orders.tracking import OUT_FOR_DELIVERY_EVENT, record_carrier_event
from commerce.store.orders import StoredOrder
from concurrency import all_at_once
from order_fakes import World, world

pytestmark = pytest.mark.unit

T = TrackingStatus
AT = 1_893_456_100
OPS = admit(
    "POST", "/admin/orders/{order_id}/shipments", Caller(sub="ops-1", groups=frozenset({"ops"}))
)
CARRIER = "sf"


#: The clock here: the order is shipped at ``SHIPPED_AT``, its carrier's events arrive at
#: ``ARRIVING_AT`` (events may bear times up to five minutes ahead of it).
SHIPPED_AT = AT - 50
ARRIVING_AT = AT + 250
_now = [ARRIVING_AT]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    _now[0] = ARRIVING_AT
    monkeypatch.setattr("commerce.clock.now", lambda: _now[0])
    with world() as fakes:
        fakes.book.stock("A", 10)
        yield fakes


def shipped(fakes: World) -> StoredOrder:
    """A guest's order, paid and handed to the carrier at ``SHIPPED_AT`` (guests earn no
    points: no ledger); the clock then reads ``ARRIVING_AT``."""
    order = fakes.place({"A": 1}, owner=None)
    _now[0] = SHIPPED_AT
    charging.pay(order.order_id)
    fulfilment.ship_order(order.order_id, ShipmentIn(carrier=CARRIER, tracking_number="SF1"), OPS)
    _now[0] = ARRIVING_AT
    return fakes.order(order.order_id)


def event(
    event_id: str, status: TrackingStatus, at: int, where: str | None = None
) -> TrackingEvent:
    return TrackingEvent(event_id, status, at, where)


def trail(fakes: World, order_id: str) -> list[tuple[str, int]]:
    return [(e.status.value, e.at) for e in fakes.order(order_id).tracking]


def test_each_step_joins_the_trail_and_only_delivered_moves_the_order(fakes: World) -> None:
    order_id = shipped(fakes).order_id
    record_carrier_event(order_id, CARRIER, event("e1", T.IN_TRANSIT, AT, "Hangzhou hub"))
    record_carrier_event(order_id, CARRIER, event("e2", T.EXCEPTION, AT + 10))
    assert fakes.order(order_id).status is OrderStatus.SHIPPED
    done = record_carrier_event(order_id, CARRIER, event("e3", T.DELIVERED, AT + 20, "Door"))
    assert done.status is OrderStatus.DELIVERED
    assert done.order.delivered_at == AT + 20
    assert trail(fakes, order_id) == [
        ("in_transit", AT),
        ("exception", AT + 10),
        ("delivered", AT + 20),
    ]
    assert fakes.order(order_id).tracking[0].location == "Hangzhou hub"


def test_a_late_event_is_placed_by_its_time_even_after_the_delivery(fakes: World) -> None:
    order_id = shipped(fakes).order_id
    record_carrier_event(order_id, CARRIER, event("d", T.DELIVERED, AT + 300))
    record_carrier_event(order_id, CARRIER, event("t", T.IN_TRANSIT, AT))
    record_carrier_event(order_id, CARRIER, event("o", T.OUT_FOR_DELIVERY, AT + 200))
    assert trail(fakes, order_id) == [
        ("in_transit", AT),
        ("out_for_delivery", AT + 200),
        ("delivered", AT + 300),
    ]
    assert fakes.order(order_id).status is OrderStatus.DELIVERED
    # Out for delivery after the parcel arrived is history, not news: nobody is told.
    assert OUT_FOR_DELIVERY_EVENT not in fakes.event_types()


def test_the_same_event_again_changes_nothing(fakes: World) -> None:
    order_id = shipped(fakes).order_id
    record_carrier_event(order_id, CARRIER, event("e1", T.IN_TRANSIT, AT))
    before = fakes.order(order_id)
    writes = fakes.book.writes
    again = record_carrier_event(order_id, CARRIER, event("e1", T.IN_TRANSIT, AT))
    assert again == before
    assert fakes.book.writes == writes
    delivered = record_carrier_event(order_id, CARRIER, event("d", T.DELIVERED, AT + 5))
    assert record_carrier_event(order_id, CARRIER, event("d", T.DELIVERED, AT + 5)) == delivered


def test_a_second_delivery_event_only_joins_the_trail(fakes: World) -> None:
    order_id = shipped(fakes).order_id
    record_carrier_event(order_id, CARRIER, event("d1", T.DELIVERED, AT))
    first = fakes.order(order_id)
    record_carrier_event(order_id, CARRIER, event("d2", T.DELIVERED, AT + 60))
    after = fakes.order(order_id)
    assert after.order.history == first.order.history
    assert after.carrier_event_id == "d1"
    assert [e.event_id for e in after.tracking] == ["d1", "d2"]


def test_out_for_delivery_tells_the_customer_once_per_event(fakes: World) -> None:
    order_id = shipped(fakes).order_id
    record_carrier_event(order_id, CARRIER, event("o1", T.OUT_FOR_DELIVERY, AT, "Xuhui depot"))
    record_carrier_event(order_id, CARRIER, event("o1", T.OUT_FOR_DELIVERY, AT, "Xuhui depot"))
    sent = [e for e in fakes.published.events if e.type == OUT_FOR_DELIVERY_EVENT]
    assert len({e.event_id for e in sent}) == 1  # a resend has the same id: delivered once
    assert sent[0].data["order_id"] == order_id
    assert sent[0].data["location"] == "Xuhui depot"


def test_events_for_no_known_shipment_change_nothing(fakes: World) -> None:
    order = shipped(fakes)
    before = fakes.order(order.order_id)
    with pytest.raises(NotFound):
        record_carrier_event("0" * 32, CARRIER, event("x", T.IN_TRANSIT, AT))
    with pytest.raises(NotFound, match="carrier"):
        record_carrier_event(order.order_id, "zto", event("x", T.IN_TRANSIT, AT))
    with pytest.raises(NotFound, match="tracking number"):
        record_carrier_event(order.order_id, CARRIER, event("x", T.IN_TRANSIT, AT), "OTHER")
    assert fakes.order(order.order_id) == before


def test_an_event_dated_ahead_of_the_clock_or_before_the_shipment_is_refused(
    fakes: World,
) -> None:
    order_id = shipped(fakes).order_id
    before = fakes.order(order_id)
    far = 253_402_214_400  # 9999-12-31: its return window would never close
    for at in (far, ARRIVING_AT + 301, SHIPPED_AT - 1):
        for status in (T.DELIVERED, T.IN_TRANSIT):
            with pytest.raises(ValidationFailed) as refused:
                record_carrier_event(order_id, CARRIER, event(f"bad-{at}", status, at))
            assert [e.field for e in refused.value.errors] == ["at"]
    assert fakes.order(order_id) == before
    # Five minutes ahead is still believed (clocks drift), and so is the shipment's second.
    record_carrier_event(order_id, CARRIER, event("edge-1", T.IN_TRANSIT, SHIPPED_AT))
    done = record_carrier_event(order_id, CARRIER, event("edge-2", T.DELIVERED, ARRIVING_AT + 300))
    assert done.order.delivered_at == ARRIVING_AT + 300


def test_an_order_not_shipped_yet_is_a_conflict(fakes: World) -> None:
    paid = fakes.place({"A": 1}, owner=None)
    charging.pay(paid.order_id)
    before = fakes.order(paid.order_id)
    with pytest.raises(IllegalTransition):
        record_carrier_event(paid.order_id, CARRIER, event("x", T.IN_TRANSIT, AT))
    with pytest.raises(IllegalTransition):
        record_carrier_event(paid.order_id, CARRIER, event("y", T.DELIVERED, AT))
    assert fakes.order(paid.order_id) == before


def test_events_arriving_at_once_all_land(fakes: World) -> None:
    order_id = shipped(fakes).order_id
    numbers = iter(range(6))

    def report() -> StoredOrder:
        n = next(numbers)
        return record_carrier_event(order_id, CARRIER, event(f"e{n}", T.IN_TRANSIT, AT + n))

    results = all_at_once(6, report)
    assert not [r for r in results if isinstance(r, Exception)]
    assert [e.event_id for e in fakes.order(order_id).tracking] == [f"e{n}" for n in range(6)]
