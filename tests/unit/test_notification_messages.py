"""Messages out of events: one per allowed channel and address, deduplicated, logged safely."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from commerce.domain.consent import (
    MARKETING,
    Audience,
    Channel,
    ConsentAction,
    ConsentRecord,
    EventType,
    NotificationError,
    UnknownEvent,
)
from commerce.domain.locale import Locale
from commerce.events import DomainEvent
from commerce.notifications.messages import (
    DEFAULT_STORE,
    NotificationEvent,
    OutgoingMessage,
    Recipient,
    build_messages,
    dedupe_key,
    template_context,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

EMAIL = "Li.Wei+shop@example.com"
PHONE = "+86 138 0013 8000"
NAME = "李伟"
DEVICES = (
    "arn:aws:sns:ap-northeast-1:123456789012:endpoint/APNS/commerce/6b0e1f0c-1111",
    "arn:aws:sns:ap-northeast-1:123456789012:endpoint/GCM/commerce/9d2a7c3e-2222",
)
ORDER_ID = "3f9a1c2b7d4e4f0a9b8c6d5e4f3a2b1c"
RETURN_ID = "7c1e5d2a9b3f4e6d8a0b1c2d3e4f5a6b"
TOTAL = {"amount": 30500, "currency": "CNY"}
TOTALS = {
    "subtotal": {"amount": 32500, "currency": "CNY"},
    "discount": {"amount": 2000, "currency": "CNY"},
    "shipping": {"amount": 0, "currency": "CNY"},
    "points_redeemed": {"amount": 0, "currency": "CNY"},
    "total": TOTAL,
}
LINES = [
    {"sku": "DEMO-TEACUP-SET4", "quantity": 2, "unit_price": {"amount": 16250, "currency": "CNY"}}
]

#: Each event's data as its producer sends it (docs/notifications.md).
EVENT_DATA: dict[EventType, dict[str, Any]] = {
    EventType.ORDER_PLACED: {"order_id": ORDER_ID, "lines": LINES, "totals": TOTALS},
    EventType.ORDER_PAID: {"order_id": ORDER_ID, "lines": LINES, "totals": TOTALS},
    EventType.ORDER_PAYMENT_FAILED: {"order_id": ORDER_ID, "totals": TOTALS},
    EventType.ORDER_CANCELLED: {"order_id": ORDER_ID, "totals": TOTALS, "refund": None},
    EventType.ORDER_SHIPPED: {
        "order_id": ORDER_ID,
        "lines": LINES,
        "carrier": "sf",
        "tracking_number": "SF1402837465920",
    },
    EventType.ORDER_DELIVERED: {"order_id": ORDER_ID, "delivered_at": "2025-03-14T09:26:53Z"},
    EventType.ORDER_RETURN_REQUESTED: {
        "order_id": ORDER_ID,
        "return_id": RETURN_ID,
        "lines": [{"sku": "DEMO-TEACUP-SET4", "quantity": 1}],
    },
    EventType.ORDER_REFUNDED: {"order_id": ORDER_ID, "return_id": RETURN_ID, "refund": TOTAL},
    EventType.ORDER_OUT_FOR_DELIVERY: {
        "order_id": ORDER_ID,
        "carrier": "sf",
        "tracking_number": "SF1402837465920",
        "at": "2025-03-14T07:02:11Z",
    },
    EventType.TICKET_REPLIED: {
        "ticket_id": "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
        "owner_sub": "sub-1",
        "ticket_subject": "Cracked cup",
        "message": "We are sending a new one today.",
        "order_id": ORDER_ID,
    },
    EventType.CART_ABANDONED: {"cart_id": "a0b1c2d3e4f5", "lines": LINES, "subtotal": TOTAL},
    EventType.CAMPAIGN_MESSAGE: {
        "campaign_id": "4b7e1c9d2a3f4e5b8c6d0a1f2e3b4c5d",
        "customer_id": "5f2b7c1e-8a4d-4b6e-9c3f-1d2e3f4a5b6c",
        "campaign_subject": "Double 11 starts tonight",
        "campaign_body": "Members get early access from 20:00.",
    },
    EventType.INVENTORY_LOW_STOCK: {"sku": "DEMO-TEACUP-SET4", "available": 3, "safety_stock": 5},
}

CONSENTED = (ConsentRecord(MARKETING, ConsentAction.GIVEN, 1_741_000_000, "PATCH /me"),)


def customer(**changes: Any) -> Recipient:
    fields: dict[str, Any] = {
        "audience": Audience.CUSTOMER,
        "email": EMAIL,
        "phone": PHONE,
        "name": NAME,
        "locale": "zh-CN",
        "channels": frozenset(Channel),
        "consent": CONSENTED,
        "devices": DEVICES,
    }
    return Recipient(**{**fields, **changes})


def event(kind: EventType, event_id: str = "evt-0001", **data: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind.value,
        "occurred_at": "2025-03-14T09:30:00Z",
        "data": {**EVENT_DATA[kind], **data},
    }


CUSTOMER_EVENTS = [e for e in EventType if e is not EventType.INVENTORY_LOW_STOCK]


@pytest.mark.parametrize("kind", CUSTOMER_EVENTS)
def test_one_message_per_channel_and_address(kind: EventType) -> None:
    messages = build_messages(event(kind), customer())
    assert [(m.channel, m.to) for m in messages] == [
        (Channel.EMAIL, EMAIL),
        (Channel.SMS, PHONE),
        (Channel.PUSH, DEVICES[0]),
        (Channel.PUSH, DEVICES[1]),
    ]
    assert {m.template for m in messages} == {
        f"zh-CN/{kind.value}.email",
        f"zh-CN/{kind.value}.sms",
        f"zh-CN/{kind.value}.push",
    }
    assert all(m.locale is Locale.ZH_CN and m.event_type is kind for m in messages)
    assert len({m.dedupe_key for m in messages}) == len(messages)


def test_a_device_registered_twice_gets_one_push() -> None:
    messages = build_messages(
        event(EventType.ORDER_PAID), customer(devices=(DEVICES[0], DEVICES[0], ""))
    )
    assert [m.to for m in messages if m.channel is Channel.PUSH] == [DEVICES[0]]


def test_guest_gets_email_in_the_checkout_language() -> None:
    guest = Recipient.guest("guest@example.com", "en-GB,en;q=0.9,zh-CN;q=0.5")
    (message,) = build_messages(event(EventType.ORDER_SHIPPED), guest)
    assert (message.channel, message.to, message.locale) == (
        Channel.EMAIL,
        "guest@example.com",
        Locale.EN,
    )
    assert message.template == "en/order.shipped.email"
    assert message.rendered.subject == "Your order ending 4f3a2b1c is on its way"
    assert message.rendered.text.startswith("Hello,")


def test_unknown_locale_is_english() -> None:
    messages = build_messages(event(EventType.ORDER_PAID), customer(locale="fr-FR"))
    assert {m.locale for m in messages} == {Locale.EN}


def test_marketing_needs_consent() -> None:
    assert build_messages(event(EventType.CART_ABANDONED), customer(consent=())) == []
    withdrawn = (
        *CONSENTED,
        ConsentRecord(MARKETING, ConsentAction.WITHDRAWN, 1_741_500_000, "PATCH /me"),
    )
    assert build_messages(event(EventType.CART_ABANDONED), customer(consent=withdrawn)) == []
    messages = build_messages(event(EventType.CART_ABANDONED), customer(locale="en"))
    email = next(m for m in messages if m.channel is Channel.EMAIL)
    assert "turn off marketing messages" in email.rendered.text
    sms = next(m for m in messages if m.channel is Channel.SMS)
    assert sms.rendered.text.endswith("Reply STOP to opt out")
    assert build_messages(event(EventType.CART_ABANDONED), Recipient.guest(EMAIL)) == []


def test_low_stock_goes_to_ops_only() -> None:
    ops = Recipient.staff("ops@example.com")
    (message,) = build_messages(event(EventType.INVENTORY_LOW_STOCK), ops)
    assert message.to == "ops@example.com"
    assert message.rendered.subject == "Low stock: DEMO-TEACUP-SET4 (3 available)"
    assert build_messages(event(EventType.INVENTORY_LOW_STOCK), customer()) == []
    assert build_messages(event(EventType.ORDER_PAID), ops) == []


def test_a_domain_event_is_accepted_as_it_is_published() -> None:
    raw = event(EventType.ORDER_PAID)
    domain_event = DomainEvent(raw["event_id"], raw["type"], raw["occurred_at"], raw["data"])
    from_object = build_messages(domain_event, customer())
    from_body = build_messages(json.loads(domain_event.to_json()), customer())
    assert from_object == from_body


# --- Context ------------------------------------------------------------------------------------


def test_context_derives_line_names_totals_and_return_deadline() -> None:
    data: dict[str, Any] = {
        "order_id": "o-1",
        "delivered_at": "2025-03-14T09:26:53Z",
        "lines": [
            {
                "sku": "TEA-LONGJING-250G",
                "quantity": 3,
                "unit_price": {"amount": 6800, "currency": "CNY"},
            }
        ],
    }
    parsed = NotificationEvent("e", EventType.ORDER_DELIVERED, "2025-03-14T09:30:00Z", data)
    context = template_context(parsed, customer(), Locale.EN, DEFAULT_STORE)
    assert context["lines"][0]["name"] == "TEA-LONGJING-250G"
    assert context["lines"][0]["line_total"] == {"amount": 20400, "currency": "CNY"}
    assert context["return_by"] == "2025-03-21T09:26:53Z"
    assert context["customer"] == {"name": NAME}
    assert context["store"]["name"] == "Demo Shop"
    assert data["lines"][0].get("name") is None  # the event's data is not changed


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "order.paid", "occurred_at": "2025-03-14T09:30:00Z", "data": {}},
        {"event_id": "", "type": "order.paid", "occurred_at": "2025-03-14T09:30:00Z", "data": {}},
        {"event_id": "e", "type": "order.paid", "occurred_at": 1, "data": {}},
        {"event_id": "e", "type": "order.paid", "occurred_at": "2025-03-14T09:30:00Z", "data": []},
        event(EventType.ORDER_PAID, lines=[{"quantity": 1}]),
        event(EventType.ORDER_PAID, lines=[{"sku": "A", "quantity": 1.0}]),
        event(EventType.ORDER_PAID, lines="A"),
        event(
            EventType.ORDER_PAID,
            lines=[{"sku": "A", "quantity": 1, "unit_price": {"amount": 1.5, "currency": "CNY"}}],
        ),
        event(EventType.ORDER_PAID, totals={"total": {"amount": 100, "currency": "CNY"}}),
        event(EventType.ORDER_DELIVERED, delivered_at="last Tuesday"),
    ],
)
def test_malformed_events_are_not_worth_a_retry(raw: dict[str, Any]) -> None:
    with pytest.raises(NotificationError):
        build_messages(raw, customer())


def test_unknown_event_type() -> None:
    with pytest.raises(UnknownEvent):
        build_messages({**event(EventType.ORDER_PAID), "type": "order.teleported"}, customer())


# --- Exactly once -------------------------------------------------------------------------------


def test_dedupe_keys_are_stable_across_redeliveries() -> None:
    first = build_messages(event(EventType.ORDER_SHIPPED), customer())
    again = build_messages(event(EventType.ORDER_SHIPPED), customer())
    assert [m.dedupe_key for m in first] == [m.dedupe_key for m in again]
    assert all(re.fullmatch(r"[0-9a-f]{64}", m.dedupe_key) for m in first)


def test_dedupe_keys_differ_by_event() -> None:
    one = build_messages(event(EventType.ORDER_SHIPPED, "evt-0001"), customer())
    two = build_messages(event(EventType.ORDER_SHIPPED, "evt-0002"), customer())
    assert not {m.dedupe_key for m in one} & {m.dedupe_key for m in two}


def test_dedupe_key_ignores_how_an_address_is_written() -> None:
    assert dedupe_key("e", Channel.EMAIL, "Li.Wei@Example.com ") == dedupe_key(
        "e", Channel.EMAIL, "li.wei@example.com"
    )
    assert dedupe_key("e", Channel.SMS, "+86 138-0013-8000") == dedupe_key(
        "e", Channel.SMS, "+8613800138000"
    )


def test_dedupe_key_is_a_known_function() -> None:
    # Pinned to sha256("evt-0001\nemail\na@example.com"): a change would let every event in
    # flight during a deploy send once more.
    assert dedupe_key("evt-0001", Channel.EMAIL, "a@example.com") == (
        "b82976ae27b06a0f0742916c3363011bd2d61276cc1a0fc8ae66846b6cc8658c"
    )


parts = st.text(alphabet=st.characters(blacklist_characters="\n"), min_size=1, max_size=20)


@given(parts, st.sampled_from(list(Channel)), parts, parts, st.sampled_from(list(Channel)), parts)
def test_dedupe_keys_are_distinct_for_distinct_sends(
    e1: str, c1: Channel, r1: str, e2: str, c2: Channel, r2: str
) -> None:
    same = (e1, c1, dedupe_key("", c1, r1)) == (e2, c2, dedupe_key("", c2, r2))
    assert (dedupe_key(e1, c1, r1) == dedupe_key(e2, c2, r2)) is same


# --- Logs ----------------------------------------------------------------------------------------

PERSONAL = [EMAIL, EMAIL.lower(), PHONE, PHONE.replace(" ", ""), NAME, *DEVICES]


@pytest.mark.parametrize("kind", CUSTOMER_EVENTS)
def test_log_fields_carry_no_personal_data(kind: EventType) -> None:
    messages = build_messages(event(kind), customer())
    assert messages
    for message in messages:
        fields = message.log_fields()
        line = json.dumps(fields, ensure_ascii=False)
        for secret in PERSONAL:
            assert secret not in line
        assert message.rendered.text not in line
        assert fields["event_id"] == "evt-0001"
        assert fields["dedupe_key"] == message.dedupe_key
        data = EVENT_DATA[kind]
        # What the event is about: the ticket before the order it may name.
        refs = ("ticket_id", "order_id", "cart_id", "campaign_id")
        assert fields["ref"] == next(data[key] for key in refs if data.get(key))


def test_repr_hides_addresses_and_text() -> None:
    message: OutgoingMessage = build_messages(event(EventType.ORDER_PAID), customer())[0]
    for text in (repr(message), repr(customer()), str(message)):
        for secret in PERSONAL:
            assert secret not in text
