"""The notifications consumer against moto: NotificationsFunction's handler with SQS events,
orders in template.yaml's tables, mail and SMS in moto's SES and SNS, read back through the
local outbox (the same reader GET /_local/outbox uses).
"""

from __future__ import annotations

import email
import json
from dataclasses import dataclass
from typing import Any

import pytest
from commerce.domain.consent import Channel
from commerce.domain.money import Money
from commerce.events import DomainEvent
from commerce.notifications import addressing, delivery, queue, sender
from commerce.notifications.messages import OutgoingMessage
from commerce.notifications.sender import SendError, SesEmailSender, SnsSmsSender
from commerce.observability import logger
from commerce.orders.events import order_event
from commerce.store import notifications as sent_records
from notifications_world import BUYER, OPS, SENDER, Notifier, order_body, write_order
from orders_world import EVENTS, SUBS, Context

from infra.local.outbox import Outbox

pytestmark = pytest.mark.integration

CUSTOMER = SUBS["customer"]


def mails() -> list[dict[str, Any]]:
    return [item for item in Outbox().items() if item["channel"] == "email"]


def raw_mails() -> list[email.message.Message]:
    from moto.ses.models import ses_backends

    backend = ses_backends["123456789012"]["us-east-1"]
    return [email.message_from_string(str(m.raw_data)) for m in backend.sent_messages]


