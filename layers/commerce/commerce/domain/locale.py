"""The two locales the shop speaks, and how a client's wish picks one.

``negotiate`` reads anything a client or profile may carry: a stored preference (``"zh-CN"``),
a bare language (``"zh"``), a full tag (``"zh-Hans-CN"``, ``"en_US"``) or a whole
``Accept-Language`` header (``"zh-CN,zh;q=0.9,en;q=0.8"``). Every Chinese tag goes to zh-CN
(the one Chinese the templates are written in, simplified), every English one to en, and
anything else, or nothing, to en.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Locale(StrEnum):
    """A language the templates exist in; the value is the BCP 47 tag and the template folder."""

    ZH_CN = "zh-CN"
    EN = "en"


#: The locale of anyone who states no usable preference.
DEFAULT_LOCALE: Final = Locale.EN

#: Primary language subtag -> the locale that serves it.
_LANGUAGES: Final[Mapping[str, Locale]] = {"zh": Locale.ZH_CN, "en": Locale.EN}

#: Ranges read from one header; a real browser sends a handful, so the rest is noise.
_MAX_RANGES: Final = 32
_MAX_HEADER_CHARS: Final = 1024


def _ranges(header: str) -> list[tuple[float, int, str]]:
    """The header's language ranges as (-q, position, tag), best first once sorted."""
    ranges: list[tuple[float, int, str]] = []
    for position, item in enumerate(header[:_MAX_HEADER_CHARS].split(",")[:_MAX_RANGES]):
        tag, _, params = item.partition(";")
        tag = tag.strip().replace("_", "-").lower()
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0  # a malformed weight: ignore the range
        if 0.0 < quality <= 1.0:
            ranges.append((-quality, position, tag))
    return sorted(ranges)


def negotiate(accept_language: str | None) -> Locale:
    """The supported locale that best serves ``accept_language``; en when none does.

    Ranges are tried by weight (``q``; equal weights in the order given); ``q=0`` means "not
    this one" and a malformed weight drops its range. ``*`` accepts the default.
    """
    if not accept_language:
        return DEFAULT_LOCALE
    for _, _, tag in _ranges(accept_language):
        if tag == "*":
            return DEFAULT_LOCALE
        locale = _LANGUAGES.get(tag.split("-", 1)[0])
        if locale is not None:
            return locale
    return DEFAULT_LOCALE
