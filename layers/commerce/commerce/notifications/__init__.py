"""Notifications: which events reach whom, on which channel, in which words.

The package's vocabulary lives here and imports nothing, so the pure rules can be used without
loading the template engine:

- ``consent``: who may receive an event on which channel (preferences, consent history).
- ``locale``: the supported locales, ``Accept-Language`` negotiation, money and date formats.
- ``rendering``: the sandboxed Jinja2 environment over ``templates/{locale}/{event}.{channel}.*``.
- ``messages``: an event and a recipient in, the messages to send (with dedupe keys) out.

None of them does I/O; the notifications function sends what ``messages`` builds.
docs/notifications.md has the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Channel(StrEnum):
    """A way to reach someone; the value is the wire form (``notification_channels``)."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


#: Channels in the order messages are built and listed.
CHANNEL_ORDER: Final = (Channel.EMAIL, Channel.SMS, Channel.PUSH)


class Purpose(StrEnum):
    """Why a message is sent, which decides what consent it needs (consent.py)."""

    #: About something the customer did or owns (an order): needs no marketing consent.
    TRANSACTIONAL = "transactional"
    #: Asks the customer to buy: only with current marketing consent.
    MARKETING = "marketing"
    #: To staff about the shop itself (stock): never to customers.
    OPERATIONAL = "operational"


class EventType(StrEnum):
    """Every event the notifications function turns into messages (``DomainEvent.type``)."""

    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_PAYMENT_FAILED = "order.payment_failed"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_RETURN_REQUESTED = "order.return_requested"
    ORDER_REFUNDED = "order.refunded"
    CART_ABANDONED = "cart.abandoned"
    INVENTORY_LOW_STOCK = "inventory.low_stock"


#: The purpose of each event. Every member of EventType is here (a unit test checks it).
PURPOSES: Final[Mapping[EventType, Purpose]] = {
    EventType.ORDER_PLACED: Purpose.TRANSACTIONAL,
    EventType.ORDER_PAID: Purpose.TRANSACTIONAL,
    EventType.ORDER_PAYMENT_FAILED: Purpose.TRANSACTIONAL,
    EventType.ORDER_CANCELLED: Purpose.TRANSACTIONAL,
    EventType.ORDER_SHIPPED: Purpose.TRANSACTIONAL,
    EventType.ORDER_DELIVERED: Purpose.TRANSACTIONAL,
    EventType.ORDER_RETURN_REQUESTED: Purpose.TRANSACTIONAL,
    EventType.ORDER_REFUNDED: Purpose.TRANSACTIONAL,
    EventType.CART_ABANDONED: Purpose.MARKETING,
    EventType.INVENTORY_LOW_STOCK: Purpose.OPERATIONAL,
}


#: Other names producers use for an event: the orders service names each event after the status
#: the order entered (``order.<status>``), and an order enters PENDING_PAYMENT when it is placed.
EVENT_ALIASES: Final[Mapping[str, EventType]] = {"order.pending_payment": EventType.ORDER_PLACED}


class NotificationError(ValueError):
    """An event, recipient or template the notification rules cannot work with.

    Retrying never helps with one of these (the same input fails the same way), so a consumer
    reports it and lets the message go to the dead-letter queue rather than looping on it.
    """


class UnknownEvent(NotificationError):
    """An event type this package has no rules and templates for."""

    def __init__(self, event_type: object) -> None:
        super().__init__(f"no notifications are defined for event type {event_type!r}")
        self.event_type = event_type


def event_type(value: str | EventType) -> EventType:
    """``value`` as an EventType (aliases included); ``UnknownEvent`` when it names none."""
    try:
        return EventType(value)
    except ValueError:
        alias = EVENT_ALIASES.get(value)
        if alias is None:
            raise UnknownEvent(value) from None
        return alias
