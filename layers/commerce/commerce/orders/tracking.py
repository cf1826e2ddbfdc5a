"""Tracking: a carrier's events for an order's shipment, kept on the order as a trail.

For the carriers webhook, after its signature and replay checks. The event must be about a
shipment the order has: an unknown order, an order shipped with another carrier or under
another tracking number is 404 and nothing changes; an order not shipped yet is 409 (the
carrier may be faster than the ship call: its retry is judged afresh). An event dated more than
five minutes ahead of our clock, or before the order was shipped, is 400 and changes nothing
(``domain.event_times``).

- ``delivered`` moves SHIPPED -> DELIVERED (``fulfilment.mark_delivered``), the event on the
  trail; one arriving for an order delivered already (by another event) only joins the trail.
- ``in_transit``, ``out_for_delivery`` and ``exception`` join the trail by a move that keeps
  the status (``OrderEvent.TRACK``), written with the whole trail, the event placed by its time,
  conditioned on the order's version (so two events at once both land).
- An event id already on the trail changes nothing (``move_if_needed``).
- ``out_for_delivery`` on an order still SHIPPED sends ``order.out_for_delivery`` to the
  customer, under an id stable per event, also when the same event comes again (its first
  announcement may have failed: the webhook then fails and the carrier retries).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.clock import iso
from commerce.domain.event_times import carrier_not_before, check_time
from commerce.domain.orders import OrderEvent, OrderStatus
from commerce.domain.tracking import TrackingEvent, TrackingStatus, recorded, with_event
from commerce.errors import NotFound
from commerce.events import DomainEvent, publisher, stable_event_id
from commerce.observability import logger, metrics
from commerce.orders import fulfilment, moves
from commerce.orders.book import Effects, order_book
from commerce.store.orders import StoredOrder

OUT_FOR_DELIVERY_EVENT = "order.out_for_delivery"


def _check_shipment(stored: StoredOrder, carrier: str, tracking_number: str | None) -> None:
    """404 unless the event can be about this order's shipment."""
    if stored.carrier is not None and stored.carrier != carrier:
        raise NotFound("No such shipment for this carrier")
    if tracking_number is not None and stored.tracking_number not in (None, tracking_number):
        raise NotFound("No such shipment for this tracking number")


def _check_time(stored: StoredOrder, event: TrackingEvent) -> None:
    """400 for an event dated too far ahead, or before the order was shipped."""
    check_time(
        event.at, now=clock.now(), not_before=carrier_not_before(stored.order), step="SHIPPED"
    )


def _delivers(stored: StoredOrder, event: TrackingEvent) -> bool:
    """A delivery moves the order, unless another delivery already did (then it only joins the
    trail); the same delivery again is ``mark_delivered``'s replay."""
    if event.status is not TrackingStatus.DELIVERED:
        return False
    return stored.order.delivered_at is None or stored.carrier_event_id == event.event_id


def record_carrier_event(
    order_id: str, carrier: str, event: TrackingEvent, tracking_number: str | None = None
) -> StoredOrder:
    """Apply one carrier event to the order; the order as it then stands."""
    stored = order_book().load(order_id)
    if stored is None:
        raise NotFound("No such order")
    _check_shipment(stored, carrier, tracking_number)
    _check_time(stored, event)
    if _delivers(stored, event):
        written = fulfilment.mark_delivered(order_id, event.at, event.event_id, event.location)
    else:
        written = moves.move_if_needed(
            order_id,
            OrderEvent.TRACK,
            effects=lambda current, adv: Effects(tracking=with_event(current.tracking, event)),
            prepare=lambda current: None if recorded(current.tracking, event.event_id) else current,
            first=stored,
        ).stored
    if event.status is TrackingStatus.EXCEPTION:
        metrics.add_metric(name="DeliveryExceptions", unit=MetricUnit.Count, value=1)
    if event.status is TrackingStatus.OUT_FOR_DELIVERY and written.status is OrderStatus.SHIPPED:
        announce_out_for_delivery(written, event)
    logger.info(
        "carrier event recorded",
        extra={"order_id": order_id, "carrier": carrier, "tracking_status": event.status.value},
    )
    return written


def announce_out_for_delivery(stored: StoredOrder, event: TrackingEvent) -> None:
    """``order.out_for_delivery`` for the customer; ``EventPublishError`` when it could not be
    sent (the webhook fails, and the carrier's retry announces it again under the same id)."""
    order = stored.order
    data: dict[str, object] = {
        "order_id": order.order_id,
        "owner_sub": order.owner,
        "at": iso(event.at),
    }
    if event.location:
        data["location"] = event.location
    publisher().publish(
        DomainEvent(
            event_id=stable_event_id(order.order_id, "out_for_delivery", event.event_id),
            type=OUT_FOR_DELIVERY_EVENT,
            occurred_at=iso(event.at),
            data=data,
        )
    )
