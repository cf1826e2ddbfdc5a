"""From one domain event and one recipient to the messages to send: pure, deterministic.

``build_messages(event, recipient)`` asks ``domain.consent`` on which channels the recipient
hears of the event, picks their locale (``domain.locale``), renders each channel once
(rendering.py) and returns one ``OutgoingMessage`` per address: the email address, the phone,
each registered device.

Exactly once: every message carries ``dedupe_key = sha256(event_id, channel, recipient)``. The
sender claims that key with a conditional write before it sends and sends only if the claim
succeeded (docs/notifications.md), so an event delivered twice, or two copies of it sent by a
producer that retried, produce one message per channel and address. Producers make
``event_id`` stable for the fact (``events.stable_event_id``): one per order step, one per cart
for the abandoned-cart reminder, one per crossing for low stock.

Logs never carry personal data: ``OutgoingMessage.log_fields()`` names the event, channel,
template, locale and dedupe key, never the address, name or text, and ``repr`` hides them too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Protocol

from commerce import clock
from commerce.domain.consent import (
    Audience,
    Channel,
    ConsentRecord,
    EventType,
    NotificationError,
    Preferences,
    channels_for,
    event_type,
)
from commerce.domain.locale import Locale, negotiate
from commerce.domain.money import Money, MoneyError
from commerce.domain.orders import QUALITY_RETURN_WINDOW_SECONDS, RETURN_WINDOW_SECONDS
from commerce.notifications.formats import FormatError, parse_time
from commerce.notifications.rendering import RenderedMessage, render, template_id


class SupportsToMessage(Protocol):
    """A ``commerce.events.DomainEvent``, or anything else that gives its message body."""

    def to_message(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class StoreInfo:
    """How the shop signs its messages: its name in each locale and where to write to it."""

    names: Mapping[Locale, str]
    support_email: str

    def context(self, locale: Locale) -> dict[str, str]:
        return {"name": self.names[locale], "support_email": self.support_email}


#: The shop as messages name it until settings give its real name and support address.
DEFAULT_STORE: Final = StoreInfo(
    names={Locale.ZH_CN: "示例商城", Locale.EN: "Demo Shop"},
    support_email="support@example.com",
)


@dataclass(frozen=True)
class Recipient:
    """Someone a message may go to, with what the rules need to know about them.

    ``locale`` is whatever they stated: a stored preference (``"zh-CN"``) or, for guests, the
    checkout's ``Accept-Language``. ``devices`` are their push targets (platform endpoints).
    The addresses are hidden from ``repr`` so a recipient logged by mistake leaks nothing.
    """

    audience: Audience
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    name: str | None = field(default=None, repr=False)
    locale: str | None = None
    channels: frozenset[Channel] | None = None
    consent: tuple[ConsentRecord, ...] = ()
    devices: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def guest(
        cls, email: str, accept_language: str | None = None, name: str | None = None
    ) -> Recipient:
        """A guest of a checkout: the order's email, the checkout's language, nothing else."""
        return cls(Audience.GUEST, email=email, name=name, locale=accept_language)

    @classmethod
    def staff(cls, email: str, locale: str | None = None) -> Recipient:
        """The shop's ops mailbox, for operational alerts."""
        return cls(Audience.STAFF, email=email, locale=locale)

    def preferences(self) -> Preferences:
        return Preferences(
            audience=self.audience,
            channels=self.channels,
            has_email=bool(self.email),
            has_phone=bool(self.phone),
            has_device=bool(self.devices),
        )

    def addresses(self, channel: Channel) -> tuple[str, ...]:
        """Where a message on ``channel`` goes: one address, or one per registered device."""
        if channel is Channel.EMAIL:
            return (self.email,) if self.email else ()
        if channel is Channel.SMS:
            return (self.phone,) if self.phone else ()
        return tuple(dict.fromkeys(d for d in self.devices if d))


@dataclass(frozen=True)
class NotificationEvent:
    """The parts of a domain event message the notifications need."""

    event_id: str
    type: EventType
    occurred_at: str
    data: Mapping[str, Any]

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | SupportsToMessage) -> NotificationEvent:
        """A checked event from a message body (``DomainEvent.to_message()`` shape) or event."""
        body = raw if isinstance(raw, Mapping) else raw.to_message()
        event_id, occurred_at, data = (
            body.get("event_id"),
            body.get("occurred_at"),
            body.get("data"),
        )
        if not isinstance(event_id, str) or not event_id:
            raise NotificationError("an event needs a non-empty string event_id")
        if not isinstance(occurred_at, str):
            raise NotificationError("an event needs occurred_at as an ISO 8601 string")
        if not isinstance(data, Mapping):
            raise NotificationError("an event's data must be an object")
        return cls(event_id, event_type(str(body.get("type"))), occurred_at, data)


