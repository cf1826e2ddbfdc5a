"""The events an order sends out when it moves: ``order.<status>``, one per transition.

Each event's id is derived from the order, its status and its version, so the same transition
always gets the same id and a consumer drops duplicates (``commerce.events``). Two ways to send
one, for two kinds of caller:

- ``publish_order_event``: a request that moved the order has answered its caller by then; a
  lost event is logged and never undoes the write.
- ``announce``: a queue consumer or webhook that settled a payment fails the record (or the
  webhook) instead, and its redelivery finds the move written and announces it again under the
  same id, so the customer's "paid" message is never lost.
"""

from __future__ import annotations

from commerce.clock import iso
from commerce.events import DomainEvent, EventPublishError, publisher, stable_event_id
from commerce.observability import logger
from commerce.store.orders import StoredOrder


def order_event(stored: StoredOrder) -> DomainEvent:
    """``order.<status lower>`` for the order as it stands; the id is stable per transition."""
    order = stored.order
    status = order.status.value
    return DomainEvent(
        event_id=stable_event_id(order.order_id, status, str(order.version)),
        type=f"order.{status.lower()}",
        occurred_at=iso(order.history[-1].at),
        data={
            "order_id": order.order_id,
            "status": status,
            "version": order.version,
            "email": order.email,
            "owner_sub": order.owner,
            "total": order.totals.total.to_dict(),
        },
    )


def announce(stored: StoredOrder) -> None:
    """Send the order's current transition; ``EventPublishError`` when it could not be sent."""
    publisher().publish(order_event(stored))


def publish_order_event(stored: StoredOrder) -> None:
    """Send the order's current transition; a failure is logged, never undoes the write."""
    try:
        announce(stored)
    except EventPublishError:
        logger.exception(
            "order event not published", extra={"event_type": f"order.{stored.status.lower()}"}
        )


def refund_event(stored: StoredOrder, refund_id: str) -> DomainEvent:
    """``order.refunded`` for one refund made outside a return (staff, or at the provider):
    the customer hears of each refund once (the id is stable per refund)."""
    order = stored.order
    return DomainEvent(
        event_id=stable_event_id(order.order_id, "refund", refund_id),
        type="order.refunded",
        occurred_at=iso(order.history[-1].at),
        data={
            "order_id": order.order_id,
            "status": order.status.value,
            "version": order.version,
            "email": order.email,
            "owner_sub": order.owner,
            "total": order.totals.total.to_dict(),
            "refund_id": refund_id,
        },
    )
