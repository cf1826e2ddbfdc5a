"""Shipping zones: which shipping rule an address pays, by its country and region.

Ops keep one zone table (``PUT /admin/shipping-zones``). Each zone names the places it covers
and its rule (``pricing.ShippingRule``: a fee per order, free from a threshold of merchandise
after discounts). The zone ``default`` covers everything no other zone names and is always
there: before ops configure anything it is the old fixed rule, 10.00 CNY, free from 99.00 CNY.

A place is ``CC`` (a whole country, ISO 3166-1 alpha-2) or ``CC/Region`` (one region of it:
``CN/Xinjiang``, ``CN/新疆``). An address is matched by its region, or by its city when it has
no region (Beijing, Shanghai, Tianjin and Chongqing are provinces of their own), then by its
country, then it falls to the default zone; names compare without case or surrounding spaces.
A place belongs to at most one zone, so the answer never depends on the order of the zones.
docs/pricing.md states the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from commerce.domain.money import DEFAULT_CURRENCY, Money
from commerce.domain.pricing import DEFAULT_SHIPPING, ShippingRule
from commerce.domain.shipping_address import COUNTRIES, ShippingAddress
from commerce.errors import FieldError

DEFAULT_ZONE_ID: Final = "default"
MAX_ZONES: Final = 50
MAX_PLACES_PER_ZONE: Final = 200
MAX_NAME_CHARS: Final = 80
MAX_REGION_CHARS: Final = 100
_ZONE_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_PLACE_RE: Final = re.compile(r"^([A-Za-z]{2})(?:/(.+))?$")


def place_key(country: str, region: str | None = None) -> str:
    """The comparable form of a place: ``CN`` or ``CN/xinjiang`` (region case-folded, spaces
    around it dropped)."""
    code = country.strip().upper()
    if region is None or not region.strip():
        return code
    return f"{code}/{region.strip().casefold()}"


@dataclass(frozen=True)
class Zone:
    """A zone: the places it covers (as written) and the rule they pay."""

    zone_id: str
    name: str
    places: tuple[str, ...]
    rule: ShippingRule

    @property
    def is_default(self) -> bool:
        return self.zone_id == DEFAULT_ZONE_ID

    def to_dict(self) -> dict[str, Any]:
        threshold = self.rule.free_threshold
        return {
            "zone_id": self.zone_id,
            "name": self.name,
            "places": list(self.places),
            "fee": self.rule.flat_fee.to_dict(),
            "free_threshold": threshold.to_dict() if threshold is not None else None,
        }


DEFAULT_ZONE: Final = Zone(DEFAULT_ZONE_ID, "Everywhere else", (), DEFAULT_SHIPPING)


@dataclass(frozen=True)
class ZoneTable:
    """Every zone, the default among them; ``version`` grows with every change (0: never set)."""

    zones: tuple[Zone, ...]
    version: int = 0

    def __post_init__(self) -> None:
        errors = table_errors(self.zones)
        if errors:
            raise ValueError(f"{errors[0].field}: {errors[0].message}")

    @property
    def default(self) -> Zone:
        return next(z for z in self.zones if z.is_default)

    def _by_place(self) -> dict[str, Zone]:
        found: dict[str, Zone] = {}
        for zone in self.zones:
            for place in zone.places:
                country, _, region = place.partition("/")
                found[place_key(country, region or None)] = zone
        return found

    def zone_for(self, address: ShippingAddress | None) -> Zone:
        """The zone ``address`` ships in; the default zone without an address."""
        if address is None:
            return self.default
        by_place = self._by_place()
        for key in _candidates(address):
            if key in by_place:
                return by_place[key]
        return self.default

    def rule_for(self, address: ShippingAddress | None) -> ShippingRule:
        return self.zone_for(address).rule

    def to_dict(self) -> dict[str, Any]:
        return {"zones": [z.to_dict() for z in self.zones], "version": self.version}


def _candidates(address: ShippingAddress) -> Iterator[str]:
    """The places an address may be listed under, most specific first."""
    if address.region:
        yield place_key(address.country, address.region)
    yield place_key(address.country, address.city)
    yield place_key(address.country)


# --- Reading a table ops sent -------------------------------------------------------------------


def _money_errors(raw: Any, field: str, *, required: bool) -> tuple[Money | None, list[FieldError]]:
    if raw is None:
        return None, [FieldError(field, "is required")] if required else []
    if (
        not isinstance(raw, Mapping)
        or set(raw) != {"amount", "currency"}
        or isinstance(raw["amount"], bool)
        or not isinstance(raw["amount"], int)
        or raw["amount"] < 0
        or raw["currency"] != DEFAULT_CURRENCY
    ):
        message = f"must be {{'amount': whole fen >= 0, 'currency': '{DEFAULT_CURRENCY}'}}"
        return None, [FieldError(field, message)]
    return Money(raw["amount"]), []


def _place_errors(places: Any, where: str) -> tuple[tuple[str, ...], list[FieldError]]:
    if not isinstance(places, Sequence) or isinstance(places, str):
        return (), [FieldError(f"{where}.places", "must be a list")]
    if len(places) > MAX_PLACES_PER_ZONE:
        return (), [FieldError(f"{where}.places", f"at most {MAX_PLACES_PER_ZONE} places")]
    kept: list[str] = []
    errors: list[FieldError] = []
    for index, place in enumerate(places):
        field = f"{where}.places[{index}]"
        match = _PLACE_RE.fullmatch(place) if isinstance(place, str) else None
        if match is None or match.group(1).upper() not in COUNTRIES:
            errors.append(FieldError(field, "must be CC or CC/Region (ISO 3166-1 alpha-2)"))
            continue
        region = (match.group(2) or "").strip()
        if match.group(2) is not None and not region:
            errors.append(FieldError(field, "the region after / must not be empty"))
            continue
        if len(region) > MAX_REGION_CHARS:
            errors.append(FieldError(field, f"the region is at most {MAX_REGION_CHARS} characters"))
            continue
        kept.append(f"{match.group(1).upper()}/{region}" if region else match.group(1).upper())
    return tuple(kept), errors


def parse_zone(raw: Any, where: str) -> tuple[Zone | None, list[FieldError]]:
    """One zone of a table ops sent, or the errors of its fields (named ``zones[i].field``)."""
    if not isinstance(raw, Mapping):
        return None, [FieldError(where, "must be an object")]
    errors: list[FieldError] = []
    unknown = set(raw) - {"zone_id", "name", "places", "fee", "free_threshold"}
    errors += [
        FieldError(f"{where}.{name}", "is not a field of a zone") for name in sorted(unknown)
    ]
    zone_id = raw.get("zone_id")
    if not isinstance(zone_id, str) or not _ZONE_ID_RE.fullmatch(zone_id):
        errors.append(FieldError(f"{where}.zone_id", "must be 1-32 of a-z, 0-9 and -"))
    name = raw.get("name", zone_id)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        errors.append(FieldError(f"{where}.name", f"must be 1-{MAX_NAME_CHARS} characters"))
    places, place_errors = _place_errors(raw.get("places", []), where)
    errors += place_errors
    fee, fee_errors = _money_errors(raw.get("fee"), f"{where}.fee", required=True)
    threshold, threshold_errors = _money_errors(
        raw.get("free_threshold"), f"{where}.free_threshold", required=False
    )
    errors += fee_errors + threshold_errors
    if errors or fee is None or not isinstance(zone_id, str) or not isinstance(name, str):
        return None, errors
    return Zone(zone_id, name.strip(), places, ShippingRule(fee, threshold)), []


def table_errors(zones: Sequence[Zone]) -> list[FieldError]:
    """What makes a list of zones no table: not exactly one default zone, places on it, too
    many zones, a zone id used twice, a place in two zones."""
    errors: list[FieldError] = []
    if not zones or len(zones) > MAX_ZONES:
        errors.append(FieldError("zones", f"must hold 1 to {MAX_ZONES} zones"))
    defaults = [i for i, z in enumerate(zones) if z.is_default]
    if len(defaults) != 1:
        errors.append(FieldError("zones", f"must hold exactly one zone {DEFAULT_ZONE_ID!r}"))
    for index in defaults:
        if zones[index].places:
            errors.append(
                FieldError(f"zones[{index}].places", "the default zone covers what others do not")
            )
    seen_ids: set[str] = set()
    seen_places: dict[str, str] = {}
    for index, zone in enumerate(zones):
        if zone.zone_id in seen_ids:
            errors.append(FieldError(f"zones[{index}].zone_id", "is used by another zone"))
        seen_ids.add(zone.zone_id)
        for place_index, place in enumerate(zone.places):
            country, _, region = place.partition("/")
            key = place_key(country, region or None)
            if key in seen_places:
                owner = seen_places[key]
                message = "is listed twice" if owner == zone.zone_id else f"is in zone {owner!r}"
                errors.append(FieldError(f"zones[{index}].places[{place_index}]", message))
            seen_places.setdefault(key, zone.zone_id)
    return errors


def parse_zone_table(raw: Any, version: int) -> ZoneTable | list[FieldError]:
    """The table ops sent (``{"zones": [...]}``) as the next ``version``, or every field error."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return [FieldError("zones", "must be a list")]
    zones: list[Zone] = []
    errors: list[FieldError] = []
    for index, item in enumerate(raw):
        zone, zone_errors = parse_zone(item, f"zones[{index}]")
        errors += zone_errors
        if zone is not None:
            zones.append(zone)
    if errors:
        return errors
    errors = table_errors(zones)
    return errors or ZoneTable(tuple(zones), version)


#: The table before ops configure one: the default zone alone, at the old fixed rule.
DEFAULT_ZONE_TABLE: Final = ZoneTable((DEFAULT_ZONE,))