def dedupe_key(event_id: str, channel: Channel, recipient: str) -> str:
    """The key that makes a send happen once: sha256 over the event, channel and address.

    Addresses are compared as they are delivered to: an email address case-insensitively, a
    phone number without spaces or dashes.
    """
    if channel is Channel.EMAIL:
        address = recipient.strip().lower()
    elif channel is Channel.SMS:
        address = "".join(c for c in recipient if c not in " -()")
    else:
        address = recipient.strip()
    # surrogatepass: a JSON body may carry a lone surrogate escape; it must still hash, not crash.
    raw = "\n".join((event_id, channel.value, address)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address on one channel, ready for the channel's adapter."""

    event_id: str
    event_type: EventType
    channel: Channel
    to: str = field(repr=False)
    locale: Locale
    template: str
    rendered: RenderedMessage = field(repr=False)
    dedupe_key: str
    audience: Audience
    #: What the event is about (an order, cart or SKU id): never personal data.
    ref: str | None = None

    def log_fields(self) -> dict[str, str]:
        """What a log line may say about this message: no address, name or message text."""
        fields = {
            "event_id": self.event_id,
            "event_type": self.event_type.value,
            "channel": self.channel.value,
            "template": self.template,
            "locale": self.locale.value,
            "audience": self.audience.value,
            "dedupe_key": self.dedupe_key,
        }
        if self.ref is not None:
            fields["ref"] = self.ref
        return fields


#: Data keys that name what an event is about, in the order they are looked for (a ticket
#: reply may also name the order the ticket is about: the ticket comes first).
_REF_KEYS: Final = ("ticket_id", "order_id", "cart_id", "sku", "campaign_id")


def _ref(data: Mapping[str, Any]) -> str | None:
    for key in _REF_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _money(raw: Any, where: str) -> Money:
    if not isinstance(raw, Mapping):
        raise NotificationError(f"{where} must be a money object")
    try:
        return Money(raw.get("amount"), raw.get("currency", ""))  # type: ignore[arg-type]
    except MoneyError as error:
        raise NotificationError(f"{where}: {error}") from None


def _line(raw: Any, index: int) -> dict[str, Any]:
    """A line as templates use it: ``name`` (the SKU when the product name is not known) and
    ``line_total`` where the line has a unit price."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("sku"), str):
        raise NotificationError(f"lines[{index}] needs a sku")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise NotificationError(f"lines[{index}].quantity must be a whole number")
    line = dict(raw)
    line["name"] = raw.get("name") or raw["sku"]
    if "unit_price" in raw:
        unit_price = _money(raw["unit_price"], f"lines[{index}].unit_price")
        line["line_total"] = unit_price.times(quantity).to_dict()
    return line


def _return_by(delivered_at: Any, window_seconds: int = RETURN_WINDOW_SECONDS) -> str:
    try:
        moment = parse_time(delivered_at) + timedelta(seconds=window_seconds)
    except FormatError as error:
        raise NotificationError(f"delivered_at: {error}") from None
    return clock.iso(int(moment.timestamp()))


def template_context(
    event: NotificationEvent, recipient: Recipient, locale: Locale, store: StoreInfo
) -> dict[str, Any]:
    """What templates see: the event's data at the top level, plus ``event``, ``customer`` and
    ``store`` (which win over data keys of the same name).

    Derived values are added here, not computed in templates: each line's ``name`` and
    ``line_total``, and for a delivery the last day of returns (``return_by``) and of returns
    for a quality problem (``quality_return_by``).
    """
    context: dict[str, Any] = dict(event.data)
    lines = event.data.get("lines")
    if lines is not None:
        if not isinstance(lines, Sequence) or isinstance(lines, str):
            raise NotificationError("lines must be a list")
        context["lines"] = [_line(raw, i) for i, raw in enumerate(lines)]
    if event.type is EventType.ORDER_DELIVERED:
        delivered_at = event.data.get("delivered_at")
        if "return_by" not in event.data:
            context["return_by"] = _return_by(delivered_at)
        if "quality_return_by" not in event.data:
            context["quality_return_by"] = _return_by(delivered_at, QUALITY_RETURN_WINDOW_SECONDS)
    context.update(
        event={"id": event.event_id, "type": event.type.value, "occurred_at": event.occurred_at},
        customer={"name": recipient.name},
        store=store.context(locale),
    )
    return context


def build_messages(
    event: Mapping[str, Any] | SupportsToMessage,
    recipient: Recipient,
    *,
    store: StoreInfo = DEFAULT_STORE,
) -> list[OutgoingMessage]:
    """Every message ``event`` owes ``recipient``: one per allowed channel and address.

    Empty when consent or preferences rule everything out. ``NotificationError`` (never worth a
    retry) for an unknown event, malformed data or a template that cannot be rendered with it.
    """
    parsed = NotificationEvent.parse(event)
    channels = channels_for(parsed.type, recipient.preferences(), recipient.consent)
    if not channels:
        return []
    locale = negotiate(recipient.locale)
    context = template_context(parsed, recipient, locale, store)
    ref = _ref(parsed.data)
    messages: list[OutgoingMessage] = []
    for channel in channels:
        rendered = render(parsed.type, channel, locale, context)
        for address in recipient.addresses(channel):
            messages.append(
                OutgoingMessage(
                    event_id=parsed.event_id,
                    event_type=parsed.type,
                    channel=channel,
                    to=address,
                    locale=locale,
                    template=template_id(parsed.type, channel, locale),
                    rendered=rendered,
                    dedupe_key=dedupe_key(parsed.event_id, channel, address),
                    audience=recipient.audience,
                    ref=ref,
                )
            )
    return messages
