"""Tracking: the trail of a parcel's carrier events, kept on its order.

A carrier reports each step of a shipment (in transit, out for delivery, delivered, an
exception) as an event with its own id, a time and, often, a place. The order keeps them as a
trail in the order they happened, not the order they arrived: carriers resend, and their
events overtake each other, so an event is placed by its time (after the events of the same
time already there) and an event id already on the trail is not added again.

Only ``delivered`` moves the order (SHIPPED -> DELIVERED, ``orders.transition``); the others
are written by a move that keeps the status (``OrderEvent.TRACK``). docs/orders.md, "Tracking".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from commerce.clock import iso
from commerce.errors import Conflict

#: Enough for any parcel's journey; a carrier sending more is refused (409) rather than let
#: the order item grow without bound.
MAX_TRACKING_EVENTS: Final = 100
MAX_LOCATION_CHARS: Final = 200
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


class TrackingStatus(StrEnum):
    """What a carrier event says; the value is the webhook's ``type`` and the wire form."""

    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"


#: The steps the customer is told of as they happen (``delivered`` through the order's own
#: ``order.delivered``; ``out_for_delivery`` by ``order.out_for_delivery``).
ANNOUNCED: Final = frozenset({TrackingStatus.OUT_FOR_DELIVERY})


@dataclass(frozen=True)
class TrackingEvent:
    """One carrier event: its id (unique per carrier), what it says, when (epoch s), where."""

    event_id: str
    status: TrackingStatus
    at: int
    location: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The wire shape of API.md: ``{"status", "at", "location"?}`` (ids stay inside)."""
        body = {"status": self.status.value, "at": iso(self.at)}
        if self.location:
            body["location"] = self.location
        return body


class TrailFull(Conflict):
    """The order already has ``MAX_TRACKING_EVENTS`` carrier events: 409, nothing added."""

    def __init__(self) -> None:
        super().__init__(f"An order keeps at most {MAX_TRACKING_EVENTS} tracking events")


def location_error(location: object) -> str | None:
    """Why ``location`` cannot be kept (None when it can: absent, or plain text within limits)."""
    if location is None:
        return None
    if not isinstance(location, str) or not location.strip():
        return "must be non-empty text"
    if len(location) > MAX_LOCATION_CHARS:
        return f"must be at most {MAX_LOCATION_CHARS} characters"
    if _CONTROL_RE.search(location):
        return "must not contain control characters"
    return None


def recorded(trail: Sequence[TrackingEvent], event_id: str) -> bool:
    """Whether the trail already holds the carrier event ``event_id``."""
    return any(e.event_id == event_id for e in trail)


def with_event(trail: Sequence[TrackingEvent], event: TrackingEvent) -> tuple[TrackingEvent, ...]:
    """The trail with ``event`` placed by its time, after the events of the same time; the
    trail unchanged when it already holds the event's id. ``TrailFull`` when there is no room."""
    if recorded(trail, event.event_id):
        return tuple(trail)
    if len(trail) >= MAX_TRACKING_EVENTS:
        raise TrailFull()
    index = len(trail)
    while index > 0 and trail[index - 1].at > event.at:
        index -= 1
    return (*trail[:index], event, *trail[index:])


def latest(trail: Sequence[TrackingEvent]) -> TrackingEvent | None:
    """The most recent step (the last by time), or None before the first event."""
    return trail[-1] if trail else None
