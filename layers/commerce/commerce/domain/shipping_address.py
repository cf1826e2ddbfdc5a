"""The address an order ships to: its fields, their limits and how a client's input is checked.

A cart carries one until checkout, and the order keeps it; the address book (``addresses``) stores
them for a customer. Countries are ISO 3166-1 alpha-2 codes; a mainland China address has a
six-digit postal code and a mobile number, stored in E.164.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from commerce.errors import FieldError


class InvalidAddress(ValueError):
    """An address the rules refuse, made in code rather than parsed from a client (which
    ``parse_shipping_address`` answers with field errors instead); ``field`` names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_COUNTRY_CODES: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
"""
#: ISO 3166-1 alpha-2 codes in current use.
COUNTRIES: Final = frozenset(_COUNTRY_CODES.split())
ADDRESS_FIELD_MAX: Final = {
    "name": 100,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "region": 100,
    "postal_code": 16,
}
_REQUIRED: Final = ("name", "line1", "city", "postal_code", "country", "phone")
_OPTIONAL: Final = ("line2", "region")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_POSTAL_RE: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?$")
_CN_POSTAL_RE: Final = re.compile(r"^[0-9]{6}$")
#: E.164: a plus, a country code not starting with 0, at most 15 digits in all.
_E164_RE: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CN_MOBILE_RE: Final = re.compile(r"^1[3-9][0-9]{9}$")
_PHONE_SEPARATORS: Final = re.compile(r"[ ()./-]")


def normalise_phone(raw: str, country: str) -> str | None:
    """``raw`` as E.164 (``+8613812345678``), or None when it cannot be one.

    Spaces, dots, dashes and brackets are dropped; a Chinese mobile number written without the
    country code is accepted for a CN address.
    """
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if country == "CN" and _CN_MOBILE_RE.fullmatch(digits):
        digits = "+86" + digits
    return digits if _E164_RE.fullmatch(digits) else None


@dataclass(frozen=True)
class ShippingAddress:
    """Where an order goes; build it with ``parse_shipping_address`` to get field errors."""

    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    phone: str
    line2: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        errors = address_errors(self.to_dict())
        if errors:
            raise InvalidAddress(errors[0].field, errors[0].message)

    def to_dict(self) -> dict[str, str]:
        """The wire shape of API.md; absent optional fields are left out."""
        fields = {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
            "phone": self.phone,
        }
        return {k: v for k, v in fields.items() if v is not None}


def _text_error(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return "is required" if name in _REQUIRED else None
    if value != value.strip():
        return "must not start or end with whitespace"
    if _CONTROL_RE.search(value):
        return "must not contain control characters"
    limit = ADDRESS_FIELD_MAX[name]
    if len(value) > limit:
        return f"must be at most {limit} characters"
    return None


def address_errors(fields: Mapping[str, str | None]) -> list[FieldError]:
    """Every rule an address's (already normalised) fields break, one error per field."""
    errors: list[FieldError] = []
    for name in ADDRESS_FIELD_MAX:
        message = _text_error(name, fields.get(name))
        if message:
            errors.append(FieldError(name, message))
    country = fields.get("country") or ""
    if country not in COUNTRIES:
        errors.append(FieldError("country", "must be an ISO 3166-1 alpha-2 code, e.g. CN"))
    postal = fields.get("postal_code")
    if postal and not any(e.field == "postal_code" for e in errors):
        if country == "CN" and not _CN_POSTAL_RE.fullmatch(postal):
            errors.append(FieldError("postal_code", "must be 6 digits for CN"))
        elif not _POSTAL_RE.fullmatch(postal):
            errors.append(FieldError("postal_code", "must be letters, digits, spaces or dashes"))
    if not _E164_RE.fullmatch(fields.get("phone") or ""):
        errors.append(FieldError("phone", "must be an international number, e.g. +8613812345678"))
    return errors


def parse_shipping_address(data: Mapping[str, object]) -> ShippingAddress | list[FieldError]:
    """A valid, normalised address from client fields, or every field error found.

    Text is stripped of surrounding whitespace, the country upper-cased, the phone put in E.164
    form; empty optional fields become absent. Unknown fields are ignored (the schema rejects
    them before this runs).
    """
    typed: list[FieldError] = []
    clean: dict[str, str | None] = {}
    for name in (*_REQUIRED, *_OPTIONAL):
        raw = data.get(name)
        if raw is not None and not isinstance(raw, str):
            typed.append(FieldError(name, "must be a string"))
            raw = None
        clean[name] = (raw.strip() or None) if raw is not None else None
    country = (clean["country"] or "").upper()
    clean["country"] = country or None
    phone = clean["phone"]
    if phone is not None:
        clean["phone"] = normalise_phone(phone, country) or phone
    bad_types = {e.field for e in typed}
    errors = typed + [e for e in address_errors(clean) if e.field not in bad_types]
    if errors:
        return errors
    return ShippingAddress(
        name=clean["name"] or "",
        line1=clean["line1"] or "",
        city=clean["city"] or "",
        postal_code=clean["postal_code"] or "",
        country=country,
        phone=clean["phone"] or "",
        line2=clean["line2"],
        region=clean["region"],
    )
