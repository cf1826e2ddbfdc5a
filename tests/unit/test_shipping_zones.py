"""Shipping zones: reading the table ops send, and which zone (and fee) an address gets."""

from __future__ import annotations

from typing import Any

import pytest
from commerce.domain.money import Money
from commerce.domain.pricing import DEFAULT_SHIPPING, PriceLine, ShippingRule, price
from commerce.domain.shipping import (
    DEFAULT_ZONE_TABLE,
    MAX_ZONES,
    Zone,
    ZoneTable,
    parse_zone_table,
    place_key,
)
from commerce.domain.shipping_address import ShippingAddress
from commerce.errors import FieldError
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


def cny(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


DEFAULT = {"zone_id": "default", "fee": cny(1000), "free_threshold": cny(9900)}
REMOTE = {
    "zone_id": "remote",
    "name": "Remote regions",
    "places": ["CN/Xinjiang", "CN/新疆", "cn/ tibet "],
    "fee": cny(2500),
    "free_threshold": cny(29900),
}
NEAR = {"zone_id": "near", "places": ["CN/Shanghai"], "fee": cny(600)}
ABROAD = {"zone_id": "hk", "places": ["HK"], "fee": cny(4500), "free_threshold": None}


def table(*zones: dict[str, Any]) -> ZoneTable:
    parsed = parse_zone_table(list(zones), 1)
    assert isinstance(parsed, ZoneTable), parsed
    return parsed


def errors(*zones: Any) -> list[FieldError]:
    parsed = parse_zone_table(list(zones), 1)
    assert isinstance(parsed, list), parsed
    return parsed


def address(city: str, region: str | None = None, country: str = "CN") -> ShippingAddress:
    postal = "200001" if country == "CN" else "999077"
    return ShippingAddress(
        name="Li Wei",
        line1="88 Nanjing East Road",
        city=city,
        region=region,
        postal_code=postal,
        country=country,
        phone="+8613812345678",
    )


def test_before_ops_configure_anything_the_old_fixed_rule_applies_everywhere() -> None:
    assert DEFAULT_ZONE_TABLE.version == 0
    assert DEFAULT_ZONE_TABLE.rule_for(None) == DEFAULT_SHIPPING
    assert DEFAULT_ZONE_TABLE.rule_for(address("Urumqi", "Xinjiang")) == DEFAULT_SHIPPING
    assert ShippingRule(Money(1000), Money(9900)) == DEFAULT_SHIPPING


def test_an_address_is_matched_by_region_then_city_then_country() -> None:
    zones = table(DEFAULT, REMOTE, NEAR, ABROAD)
    assert zones.zone_for(address("Urumqi", "Xinjiang")).zone_id == "remote"
    assert zones.zone_for(address("乌鲁木齐", "新疆")).zone_id == "remote"
    assert zones.zone_for(address("Lhasa", "TIBET")).zone_id == "remote"  # case and spaces
    assert zones.zone_for(address("Shanghai")).zone_id == "near"  # the city stands in
    assert zones.zone_for(address("Shanghai", "Shanghai")).zone_id == "near"
    assert zones.zone_for(address("Hong Kong", None, "HK")).zone_id == "hk"  # whole country
    assert zones.zone_for(address("Hangzhou", "Zhejiang")).zone_id == "default"
    assert zones.zone_for(None).zone_id == "default"


def test_a_region_named_wins_over_its_country() -> None:
    zones = table(DEFAULT, {"zone_id": "cn", "places": ["CN"], "fee": cny(800)}, REMOTE)
    assert zones.zone_for(address("Urumqi", "Xinjiang")).zone_id == "remote"
    assert zones.zone_for(address("Beijing")).zone_id == "cn"


def test_the_zone_prices_the_cart() -> None:
    zones = table(DEFAULT, REMOTE)
    lines = [PriceLine("SKU-1", 2, Money(5000))]  # 100.00
    remote = price(lines, zones.rule_for(address("Urumqi", "Xinjiang"))).totals
    assert remote.shipping == Money(2500)  # not free under 299.00
    assert price(lines, zones.rule_for(address("Beijing"))).totals.shipping == Money(0)
    never_free = price(lines * 10, table(DEFAULT, ABROAD).rule_for(address("HK", None, "HK")))
    assert never_free.totals.shipping == Money(4500)


def test_the_table_reads_back_as_sent() -> None:
    zones = table(DEFAULT, REMOTE)
    assert zones.version == 1
    assert zones.to_dict()["zones"][1] == {
        "zone_id": "remote",
        "name": "Remote regions",
        "places": ["CN/Xinjiang", "CN/新疆", "CN/tibet"],
        "fee": cny(2500),
        "free_threshold": cny(29900),
    }
    assert zones.default.name == "default"  # a zone without a name is named by its id


@pytest.mark.parametrize(
    ("zones", "field"),
    [
        ([REMOTE], "zones"),  # no default zone
        ([DEFAULT, {**DEFAULT}], "zones"),  # two
        ([{**DEFAULT, "places": ["CN"]}], "zones[0].places"),  # the default names no place
        ([DEFAULT, {**REMOTE, "zone_id": "Remote!"}], "zones[1].zone_id"),
        ([DEFAULT, {**REMOTE, "places": ["XX/Somewhere"]}], "zones[1].places[0]"),
        ([DEFAULT, {**REMOTE, "places": ["CN/"]}], "zones[1].places[0]"),
        ([DEFAULT, {**REMOTE, "places": "CN"}], "zones[1].places"),
        ([DEFAULT, {**REMOTE, "fee": cny(-1)}], "zones[1].fee"),
        ([DEFAULT, {**REMOTE, "fee": {"amount": 1.5, "currency": "CNY"}}], "zones[1].fee"),
        ([DEFAULT, {**REMOTE, "fee": {"amount": 100, "currency": "USD"}}], "zones[1].fee"),
        ([DEFAULT, {k: v for k, v in REMOTE.items() if k != "fee"}], "zones[1].fee"),
        ([DEFAULT, {**REMOTE, "free_threshold": "free"}], "zones[1].free_threshold"),
        ([DEFAULT, {**REMOTE, "colour": "red"}], "zones[1].colour"),
        ([DEFAULT, {**REMOTE, "name": " "}], "zones[1].name"),
        ([DEFAULT, REMOTE, {**NEAR, "zone_id": "remote"}], "zones[2].zone_id"),
        ([DEFAULT, REMOTE, {**NEAR, "places": ["CN/XINJIANG"]}], "zones[2].places[0]"),
        ([DEFAULT, {**NEAR, "places": ["CN/Shanghai", "cn/shanghai"]}], "zones[1].places[1]"),
        ([DEFAULT, "remote"], "zones[1]"),
    ],
)
def test_a_bad_table_names_the_field_and_is_not_a_table(zones: list[Any], field: str) -> None:
    assert field in [e.field for e in errors(*zones)]


def test_every_bad_field_is_named_at_once() -> None:
    found = errors(DEFAULT, {**REMOTE, "zone_id": "", "fee": None, "places": ["ZZ"]})
    assert {e.field for e in found} == {"zones[1].zone_id", "zones[1].fee", "zones[1].places[0]"}


def test_too_many_zones() -> None:
    many = [DEFAULT, *({"zone_id": f"z{n}", "fee": cny(100)} for n in range(MAX_ZONES))]
    assert "zones" in [e.field for e in errors(*many)]
    assert parse_zone_table("default", 1) == [FieldError("zones", "must be a list")]


def test_a_zone_table_cannot_be_built_invalid() -> None:
    zone = Zone("remote", "Remote", ("CN/Tibet",), DEFAULT_SHIPPING)
    with pytest.raises(ValueError, match="default"):
        ZoneTable((zone,))


places = st.sampled_from(["CN/Xinjiang", "CN/Tibet", "CN/Shanghai", "CN/Beijing", "HK", "MO"])


@given(
    st.lists(
        st.tuples(places, st.integers(min_value=0, max_value=10_000)), unique_by=lambda p: p[0]
    ),
    st.sampled_from(["Xinjiang", "Tibet", "Shanghai", "Beijing", "Hunan", None]),
    st.sampled_from(["CN", "HK", "MO", "US"]),
)
def test_every_address_gets_the_zone_that_names_its_place_or_the_default(
    assigned: list[tuple[str, int]], region: str | None, country: str
) -> None:
    """One zone per place, in any order: an address lands in the zone naming its most specific
    place, else in the default; the answer never depends on the order of the zones."""
    zones = [DEFAULT] + [
        {"zone_id": f"z{n}", "places": [place], "fee": cny(fee)}
        for n, (place, fee) in enumerate(assigned)
    ]
    forward, backward = table(*zones), table(zones[0], *reversed(zones[1:]))
    where = address(region or "Changsha", region, country) if country != "US" else None
    found = forward.zone_for(where)
    assert found == backward.zone_for(where)
    named = {place_key(*p.split("/", 1)) if "/" in p else p: fee for p, fee in assigned}
    if where is None:
        assert found.is_default
        return
    candidates = [place_key(country, region) if region else None, place_key(country)]
    expected = next((named[c] for c in candidates if c in named), None)
    if expected is None:
        assert found.is_default
    else:
        assert found.rule.flat_fee == Money(expected)
