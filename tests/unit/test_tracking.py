"""The tracking trail: carrier events by their time, each once, however they arrive."""

from __future__ import annotations

import pytest
from commerce.domain.tracking import (
    MAX_TRACKING_EVENTS,
    TrackingEvent,
    TrackingStatus,
    TrailFull,
    latest,
    location_error,
    recorded,
    with_event,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

T = TrackingStatus
AT = 1_790_000_000


def ev(event_id: str, at: int, status: TrackingStatus = T.IN_TRANSIT) -> TrackingEvent:
    return TrackingEvent(event_id, status, at)


def test_an_event_is_placed_by_its_time_not_its_arrival() -> None:
    trail = with_event((), ev("a", AT))
    trail = with_event(trail, ev("c", AT + 200, T.DELIVERED))
    trail = with_event(trail, ev("b", AT + 100, T.OUT_FOR_DELIVERY))  # late
    assert [e.event_id for e in trail] == ["a", "b", "c"]
    assert latest(trail) == ev("c", AT + 200, T.DELIVERED)
    assert latest(()) is None


def test_events_of_the_same_time_keep_their_arrival_order() -> None:
    trail = with_event(with_event((), ev("first", AT)), ev("second", AT))
    assert [e.event_id for e in trail] == ["first", "second"]


def test_an_event_id_already_on_the_trail_changes_nothing() -> None:
    trail = with_event((), ev("a", AT))
    again = with_event(trail, ev("a", AT + 999, T.EXCEPTION))
    assert again == trail
    assert recorded(trail, "a")
    assert not recorded(trail, "b")


def test_a_full_trail_refuses_more() -> None:
    trail = tuple(ev(f"e{n}", AT + n) for n in range(MAX_TRACKING_EVENTS))
    with pytest.raises(TrailFull) as refused:
        with_event(trail, ev("one-more", AT))
    assert refused.value.status == 409
    assert with_event(trail, ev("e0", AT)) == trail  # a resend still changes nothing


def test_the_wire_shape_leaves_the_id_inside() -> None:
    assert TrackingEvent("x", T.OUT_FOR_DELIVERY, AT, "Shanghai").to_dict() == {
        "status": "out_for_delivery",
        "at": "2026-09-21T14:13:20Z",
        "location": "Shanghai",
    }
    assert TrackingEvent("x", T.IN_TRANSIT, AT).to_dict() == {
        "status": "in_transit",
        "at": "2026-09-21T14:13:20Z",
    }


@pytest.mark.parametrize(
    ("location", "ok"),
    [
        (None, True),
        ("上海市徐汇区", True),
        ("", False),
        ("  ", False),
        ("x" * 201, False),
        ("a\nb", False),
        (7, False),
    ],
)
def test_locations(location: object, ok: bool) -> None:
    assert (location_error(location) is None) is ok


events = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=5)),
    max_size=20,
)


@given(events)
def test_any_arrival_order_gives_one_entry_per_id_in_time_order(
    arrivals: list[tuple[str, int]],
) -> None:
    trail: tuple[TrackingEvent, ...] = ()
    first_time: dict[str, int] = {}
    for event_id, offset in arrivals:
        trail = with_event(trail, ev(event_id, AT + offset))
        first_time.setdefault(event_id, AT + offset)
    assert sorted(e.event_id for e in trail) == sorted(first_time)
    assert {e.event_id: e.at for e in trail} == first_time  # the first arrival of an id counts
    assert [e.at for e in trail] == sorted(e.at for e in trail)


@given(events)
def test_the_same_events_in_any_order_make_the_same_times(arrivals: list[tuple[str, int]]) -> None:
    distinct = list({event_id: offset for event_id, offset in reversed(arrivals)}.items())
    forward: tuple[TrackingEvent, ...] = ()
    backward: tuple[TrackingEvent, ...] = ()
    for event_id, offset in distinct:
        forward = with_event(forward, ev(event_id, AT + offset))
    for event_id, offset in reversed(distinct):
        backward = with_event(backward, ev(event_id, AT + offset))
    assert [e.at for e in forward] == [e.at for e in backward]
    assert sorted(forward, key=lambda e: e.event_id) == sorted(backward, key=lambda e: e.event_id)
