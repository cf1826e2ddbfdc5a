"""Fulfilment: ops ship a paid order; a carrier's (verified) webhook reports the delivery.

Both are moves of the state machine written conditioned on the order's version and status:
shipping anything but a PAID order, or delivering anything but a SHIPPED one, is 409. The
delivery also goes on the order's tracking trail (``orders.tracking`` has the other events).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.sales import record_delivery
from commerce.domain.orders import IllegalTransition, OrderEvent, OrderStatus
from commerce.domain.tracking import TrackingEvent, TrackingStatus, with_event
from commerce.errors import NotFound
from commerce.http.auth import Caller
from commerce.loyalty.points import earn_on_delivery
from commerce.observability import logger, metrics
from commerce.orders import moves
from commerce.orders.book import Delivery, Effects, Shipment, order_book
from commerce.orders.reading import load_within_reach
from commerce.orders.schemas import OrderOut, ShipmentIn
from commerce.orders.views import order_view
from commerce.store.orders import StoredOrder


def ship_order(order_id: str, body: ShipmentIn, caller: Caller) -> OrderOut:
    """PAID -> SHIPPED with the carrier and tracking number (ops, admin)."""
    stored = load_within_reach(order_id, caller, ())
    written = moves.move(
        order_id,
        OrderEvent.SHIP,
        effects=lambda current, adv: Effects(shipment=Shipment(body.carrier, body.tracking_number)),
        first=stored,
    )
    metrics.add_metric(name="OrdersShipped", unit=MetricUnit.Count, value=1)
    logger.info("order shipped", extra={"order_id": order_id, "carrier": body.carrier})
    return order_view(written, private=True)


def mark_delivered(
    order_id: str, at: int, carrier_event_id: str, location: str | None = None
) -> StoredOrder:
    """SHIPPED -> DELIVERED at ``at`` (epoch seconds), as a carrier reported it, with the event
    placed on the tracking trail.

    For the carriers webhook, after its signature and replay checks. Idempotent: an order
    already DELIVERED by this same ``carrier_event_id`` is returned unchanged. Raises NotFound
    for an unknown order and ``IllegalTransition`` (409) for an order that is not SHIPPED.
    """
    reported = TrackingEvent(carrier_event_id, TrackingStatus.DELIVERED, at, location)
    stored = order_book().load(order_id)
    if stored is None:
        raise NotFound("No such order")
    try:
        delivered = moves.move(
            order_id,
            OrderEvent.DELIVER,
            effects=lambda current, adv: Effects(
                delivery=Delivery(at, carrier_event_id),
                tracking=with_event(current.tracking, reported),
            ),
            first=stored,
            at=at,
        )
    except IllegalTransition:
        current = order_book().load(order_id)
        if (
            current is not None
            and current.status is OrderStatus.DELIVERED
            and current.carrier_event_id == carrier_event_id
        ):
            earn_on_delivery(current)  # a replay: credits only if the first attempt did not
            record_delivery(current)
            return current
        raise
    earn_on_delivery(delivered)
    record_delivery(delivered)  # the owner may now review what they received
    return delivered
