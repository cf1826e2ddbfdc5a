"""Notification templates: every event, channel and locale renders; escaping, limits, formats."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from commerce.domain.consent import (
    CHANNEL_ORDER,
    PURPOSES,
    Audience,
    Channel,
    EventType,
    UnknownEvent,
)
from commerce.domain.locale import Locale, negotiate
from commerce.notifications.formats import FormatError, format_date, format_datetime, format_money
from commerce.notifications.messages import (
    DEFAULT_STORE,
    NotificationEvent,
    Recipient,
    template_context,
)
from commerce.notifications.rendering import (
    SMS_LIMITS,
    RenderError,
    environment,
    fits_one_sms,
    render,
    template_name,
)
from hypothesis import given
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError

pytestmark = pytest.mark.unit

ORDER_ID = "3f9a1c2b7d4e4f0a9b8c6d5e4f3a2b1c"  # a uuid4 hex, as the services make ids


def cny(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


LINES = [
    {"sku": "DEMO-TEACUP-SET4", "name": "青瓷茶杯四件套", "quantity": 2, "unit_price": cny(12850)},
    {
        "sku": "TEA-LONGJING-250G",
        "name": "West Lake Longjing tea, 250 g",
        "quantity": 1,
        "unit_price": cny(6800),
    },
]
TOTALS = {
    "subtotal": cny(32500),
    "discount": cny(2000),
    "shipping": cny(1000),
    "points_redeemed": cny(500),
    "total": cny(31000),
}

#: The data each event carries, as its producer sends it (docs/notifications.md).
EVENT_DATA: dict[EventType, dict[str, Any]] = {
    EventType.ORDER_PLACED: {"order_id": ORDER_ID, "lines": LINES, "totals": TOTALS},
    EventType.ORDER_PAID: {"order_id": ORDER_ID, "lines": LINES, "totals": TOTALS},
    EventType.ORDER_PAYMENT_FAILED: {"order_id": ORDER_ID, "totals": TOTALS},
    EventType.ORDER_CANCELLED: {"order_id": ORDER_ID, "totals": TOTALS, "refund": cny(31000)},
    EventType.ORDER_SHIPPED: {
        "order_id": ORDER_ID,
        "lines": LINES,
        "carrier": "sf",
        "tracking_number": "SF1402837465920",
    },
    EventType.ORDER_DELIVERED: {"order_id": ORDER_ID, "delivered_at": "2025-03-14T09:26:53Z"},
    EventType.ORDER_RETURN_REQUESTED: {
        "order_id": ORDER_ID,
        "return_id": "7c1e5d2a9b3f4e6d8a0b1c2d3e4f5a6b",
        "lines": [{"sku": "DEMO-TEACUP-SET4", "name": "青瓷茶杯四件套", "quantity": 1}],
    },
    EventType.ORDER_REFUNDED: {
        "order_id": ORDER_ID,
        "return_id": "7c1e5d2a9b3f4e6d8a0b1c2d3e4f5a6b",
        "refund": cny(12850),
    },
    EventType.ORDER_OUT_FOR_DELIVERY: {
        "order_id": ORDER_ID,
        "carrier": "sf",
        "tracking_number": "SF1402837465920",
        "location": "Xuhui depot, Shanghai",
        "at": "2025-03-14T07:02:11Z",
    },
    EventType.TICKET_REPLIED: {
        "ticket_id": "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
        "owner_sub": "sub-li-wei",
        "ticket_subject": "Cracked teacup",
        "message": "Sorry about the cup.\nA replacement ships today: watch for its tracking.",
        "order_id": ORDER_ID,
    },
    EventType.CART_ABANDONED: {
        "cart_id": "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
        "lines": LINES,
        "subtotal": cny(32500),
    },
    EventType.CAMPAIGN_MESSAGE: {
        "campaign_id": "4b7e1c9d2a3f4e5b8c6d0a1f2e3b4c5d",
        "customer_id": "5f2b7c1e-8a4d-4b6e-9c3f-1d2e3f4a5b6c",
        "campaign_subject": "Double 11 starts tonight",
        "campaign_body": "Members get early access from 20:00.\nSee you there!",
    },
    EventType.INVENTORY_LOW_STOCK: {"sku": "DEMO-TEACUP-SET4", "available": 3, "safety_stock": 5},
}

CUSTOMER = Recipient(Audience.CUSTOMER, email="li.wei@example.com", name="李伟")


def context_for(
    event: EventType, locale: Locale, data: dict[str, Any] | None = None, name: str | None = "李伟"
) -> dict[str, Any]:
    parsed = NotificationEvent(
        event_id="e" * 64,
        type=event,
        occurred_at="2025-03-14T09:30:00Z",
        data=EVENT_DATA[event] if data is None else data,
    )
    recipient = Recipient(Audience.CUSTOMER, email="li.wei@example.com", name=name)
    return template_context(parsed, recipient, locale, DEFAULT_STORE)


PRODUCT = [(e, c, loc) for e in EventType for c in CHANNEL_ORDER for loc in Locale]


def test_every_event_has_data_and_a_purpose() -> None:
    assert set(EVENT_DATA) == set(EventType) == set(PURPOSES)


def test_template_files_are_exactly_the_product() -> None:
    root = resources.files("commerce.notifications").joinpath("templates")
    found = {
        f"{folder.name}/{f.name}"
        for folder in root.iterdir()
        if folder.is_dir()
        for f in folder.iterdir()
        if not f.name.startswith("_")
    }
    expected = {template_name(e, c, loc) for e, c, loc in PRODUCT} | {
        template_name(e, Channel.EMAIL, loc, "html") for e in EventType for loc in Locale
    }
    assert found == expected


@pytest.mark.parametrize(("event", "channel", "locale"), PRODUCT)
def test_every_template_renders(event: EventType, channel: Channel, locale: Locale) -> None:
    message = render(event, channel, locale, context_for(event, locale))
    assert message.text
    for part in (message.text, message.subject, message.html, message.title):
        assert part is None or ("{{" not in part and "{%" not in part and "Undefined" not in part)
    if channel is Channel.EMAIL:
        assert message.subject
        assert message.html
        assert message.html.startswith("<!DOCTYPE html>")
        assert f'lang="{locale.value}"' in message.html
        assert "\n" not in message.subject
    else:
        assert message.html is None
        assert message.subject is None
    assert (message.title is not None) is (channel is Channel.PUSH)
    if channel is not Channel.EMAIL:
        assert "\n" not in message.text
    han = re.search(
        r"[\u4e00-\u9fff]", message.text.replace("李伟", "").replace("青瓷茶杯四件套", "")
    )
    assert (han is not None) is (locale is Locale.ZH_CN)


@pytest.mark.parametrize("locale", list(Locale))
@pytest.mark.parametrize("event", [e for e in EventType if "lines" in EVENT_DATA[e]])
def test_email_lists_the_lines(event: EventType, locale: Locale) -> None:
    message = render(event, Channel.EMAIL, locale, context_for(event, locale))
    assert message.html is not None
    for part in (message.text, message.html):
        assert "青瓷茶杯四件套" in part


@pytest.mark.parametrize("locale", list(Locale))
def test_a_guest_without_a_name_is_greeted_plainly(locale: Locale) -> None:
    event = EventType.ORDER_PAID
    text = render(event, Channel.EMAIL, locale, context_for(event, locale, name=None)).text
    greeting = {Locale.EN: "Hello,", Locale.ZH_CN: "您好\uff1a"}[locale]
    assert text.splitlines()[0] == greeting


@pytest.mark.parametrize(("event", "channel", "locale"), PRODUCT)
def test_a_missing_value_is_an_error_not_a_blank(
    event: EventType, channel: Channel, locale: Locale
) -> None:
    context = context_for(event, locale)
    for key in EVENT_DATA[event]:
        broken = {k: v for k, v in context.items() if k != key}
        try:
            render(event, channel, locale, broken)
        except RenderError:
            return
    pytest.fail("no data key is required by this template")  # pragma: no cover


def test_missing_tracking_number_is_a_render_error() -> None:
    context = context_for(EventType.ORDER_SHIPPED, Locale.EN)
    del context["tracking_number"]
    with pytest.raises(RenderError, match="tracking_number"):
        render(EventType.ORDER_SHIPPED, Channel.SMS, Locale.EN, context)


def test_unknown_event_and_channel() -> None:
    with pytest.raises(UnknownEvent):
        render("order.teleported", Channel.EMAIL, Locale.EN, {})
    with pytest.raises(RenderError):
        render(EventType.ORDER_PAID, "fax", Locale.EN, {})


# --- Escaping ----------------------------------------------------------------------------------

SCRIPT = "<script>alert('x')</script> & Co"


@pytest.mark.parametrize("locale", list(Locale))
@pytest.mark.parametrize("event", [e for e in EventType if "lines" in EVENT_DATA[e]])
def test_html_escapes_data_and_text_keeps_it(event: EventType, locale: Locale) -> None:
    data = dict(EVENT_DATA[event])
    data["lines"] = [{**data["lines"][0], "name": SCRIPT}]
    message = render(event, Channel.EMAIL, locale, context_for(event, locale, data))
    assert message.html is not None
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in message.html
    assert SCRIPT in message.text


@pytest.mark.parametrize("locale", list(Locale))
def test_a_campaign_body_is_escaped_in_html_and_kept_in_text(locale: Locale) -> None:
    event = EventType.CAMPAIGN_MESSAGE
    data = {**EVENT_DATA[event], "campaign_body": SCRIPT}
    message = render(event, Channel.EMAIL, locale, context_for(event, locale, data))
    assert message.html is not None
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert SCRIPT in message.text


@pytest.mark.parametrize("locale", list(Locale))
def test_sms_push_and_subject_are_not_html_escaped(locale: Locale) -> None:
    event = EventType.ORDER_SHIPPED
    data = {**EVENT_DATA[event], "carrier": "A&B <Express>"}
    context = context_for(event, locale, data)
    assert "A&B <Express>" in render(event, Channel.SMS, locale, context).text
    assert "A&B <Express>" in render(event, Channel.PUSH, locale, context).text
    low = {"sku": "A&B<1>", "available": 1, "safety_stock": 2}
    ops = context_for(EventType.INVENTORY_LOW_STOCK, locale, low)
    assert "A&B<1>" in (
        render(EventType.INVENTORY_LOW_STOCK, Channel.EMAIL, locale, ops).subject or ""
    )


def test_sandbox_refuses_to_change_data() -> None:
    with pytest.raises(SecurityError):
        environment().from_string("{{ items.append(1) }}").render(items=[])


def test_environment_is_made_once() -> None:
    assert environment() is environment()


# --- SMS length --------------------------------------------------------------------------------

#: Plausible longest values: a 20-character tracking number, an unknown carrier shown as given,
#: a total in the millions, a SKU of 24 characters.
LONG_DATA: dict[EventType, dict[str, Any]] = {
    **EVENT_DATA,
    EventType.ORDER_PLACED: {
        **EVENT_DATA[EventType.ORDER_PLACED],
        "totals": {**TOTALS, "total": cny(1_234_567_89)},
    },
    EventType.ORDER_PAID: {
        **EVENT_DATA[EventType.ORDER_PAID],
        "totals": {**TOTALS, "total": cny(1_234_567_89)},
    },
    EventType.ORDER_CANCELLED: {
        **EVENT_DATA[EventType.ORDER_CANCELLED],
        "refund": cny(1_234_567_89),
    },
    EventType.ORDER_REFUNDED: {**EVENT_DATA[EventType.ORDER_REFUNDED], "refund": cny(1_234_567_89)},
    EventType.ORDER_SHIPPED: {
        **EVENT_DATA[EventType.ORDER_SHIPPED],
        "carrier": "Cainiao",
        "tracking_number": "YT78123456789012345X",
    },
    EventType.ORDER_OUT_FOR_DELIVERY: {
        **EVENT_DATA[EventType.ORDER_OUT_FOR_DELIVERY],
        "carrier": "Cainiao",
        "location": "Urumqi Saybag District third delivery station, Xinjiang " * 3,
    },
    EventType.TICKET_REPLIED: {
        **EVENT_DATA[EventType.TICKET_REPLIED],
        "ticket_subject": "s" * 200,
        "message": "long " * 1000,
    },
    # Ops write a campaign's subject and body: SMS and push carry them cut short.
    EventType.CAMPAIGN_MESSAGE: {
        **EVENT_DATA[EventType.CAMPAIGN_MESSAGE],
        "campaign_subject": "Early access " * 16,
        "campaign_body": "Everything must go. " * 250,
    },
    EventType.INVENTORY_LOW_STOCK: {
        "sku": "DEMO-TEACUP-SET4-CELADON",
        "available": 12345,
        "safety_stock": 20000,
    },
}


@pytest.mark.parametrize("locale", list(Locale))
@pytest.mark.parametrize("event", list(EventType))
@pytest.mark.parametrize("data", [EVENT_DATA, LONG_DATA], ids=["typical", "long"])
def test_sms_fits_one_part(
    event: EventType, locale: Locale, data: dict[EventType, dict[str, Any]]
) -> None:
    text = render(event, Channel.SMS, locale, context_for(event, locale, data[event])).text
    assert len(text) <= SMS_LIMITS[locale], text
    assert fits_one_sms(text, locale), text
    if locale is Locale.ZH_CN:
        assert text.startswith(f"【{DEFAULT_STORE.names[locale]}】")


def test_fits_one_sms_knows_the_alphabet() -> None:
    assert fits_one_sms("x" * 160, Locale.EN)
    assert not fits_one_sms("x" * 161, Locale.EN)
    assert fits_one_sms("CN¥1.00 " + "x" * 150, Locale.EN)  # ¥ is in the GSM alphabet
    assert not fits_one_sms("\u2019" + "x" * 70, Locale.EN)  # a curly quote forces UCS-2
    assert fits_one_sms("中" * 70, Locale.ZH_CN)
    assert not fits_one_sms("中" * 71, Locale.ZH_CN)


# --- Locale negotiation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wish", "locale"),
    [
        (None, Locale.EN),
        ("", Locale.EN),
        ("zh-CN", Locale.ZH_CN),
        ("zh", Locale.ZH_CN),
        ("zh-Hans-CN", Locale.ZH_CN),
        ("zh_CN", Locale.ZH_CN),
        ("ZH-cn", Locale.ZH_CN),
        ("zh-TW", Locale.ZH_CN),
        ("en", Locale.EN),
        ("en-US", Locale.EN),
        ("en_GB", Locale.EN),
        ("fr-FR", Locale.EN),
        ("*", Locale.EN),
        ("zh-CN,zh;q=0.9,en;q=0.8", Locale.ZH_CN),
        ("en-US,en;q=0.9,zh-CN;q=0.8", Locale.EN),
        ("fr-FR,fr;q=0.9,zh;q=0.8,en;q=0.7", Locale.ZH_CN),
        ("en;q=0.5, zh-CN;q=0.9", Locale.ZH_CN),
        ("zh;q=0, en", Locale.EN),
        ("zh;q=0", Locale.EN),
        ("de, *;q=0.1", Locale.EN),
        ("zh;q=abc, en;q=0.1", Locale.EN),
        (" , ;q=1, zh-CN ", Locale.ZH_CN),
        ("en;q=0.8, zh;q=0.8", Locale.EN),
        ("x" * 5000, Locale.EN),
    ],
)
def test_negotiate(wish: str | None, locale: Locale) -> None:
    assert negotiate(wish) is locale


@given(st.text(max_size=200))
def test_negotiate_is_total(header: str) -> None:
    assert negotiate(header) in set(Locale)


@pytest.mark.parametrize(
    ("wish", "template"), [("fr-FR", "en"), ("zh-Hans-CN", "zh-CN"), ("zh-CN,zh;q=0.9", "zh-CN")]
)
def test_render_falls_back_to_the_best_locale(wish: str, template: str) -> None:
    event = EventType.ORDER_PAID
    locale = negotiate(wish)
    message = render(event, Channel.SMS, wish, context_for(event, locale))
    expected = render(event, Channel.SMS, Locale(template), context_for(event, locale))
    assert message == expected


# --- Money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "zh", "en"),
    [
        (0, "¥0.00", "CN¥0.00"),
        (5, "¥0.05", "CN¥0.05"),
        (123450, "¥1,234.50", "CN¥1,234.50"),
        (100000000, "¥1,000,000.00", "CN¥1,000,000.00"),
        (-2000, "-¥20.00", "-CN¥20.00"),
    ],
)
def test_money_examples(amount: int, zh: str, en: str) -> None:
    assert format_money(amount, "CNY", Locale.ZH_CN) == zh
    assert format_money(amount, "CNY", Locale.EN) == en


@pytest.mark.parametrize("amount", [1.5, 100.0, True, "100", None])
def test_money_refuses_anything_but_integer_minor_units(amount: object) -> None:
    with pytest.raises(FormatError):
        format_money(amount, "CNY", Locale.EN)  # type: ignore[arg-type]


def test_money_refuses_unknown_currencies() -> None:
    with pytest.raises(FormatError):
        format_money(100, "USD", Locale.EN)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(list(Locale)))
def test_money_shows_exactly_the_minor_units(amount: int, locale: Locale) -> None:
    shown = format_money(amount, "CNY", locale)
    assert re.fullmatch(r"-?(CN)?¥\d{1,3}(,\d{3})*\.\d{2}", shown)
    digits = re.sub(r"[^0-9]", "", shown)
    assert int(digits) * (-1 if shown.startswith("-") else 1) == amount


def test_money_filter_takes_the_wire_shape() -> None:
    template = environment().from_string("{{ price|money }}")
    assert template.render(price=cny(123450), locale="zh-CN") == "¥1,234.50"
    assert template.render(price=cny(123450), locale="en") == "CN¥1,234.50"


# --- Dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("2025-03-14T09:26:53Z", "2025年3月14日 17:26", "14 March 2025, 09:26 UTC"),
        ("2024-12-31T20:05:00Z", "2025年1月1日 04:05", "31 December 2024, 20:05 UTC"),
        ("2024-12-31T20:05:00", "2025年1月1日 04:05", "31 December 2024, 20:05 UTC"),
        ("2025-01-01T04:05:00+08:00", "2025年1月1日 04:05", "31 December 2024, 20:05 UTC"),
    ],
)
def test_datetime_is_shown_in_the_readers_time_zone(value: str, zh: str, en: str) -> None:
    assert format_datetime(value, Locale.ZH_CN) == zh
    assert format_datetime(value, Locale.EN) == en


def test_date_is_the_local_calendar_day() -> None:
    assert format_date("2024-12-31T20:05:00Z", Locale.ZH_CN) == "2025年1月1日"
    assert format_date("2024-12-31T20:05:00Z", Locale.EN) == "31 December 2024"


@pytest.mark.parametrize("value", ["yesterday", "", 1700000000, None])
def test_a_time_must_be_iso_8601(value: object) -> None:
    with pytest.raises(FormatError):
        format_datetime(value, Locale.EN)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("carrier", "zh", "en"),
    [
        ("sf", "顺丰速运", "SF Express"),
        ("SF", "顺丰速运", "SF Express"),
        ("Cainiao", "Cainiao", "Cainiao"),
    ],
)
def test_carrier_names(carrier: str, zh: str, en: str) -> None:
    template = environment().from_string("{{ c|carrier }}")
    assert template.render(c=carrier, locale="zh-CN") == zh
    assert template.render(c=carrier, locale="en") == en


def test_short_ref_is_the_end_of_the_id() -> None:
    template = environment().from_string("{{ i|short_ref }}")
    assert template.render(i=ORDER_ID) == "4f3a2b1c"
    assert template.render(i="A12") == "A12"
