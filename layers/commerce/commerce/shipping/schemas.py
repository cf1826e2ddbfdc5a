"""Request and response bodies of ``/admin/shipping-zones`` (docs/pricing.md, "Shipping zones").

The schema checks shapes; ``domain.shipping.parse_zone_table`` checks the table as a whole (one
default zone, no place in two zones) and names every bad field as the client sent it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from commerce.domain.shipping import MAX_PLACES_PER_ZONE, MAX_ZONES
from commerce.http.model import Schema
from commerce.http.schemas import MoneyOut

_FORBID = ConfigDict(extra="forbid")


class MoneyIn(Schema):
    model_config = _FORBID

    amount: Annotated[StrictInt, Field(ge=0, le=100_000_000)]
    currency: StrictStr


class ZoneIn(Schema):
    model_config = _FORBID

    zone_id: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=32,
            description="a-z, 0-9 and -; the zone `default` covers every place no other zone does",
        ),
    ]
    name: Annotated[StrictStr | None, Field(default=None, max_length=80)] = None
    places: Annotated[
        list[Annotated[StrictStr, Field(min_length=2, max_length=103)]],
        Field(
            default_factory=list,
            max_length=MAX_PLACES_PER_ZONE,
            description="`CC` (a country) or `CC/Region` (a region or a province-level city, "
            "e.g. `CN/Xinjiang`, `CN/新疆`, `CN/Shanghai`); none for the default zone",
        ),
    ]
    fee: MoneyIn = Field(description="Shipping per order in this zone")
    free_threshold: MoneyIn | None = Field(
        default=None,
        description="Shipping is free once the merchandise after discounts reaches this; "
        "null: never free by amount",
    )


class ZoneTableIn(Schema):
    """Body of ``PUT /admin/shipping-zones``: the whole table."""

    model_config = _FORBID

    zones: Annotated[list[ZoneIn], Field(min_length=1, max_length=MAX_ZONES)]
    version: StrictInt | None = Field(
        default=None,
        ge=0,
        description="The version this edit was made on (from GET); another version: 409",
    )


class ZoneOut(Schema):
    zone_id: str
    name: str
    places: list[str]
    fee: MoneyOut
    free_threshold: MoneyOut | None


class ZoneTableOut(Schema):
    zones: list[ZoneOut]
    version: int = Field(description="Grows with every change; 0 before the first")
