"""Money and dates as each locale writes them, for the messages' templates.

Formatted here by hand rather than with Babel: two locales and one currency need a few lines,
while Babel's locale data would add some 30 MB to the Lambda layer every function loads. The
formats follow CLDR's for these locales:

- money: ``¥1,234.50`` (zh-CN) and ``CN¥1,234.50`` (en) from integer minor units, never a float;
- times: zh-CN in Beijing time (Asia/Shanghai, UTC+8, no daylight saving since 1991),
  ``2024年5月1日 20:34``; en in UTC, ``1 May 2024, 12:34 UTC``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commerce.domain.locale import Locale


class FormatError(ValueError):
    """A value a format cannot show truthfully (a float amount, an unknown currency, ...)."""


# --- Money -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyFormat:
    """How one currency is shown: digits after the point and the symbol per locale."""

    exponent: int
    symbols: Mapping[Locale, str]


#: Currencies messages can show. Adding one means stating its exponent and symbols here.
CURRENCY_FORMATS: Final[Mapping[str, CurrencyFormat]] = {
    "CNY": CurrencyFormat(exponent=2, symbols={Locale.ZH_CN: "¥", Locale.EN: "CN¥"}),
}


def format_money(amount: int, currency: str, locale: Locale) -> str:
    """``amount`` minor units of ``currency`` as ``locale`` writes it: ``¥1,234.50``.

    Integer arithmetic only (``divmod``), so every digit shown is a digit of ``amount``.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise FormatError("money is shown from an integer number of minor units")
    spec = CURRENCY_FORMATS.get(currency)
    if spec is None:
        raise FormatError(f"no format for currency {currency!r}")
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**spec.exponent)
    fraction = f".{minor:0{spec.exponent}d}" if spec.exponent else ""
    return f"{sign}{spec.symbols[locale]}{major:,}{fraction}"


# --- Dates and times ---------------------------------------------------------------------------


def _beijing() -> tzinfo:
    # A runtime without the tz database still shows the right time: the offset is fixed.
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=8), "CST")


#: Where each locale's readers are shown times.
TIME_ZONES: Final[Mapping[Locale, tzinfo]] = {Locale.ZH_CN: _beijing(), Locale.EN: UTC}

_EN_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def parse_time(value: str | datetime) -> datetime:
    """An ISO 8601 time (``...Z`` or with an offset; no offset means UTC) as an aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise FormatError(f"not an ISO 8601 time: {value!r}") from None
    else:
        raise FormatError("a time is given as an ISO 8601 string")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_date(value: str | datetime, locale: Locale) -> str:
    """The calendar day of ``value`` where ``locale``'s readers are: ``2024年5月1日``."""
    local = parse_time(value).astimezone(TIME_ZONES[locale])
    if locale is Locale.ZH_CN:
        return f"{local.year}年{local.month}月{local.day}日"
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}"


def format_datetime(value: str | datetime, locale: Locale) -> str:
    """``value`` to the minute where ``locale``'s readers are: ``2024年5月1日 20:34``."""
    local = parse_time(value).astimezone(TIME_ZONES[locale])
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if locale is Locale.ZH_CN:
        return f"{format_date(local, locale)} {clock}"
    return f"{format_date(local, locale)}, {clock} UTC"