def _failed(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


# --- one email per order event, in the right language -------------------------------------------

ORDER_EVENTS = [
    ("order.pending_payment", "order.placed"),
    ("order.paid", "order.paid"),
    ("order.payment_failed", "order.payment_failed"),
    ("order.cancelled", "order.cancelled"),
    ("order.shipped", "order.shipped"),
]


@pytest.mark.parametrize(("published", "template_event"), ORDER_EVENTS)
@pytest.mark.parametrize(
    ("locale", "expected"), [(None, "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN")]
)
def test_each_order_event_sends_one_email_in_the_checkout_language(
    notifier: Notifier,
    published: str,
    template_event: str,
    locale: str | None,
    expected: str,
) -> None:
    stored = write_order(locale=locale)

    response = notifier.deliver(order_body(stored, published))

    assert response == {"batchItemFailures": []}
    [mail] = mails()
    assert mail["to"] == BUYER
    assert mail["template"] == f"{expected}/{template_event}.email"
    assert stored.order_id[-8:] in mail["subject"]
    has_chinese = any("\u4e00" <= c <= "\u9fff" for c in mail["subject"])
    assert has_chinese is (expected == "zh-CN")
    [raw] = raw_mails()
    assert raw["From"].endswith(SENDER) or SENDER in raw["From"]
    parts = [part.get_content_type() for part in raw.walk() if not part.is_multipart()]
    assert parts == ["text/plain", "text/html"]


def test_a_signed_in_customer_gets_email_only_by_default(
    notifier: Notifier,
) -> None:
    stored = write_order(owner=CUSTOMER, locale="zh-CN")

    notifier.deliver(order_body(stored, "order.paid"))

    assert [(m["to"], m["template"]) for m in Outbox().items()] == [
        (BUYER, "zh-CN/order.paid.email")
    ]


def test_a_signed_in_customer_is_reached_on_the_channels_and_language_they_chose(
    notifier: Notifier,
) -> None:
    from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me

    identity = Identity(sub="c0000000-0000-4000-8000-000000000001", email=BUYER)
    ensure_profile(identity)
    update_me(
        identity,
        Patch(
            notification_channels=("email", "sms"),
            locale="zh-CN",
            phone="+8613800138000",
            phone_set=True,
        ),
    )
    stored = write_order(owner=CUSTOMER)  # no checkout language: the profile's own applies

    notifier.deliver(order_body(stored, "order.shipped"))

    sent = {m["channel"]: m for m in Outbox().items()}
    assert sorted(sent) == ["email", "sms"]
    assert (sent["email"]["to"], sent["email"]["template"]) == (
        BUYER,
        "zh-CN/order.shipped.email",
    )
    assert sent["sms"]["to"] == "+8613800138000"
    # The customer's export lists both, by channel and template, without address or text.
    listed = sent_records.customer_messages(identity.sub)
    assert sorted((m["channel"], m["template"]) for m in listed) == [
        ("email", "zh-CN/order.shipped.email"),
        ("sms", "zh-CN/order.shipped.sms"),
    ]
    assert "+8613800138000" not in str(listed)
    assert stored.order_id[-8:] in sent["sms"]["body"]
    assert any("\u4e00" <= c <= "\u9fff" for c in sent["sms"]["body"])  # in Chinese


def test_a_customer_who_turned_every_channel_off_gets_nothing(
    notifier: Notifier,
) -> None:
    from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me

    identity = Identity(sub="c0000000-0000-4000-8000-000000000001", email=BUYER)
    ensure_profile(identity)
    update_me(identity, Patch(notification_channels=()))
    stored = write_order(owner=CUSTOMER)

    response = notifier.deliver(order_body(stored, "order.paid"))

    assert response == {"batchItemFailures": []}
    assert Outbox().items() == []


# --- exactly once ---------------------------------------------------------------------------------


def test_a_duplicated_and_redelivered_event_sends_one_email(
    notifier: Notifier,
) -> None:
    stored = write_order()
    body = order_body(stored, "order.paid")

    first = notifier.deliver(body, body)
    again = notifier.deliver(body, receive_count=2)

    assert first == {"batchItemFailures": []}
    assert again == {"batchItemFailures": []}
    assert len(mails()) == 1
    outcome = queue.handle_body(body)
    assert outcome.result is delivery.Result.DUPLICATE
    assert outcome.deduplicated == 1


def test_a_producer_resending_the_same_fact_sends_nothing_more(
    notifier: Notifier,
) -> None:
    stored = write_order()
    # The same transition published twice by dispatch: the id is stable per transition.
    notifier.deliver(order_event(stored).to_json())
    notifier.deliver(order_event(stored).to_json())

    assert [m["template"] for m in mails()] == ["en/order.placed.email"]


def test_claims_are_exclusive_until_stale_and_final_once_sent(dynamodb: Any) -> None:
    key = "k" * 64
    assert sent_records.claim(key, now=1000, stale_after=60)
    assert not sent_records.claim(key, now=1030, stale_after=60)
    # The first sender died mid-send: after the visibility timeout another may take over.
    assert sent_records.claim(key, now=1061, stale_after=60)
    assert not sent_records.mark_sent(key, claimed_at=1000, now=1062)  # the old claim is gone
    assert sent_records.mark_sent(key, claimed_at=1061, now=1062)
    assert sent_records.status_of(key) == sent_records.SENT
    assert not sent_records.claim(key, now=99_999, stale_after=60)


# --- failures -------------------------------------------------------------------------------------


@dataclass
class FailingFor:
    """The email adapter, refusing mail to one address (a provider outage for that message)."""

    inner: SesEmailSender
    address: str
    attempts: int = 0

    def send(self, message: OutgoingMessage) -> None:
        if message.to == self.address:
            self.attempts += 1
            raise SendError("SES is unavailable")
        self.inner.send(message)


def test_a_failing_send_fails_only_its_record_and_is_retried_later(
    notifier: Notifier,
) -> None:
    ok_order = write_order("fine@example.com")
    bad_order = write_order("unlucky@example.com")
    failing = FailingFor(SesEmailSender(SENDER), "unlucky@example.com")
    senders = {Channel.EMAIL: failing, Channel.SMS: SnsSmsSender(), Channel.PUSH: SnsSmsSender()}
    delivery.use_senders(senders)
    bad_body = order_body(bad_order, "order.paid")

    response = notifier.deliver(order_body(ok_order, "order.paid"), bad_body)

    assert _failed(response) == {response_id(response, 1)}
    assert [m["to"] for m in mails()] == ["fine@example.com"]
    [message] = _messages(bad_body)
    assert sent_records.status_of(message.dedupe_key) is None  # the claim was released

    # The provider recovers: the redelivery sends it, once.
    delivery.use_senders(None)
    assert notifier.deliver(bad_body, receive_count=2) == {"batchItemFailures": []}
    assert sorted(m["to"] for m in mails()) == ["fine@example.com", "unlucky@example.com"]
    assert sent_records.status_of(message.dedupe_key) == sent_records.SENT


def test_a_failing_channel_does_not_hold_back_the_others(
    notifier: Notifier,
) -> None:
    from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me

    identity = Identity(sub="c0000000-0000-4000-8000-000000000001", email=BUYER)
    ensure_profile(identity)
    phone = "+8613800138000"
    update_me(identity, Patch(notification_channels=("email", "sms"), phone=phone, phone_set=True))
    stored = write_order(owner=CUSTOMER)
    body = order_body(stored, "order.paid")
    senders = {
        Channel.EMAIL: FailingFor(SesEmailSender(SENDER), BUYER),
        Channel.SMS: SnsSmsSender(),
        Channel.PUSH: SnsSmsSender(),
    }
    delivery.use_senders(senders)

    response = notifier.deliver(body)

    # The email failed, the SMS went anyway, and the record is failed for a retry.
    assert len(response["batchItemFailures"]) == 1
    assert [(m["channel"], m["to"]) for m in Outbox().items()] == [("sms", phone)]

    delivery.use_senders(None)
    assert notifier.deliver(body, receive_count=2) == {"batchItemFailures": []}
    assert sorted((m["channel"], m["to"]) for m in Outbox().items()) == [
        ("email", BUYER),
        ("sms", phone),
    ]


def response_id(response: dict[str, Any], index: int) -> str:
    ids = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    matching = [i for i in ids if i.startswith(f"m-{index}-")]
    assert matching, ids
    return matching[0]


def _messages(body: str) -> list[OutgoingMessage]:
    return delivery.messages_for(queue.parse_body(body))


def test_events_no_retry_can_help_go_to_the_dlq_at_once(notifier: Notifier) -> None:
    unknown = DomainEvent("e-unknown", "order.teleported", "2030-01-01T00:00:00Z", {}).to_json()
    missing = DomainEvent(
        "e-missing", "order.paid", "2030-01-01T00:00:00Z", {"order_id": "ord-nowhere"}
    ).to_json()

    response = notifier.deliver("not json", unknown, missing)

    assert response == {"batchItemFailures": []}
    dead = notifier.dead_letters()
    assert sorted(m["Body"] for m in dead) == sorted(["not json", unknown, missing])
    assert {m["MessageAttributes"]["error"]["StringValue"] for m in dead} == {
        "NotificationError",
        "UnknownEvent",
    }
    assert mails() == []


# --- low stock ------------------------------------------------------------------------------------


def test_low_stock_mails_the_ops_mailbox(notifier: Notifier) -> None:
    from commerce.catalog.low_stock import low_stock_event

    event = low_stock_event(
        "NTF-A", available=2, safety_stock=5, crossing=1, occurred_at="2030-01-01T00:00:00Z"
    )

    assert notifier.deliver(event.to_json(), event.to_json()) == {"batchItemFailures": []}

    [mail] = mails()
    assert mail["to"] == OPS
    assert mail["template"] == "en/inventory.low_stock.email"
    assert "NTF-A" in mail["body"]


# --- logs -----------------------------------------------------------------------------------------


def test_log_lines_carry_no_personal_data(
    notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    stored = write_order("private.person@example.com", locale="zh-CN")
    body = order_body(stored, "order.shipped")
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        with caplog.at_level("INFO"):
            notifier.deliver(body)
            notifier.deliver(body)
    finally:
        logger.setLevel(level)

    # Each record as the function's JSON formatter writes it to CloudWatch.
    out = [logger.registered_formatter.format(record) for record in caplog.records]
    lines = [json.loads(line) for line in out]
    messages = {line.get("message") for line in lines}
    assert {"notification sent", "notification already sent"} <= messages
    text = "\n".join(out)
    assert "private.person" not in text
    assert "SF1234567890" not in text  # nor the message's text
    [sent] = [line for line in lines if line.get("message") == "notification sent"]
    assert sent["template"] == "zh-CN/order.shipped.email"
    assert sent["ref"] == stored.order_id


# --- SMS ------------------------------------------------------------------------------------------


def test_sms_goes_through_sns_once_beside_the_email(notifier: Notifier) -> None:
    from commerce.domain.consent import Audience
    from commerce.notifications.messages import Recipient, build_messages

    stored = write_order()
    event = queue.parse_body(order_body(stored, "order.paid"))
    completed = addressing.address(event).event
    recipient = Recipient(
        Audience.CUSTOMER,
        email=BUYER,
        phone="+86 138-0013-8000",
        locale="zh-CN",
        channels=frozenset({Channel.EMAIL, Channel.SMS}),
    )
    body = {
        "event_id": completed.event_id,
        "type": completed.type.value,
        "occurred_at": completed.occurred_at,
        "data": completed.data,
    }
    messages = build_messages(body, recipient)
    adapters = sender.default_senders()

    sent = [delivery.send_once(m, adapters[m.channel], now=1000) for m in messages * 2]

    sent_now, duplicate = delivery.Delivery.SENT, delivery.Delivery.DUPLICATE
    assert sent == [sent_now, sent_now, duplicate, duplicate]
    items = Outbox().items()
    assert sorted((i["channel"], i["to"]) for i in items) == [
        ("email", BUYER),
        ("sms", "+8613800138000"),
    ]
    [sms] = [i for i in items if i["channel"] == "sms"]
    assert sms["body"].startswith("【示例商城】")


# --- the sample events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "to", "template"),
    [
        ("notifications_order_paid.json", BUYER, "en/order.paid.email"),
        ("notifications_low_stock.json", OPS, "en/inventory.low_stock.email"),
    ],
)
def test_the_sample_events_send_their_mail(
    notifier: Notifier, name: str, to: str, template: str
) -> None:
    event = json.loads((EVENTS / name).read_text())
    body = json.loads(event["Records"][0]["body"])
    if body["type"].startswith("order."):
        write_order(order_id=body["data"]["order_id"])

    response = notifier.module.lambda_handler(event, Context())

    assert response == {"batchItemFailures": []}
    assert [(m["to"], m["template"]) for m in mails()] == [(to, template)]


# --- the abandoned-cart reminder ----------------------------------------------------------------


def _cart_reminder(owner_sub: str) -> str:
    from commerce.carts.reminders import abandoned_event
    from commerce.store.carts import StoredCart, StoredLine

    cart = StoredCart(
        cart_id="cart-0123456789abcdef",
        owner_sub=owner_sub,
        token_hash=None,
        shipping_address=None,
        coupons=(),
        lines=(StoredLine("NTF-A", 2, Money(1250, "CNY"), 1),),
    )
    return abandoned_event(cart, "2030-01-01T00:00:00.000000Z").to_json()


def test_a_cart_reminder_is_one_email_to_the_consenting_owner_in_their_language(
    notifier: Notifier,
) -> None:
    from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me

    identity = Identity(sub="c-cart-owner", email=BUYER, locale="zh-CN")
    ensure_profile(identity)
    update_me(identity, Patch(marketing_consent=True))
    body = _cart_reminder("c-cart-owner")

    assert notifier.deliver(body) == {"batchItemFailures": []}
    assert notifier.deliver(body) == {"batchItemFailures": []}  # a redelivery sends nothing more

    assert [(m["to"], m["template"]) for m in Outbox().items()] == [
        (BUYER, "zh-CN/cart.abandoned.email")
    ]


@pytest.mark.parametrize("consent", [False, None])
def test_a_cart_reminder_reaches_nobody_without_consent_or_profile(
    notifier: Notifier, consent: bool | None
) -> None:
    if consent is not None:
        from commerce.customers.profiles import Identity, ensure_profile

        ensure_profile(Identity(sub="c-cart-owner", email=BUYER))

    assert notifier.deliver(_cart_reminder("c-cart-owner")) == {"batchItemFailures": []}

    assert Outbox().items() == []
    assert notifier.dead_letters() == []


# --- delivery progress and support replies -----------------------------------------------------


def test_out_for_delivery_mails_the_order_email_in_its_language(notifier: Notifier) -> None:
    stored = write_order(locale="zh-CN")
    body = DomainEvent(
        event_id="ofd-evt-1",
        type="order.out_for_delivery",
        occurred_at="2030-01-02T08:00:00Z",
        data={
            "order_id": stored.order_id,
            "owner_sub": None,
            "at": "2030-01-02T08:00:00Z",
            "location": "Xuhui depot",
        },
    ).to_json()
    assert notifier.deliver(body) == {"batchItemFailures": []}
    assert notifier.deliver(body) == {"batchItemFailures": []}  # redelivered: sent once
    (sent,) = mails()
    assert (sent["to"], sent["template"]) == (BUYER, "zh-CN/order.out_for_delivery.email")
    assert "SF1234567890" in sent["body"]  # the order's tracking number, read from the order
    assert "Xuhui depot" in sent["body"]


def test_a_support_reply_reaches_the_customer_without_marketing_consent(
    notifier: Notifier,
) -> None:
    from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me

    identity = Identity(sub=CUSTOMER, email=BUYER, locale="en")
    ensure_profile(identity)
    update_me(
        identity,
        Patch(
            marketing_consent=False,
            notification_channels=("email", "sms"),
            phone="+8613700001111",
            phone_set=True,
        ),
    )
    body = DomainEvent(
        event_id="reply-evt-1",
        type="ticket.replied",
        occurred_at="2030-01-02T08:00:00Z",
        data={
            "ticket_id": "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
            "owner_sub": CUSTOMER,
            "ticket_subject": "Cracked cup",
            "message": "A new cup ships today.",
            "order_id": None,
        },
    ).to_json()
    assert notifier.deliver(body) == {"batchItemFailures": []}
    by_channel = {m["channel"]: m for m in Outbox().items()}
    assert set(by_channel) == {"email", "sms"}
    assert by_channel["sms"]["to"] == "+8613700001111"
    assert "ending 3e2d1c0b" in by_channel["sms"]["body"]
    (mail,) = mails()
    assert mail["template"] == "en/ticket.replied.email"
    assert mail["subject"] == "Re: Cracked cup"
    assert "A new cup ships today." in mail["body"]
    listed = sent_records.customer_messages(CUSTOMER)
    assert {m["ref"] for m in listed} == {"5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"}  # the ticket


def test_a_support_reply_to_an_erased_customer_reaches_nobody(notifier: Notifier) -> None:
    body = DomainEvent(
        event_id="reply-evt-2",
        type="ticket.replied",
        occurred_at="2030-01-02T08:00:00Z",
        data={"ticket_id": "t" * 32, "owner_sub": "gone", "ticket_subject": "s", "message": "m"},
    ).to_json()
    assert notifier.deliver(body) == {"batchItemFailures": []}
    assert Outbox().items() == []
    assert notifier.dead_letters() == []


def test_a_support_reply_without_a_profile_goes_to_the_tickets_email_unless_erasing(
    notifier: Notifier,
) -> None:
    from commerce.store import customers as customer_store

    def reply(event_id: str, sub: str) -> str:
        return DomainEvent(
            event_id=event_id,
            type="ticket.replied",
            occurred_at="2030-01-02T08:00:00Z",
            data={
                "ticket_id": "a" * 32,
                "owner_sub": sub,
                "email": BUYER,
                "ticket_subject": "Where is it?",
                "message": "Out today.",
            },
        ).to_json()

    assert notifier.deliver(reply("reply-evt-3", "no-profile-yet")) == {"batchItemFailures": []}
    assert [(m["to"], m["template"]) for m in mails()] == [(BUYER, "en/ticket.replied.email")]
    from commerce.customers.profiles import Identity, ensure_profile

    ensure_profile(Identity(sub="being-erased", email=BUYER))
    customer_store.mark_erasing("being-erased")
    assert notifier.deliver(reply("reply-evt-4", "being-erased")) == {"batchItemFailures": []}
    assert len(mails()) == 1
