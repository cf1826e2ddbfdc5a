"""Templates to text: one sandboxed, autoescaping Jinja2 environment per process.

Templates live in this package under ``templates/{locale}/{event}.{channel}.{ext}``:

- email: ``{event}.email.txt`` (the plain text; its ``{% set subject %}`` block is the subject)
  and ``{event}.email.html`` (the HTML part, given ``subject`` too);
- sms: ``{event}.sms.txt``, one short line;
- push: ``{event}.push.txt`` (the body; its ``{% set title %}`` block is the title).

The environment is sandboxed and immutable (a template cannot call unsafe methods or change the
data it is given), escapes HTML in ``.html`` templates only (``select_autoescape``), and treats
a missing variable as an error (``StrictUndefined``): a message with a blank where the tracking
number should be is worse than one that is not sent and lands in the dead-letter queue.

Filters, each formatting for the locale being rendered (formats.py):
``money`` (a wire Money ``{"amount", "currency"}``), ``datetime`` and ``date`` (ISO 8601 strings),
``short_ref`` (the last 8 characters of an id, for SMS and titles) and ``carrier`` (a carrier's
display name).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import (
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from commerce.domain.consent import Channel, EventType, NotificationError, event_type
from commerce.domain.locale import DEFAULT_LOCALE, Locale, negotiate
from commerce.domain.money import Money
from commerce.notifications.formats import format_date, format_datetime, format_money

#: Characters one SMS holds: 160 in the GSM 7-bit alphabet, 70 once any character needs UCS-2
#: (every Chinese one does). Longer texts are split and billed per part.
SMS_LIMITS: Final[Mapping[Locale, int]] = {Locale.ZH_CN: 70, Locale.EN: 160}

#: The GSM 03.38 basic character set (no escape table), to tell whether English text stays 7-bit.
GSM7_CHARACTERS: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

#: Characters of an id shown where space is short; the full id is in the email.
SHORT_REF_CHARS: Final = 8

#: Display names of the carriers the shop ships with; any other carrier shows as given.
CARRIER_NAMES: Final[Mapping[str, Mapping[Locale, str]]] = {
    "sf": {Locale.ZH_CN: "顺丰速运", Locale.EN: "SF Express"},
    "jd": {Locale.ZH_CN: "京东物流", Locale.EN: "JD Logistics"},
    "ems": {Locale.ZH_CN: "中国邮政EMS", Locale.EN: "China Post EMS"},
    "zto": {Locale.ZH_CN: "中通快递", Locale.EN: "ZTO Express"},
    "yto": {Locale.ZH_CN: "圆通速递", Locale.EN: "YTO Express"},
    "sto": {Locale.ZH_CN: "申通快递", Locale.EN: "STO Express"},
    "yunda": {Locale.ZH_CN: "韵达快递", Locale.EN: "Yunda Express"},
}


class RenderError(NotificationError):
    """A template is missing or could not be rendered with the context given (a missing value)."""


@dataclass(frozen=True)
class RenderedMessage:
    """What one channel sends: ``text`` always; ``subject`` and ``html`` for email, ``title`` for
    push."""

    text: str
    subject: str | None = None
    html: str | None = None
    title: str | None = None


def template_name(event: EventType, channel: Channel, locale: Locale, ext: str = "txt") -> str:
    """The path of a template inside ``templates/``."""
    return f"{locale.value}/{event.value}.{channel.value}.{ext}"


def template_id(event: EventType, channel: Channel, locale: Locale) -> str:
    """How a message names its template in logs and the outbox: ``zh-CN/order.paid.email``."""
    return f"{locale.value}/{event.value}.{channel.value}"


def resolve_locale(value: Locale | str | None) -> Locale:
    """A Locale from a Locale, a tag, an ``Accept-Language`` header or nothing (en)."""
    return value if isinstance(value, Locale) else negotiate(value)


def fits_one_sms(text: str, locale: Locale) -> bool:
    """True when ``text`` goes out as one SMS part (GSM-7 for en, UCS-2 for zh-CN)."""
    if locale is Locale.EN and not set(text) <= GSM7_CHARACTERS:
        return len(text) <= SMS_LIMITS[Locale.ZH_CN]
    return len(text) <= SMS_LIMITS[locale]


# --- Filters -----------------------------------------------------------------------------------


def _locale_of(context: Context) -> Locale:
    return Locale(context["locale"])


@pass_context
def _money(context: Context, value: Any) -> str:
    if isinstance(value, Money):
        return format_money(value.amount, value.currency, _locale_of(context))
    if isinstance(value, Mapping):
        return format_money(value["amount"], value["currency"], _locale_of(context))
    raise RenderError(f"money is a {{amount, currency}} object, not {type(value).__name__}")


@pass_context
def _datetime(context: Context, value: Any) -> str:
    return format_datetime(value, _locale_of(context))


@pass_context
def _date(context: Context, value: Any) -> str:
    return format_date(value, _locale_of(context))


def _short_ref(value: Any) -> str:
    return str(value)[-SHORT_REF_CHARS:]


@pass_context
def _carrier(context: Context, value: Any) -> str:
    names = CARRIER_NAMES.get(str(value).strip().lower())
    return names[_locale_of(context)] if names else str(value)


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The process's template environment: made once, templates compiled once each."""
    env = ImmutableSandboxedEnvironment(
        loader=PackageLoader("commerce.notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; never stat them again
    )
    env.filters.update(
        money=_money, datetime=_datetime, date=_date, short_ref=_short_ref, carrier=_carrier
    )
    return env


# --- Rendering ---------------------------------------------------------------------------------

_BLANK_LINES: Final = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no blank ends."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return _BLANK_LINES.sub("\n\n", lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _exported(module: object, name: str) -> str:
    """A ``{% set name %}`` block of a template, on one line; a template without it is broken."""
    value = _one_line(str(getattr(module, name, "")))
    if not value:
        raise RenderError(f"the template sets no {name}")
    return value


def _render(
    event: EventType, channel: Channel, locale: Locale, context: Mapping[str, Any]
) -> RenderedMessage:
    env = environment()
    variables = {**context, "locale": locale.value}
    module = env.get_template(template_name(event, channel, locale)).make_module(variables)
    if channel is Channel.EMAIL:
        subject = _exported(module, "subject")
        html = env.get_template(template_name(event, channel, locale, "html")).render(
            {**variables, "subject": subject}
        )
        return RenderedMessage(text=_tidy(str(module)), subject=subject, html=html.strip())
    if channel is Channel.PUSH:
        title = _exported(module, "title")
        return RenderedMessage(text=_one_line(str(module)), title=title)
    return RenderedMessage(text=_one_line(str(module)))


def render(
    event: str | EventType,
    channel: str | Channel,
    locale: Locale | str | None,
    context: Mapping[str, Any],
) -> RenderedMessage:
    """The message for ``event`` on ``channel`` in the best locale for ``locale``.

    ``locale`` may be a Locale, a tag or an ``Accept-Language`` value; anything unsupported is
    rendered in en. ``RenderError`` when a template is missing or ``context`` lacks a value one
    uses; ``UnknownEvent`` for an event with no templates.
    """
    kind = event_type(event)
    try:
        medium = Channel(channel)
    except ValueError:
        raise RenderError(f"unknown channel {channel!r}") from None
    chosen = resolve_locale(locale)
    try:
        try:
            return _render(kind, medium, chosen, context)
        except TemplateNotFound:
            if chosen is DEFAULT_LOCALE:
                raise
            return _render(kind, medium, DEFAULT_LOCALE, context)
    except TemplateNotFound as error:
        raise RenderError(f"no template {error.name} for {kind.value} on {medium.value}") from None
    except TemplateError as error:
        where = template_id(kind, medium, chosen)
        raise RenderError(f"{where} could not be rendered: {error.message}") from error
    except (KeyError, ValueError, TypeError) as error:
        where = template_id(kind, medium, chosen)
        raise RenderError(f"{where} could not be rendered: {error!r}") from error
