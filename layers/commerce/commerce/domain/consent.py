"""Who may be sent what, on which channel: pure rules over preferences and consent.

Consent and channels are the customer's: a profile stores its chosen channels and its consent
history in these terms, and the notifications use case reads them through ``channels_for``. The
vocabulary lives here with the rules: the channels, the purpose of a message and the event types
messages are sent about, each with its purpose.

``channels_for(event_type, preferences, consent)`` is the one place that decides:

- transactional events (orders, ticket replies) go to the channels the customer enabled, email
  when they never chose; an explicit empty choice means none;
- marketing events (``cart.abandoned``, ``campaign.message``) go the same way, but only while
  the customer's current marketing consent is given: never to guests, never on a presumed
  consent;
- operational events (``inventory.low_stock``) go only to staff, never to customers;
- a channel is used only where there is an address: email needs an email address, SMS a phone
  number, push a registered device; guests (no profile, no choices) get email only.

Consent is kept as a history of records (what, given or withdrawn, when, from where), so it can
be shown and exported as it was expressed; the current consent is the latest record per
``what`` (``current_consent``), and with no record at all it is not given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class Channel(StrEnum):
    """A way to reach someone; the value is the wire form (``notification_channels``)."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


#: Channels in the order messages are built and listed.
CHANNEL_ORDER: Final = (Channel.EMAIL, Channel.SMS, Channel.PUSH)


class Purpose(StrEnum):
    """Why a message is sent, which decides what consent it needs (``channels_for``)."""

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
    ORDER_OUT_FOR_DELIVERY = "order.out_for_delivery"
    TICKET_REPLIED = "ticket.replied"
    CART_ABANDONED = "cart.abandoned"
    CAMPAIGN_MESSAGE = "campaign.message"
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
    EventType.ORDER_OUT_FOR_DELIVERY: Purpose.TRANSACTIONAL,
    # A reply to the customer's own question: never marketing, whatever their consent.
    EventType.TICKET_REPLIED: Purpose.TRANSACTIONAL,
    EventType.CART_ABANDONED: Purpose.MARKETING,
    EventType.CAMPAIGN_MESSAGE: Purpose.MARKETING,
    EventType.INVENTORY_LOW_STOCK: Purpose.OPERATIONAL,
}


#: Other names producers use for an event: the orders service names each event after the status
#: the order entered (``order.<status>``), and an order enters PENDING_PAYMENT when it is placed.
EVENT_ALIASES: Final[Mapping[str, EventType]] = {"order.pending_payment": EventType.ORDER_PLACED}


class NotificationError(ValueError):
    """An event, recipient, consent record or template the notification rules cannot work with.

    Retrying never helps with one of these (the same input fails the same way), so a consumer
    reports it and lets the message go to the dead-letter queue rather than looping on it.
    """


class UnknownEvent(NotificationError):
    """An event type no rules and templates are defined for."""

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


#: The ``what`` of marketing consent (``marketing_consent`` of ``PATCH /me``).
MARKETING: Final = "marketing"

#: Channels of someone who never chose any.
DEFAULT_CHANNELS: Final = frozenset({Channel.EMAIL})


class Audience(StrEnum):
    """Who a recipient is, as far as the rules care."""

    #: A signed-in customer with a profile: their choices and consent apply.
    CUSTOMER = "customer"
    #: Someone who checked out without an account: email only, never marketing.
    GUEST = "guest"
    #: The shop's own people (ops alerts): operational events only.
    STAFF = "staff"


class ConsentAction(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ConsentRecord:
    """``what`` was given or withdrawn at ``at`` (epoch seconds) through ``source``.

    ``source`` says where it was expressed (``"PATCH /me"``, ``"checkout"``, ``"support"``), so
    the record answers "when and how did they agree" on its own.
    """

    what: str
    action: ConsentAction
    at: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "action": self.action.value,
            "at": self.at,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ConsentRecord:
        try:
            action = ConsentAction(raw["action"])
            at = raw["at"]
            if isinstance(at, bool) or not isinstance(at, int):
                raise TypeError("at")
            return cls(what=str(raw["what"]), action=action, at=at, source=str(raw["source"]))
        except (KeyError, TypeError, ValueError) as error:
            raise NotificationError(f"not a consent record: {error}") from None


def current_consent(history: Iterable[ConsentRecord], what: str) -> bool:
    """Whether ``what`` is consented to now: the latest record about it is a ``given``.

    Latest by ``at``; of records with the same ``at``, the one later in the history. No record
    means no consent: it is never presumed.
    """
    latest: ConsentRecord | None = None
    for record in history:
        if record.what == what and (latest is None or record.at >= latest.at):
            latest = record
    return latest is not None and latest.action is ConsentAction.GIVEN


@dataclass(frozen=True)
class Preferences:
    """A recipient as the rules see them: their choice of channels and where they can be reached.

    ``channels`` is None when they never chose (then email); an empty set means they turned
    every channel off.
    """

    audience: Audience
    channels: frozenset[Channel] | None = None
    has_email: bool = False
    has_phone: bool = False
    has_device: bool = False

    def reachable(self, channel: Channel) -> bool:
        if channel is Channel.EMAIL:
            return self.has_email
        if channel is Channel.SMS:
            return self.has_phone
        return self.has_device


def _enabled(preferences: Preferences) -> frozenset[Channel]:
    if preferences.audience is Audience.GUEST:
        return DEFAULT_CHANNELS  # a guest has no stored choice and no phone or device on file
    if preferences.channels is None:
        return DEFAULT_CHANNELS
    return preferences.channels


def _allowed(purpose: Purpose, audience: Audience, consent: Iterable[ConsentRecord]) -> bool:
    if purpose is Purpose.OPERATIONAL:
        return audience is Audience.STAFF
    if audience is Audience.STAFF:
        return False  # staff get alerts, not the customer messages of their own orders here
    if purpose is Purpose.MARKETING:
        return audience is Audience.CUSTOMER and current_consent(consent, MARKETING)
    return True


def channels_for(
    event: str | EventType, preferences: Preferences, consent: Iterable[ConsentRecord] = ()
) -> list[Channel]:
    """The channels a message about ``event`` goes out on to this recipient, in CHANNEL_ORDER.

    Empty when the recipient may not receive it at all. ``UnknownEvent`` for an event type
    with no rules.
    """
    purpose = PURPOSES[event_type(event)]
    if not _allowed(purpose, preferences.audience, consent):
        return []
    enabled = _enabled(preferences)
    return [c for c in CHANNEL_ORDER if c in enabled and preferences.reachable(c)]
