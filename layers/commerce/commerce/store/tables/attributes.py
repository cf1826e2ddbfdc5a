"""Attribute and index shapes that items of several tables share."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

_M = TypeVar("_M", bound=Model)


class Gsi1Index(GlobalSecondaryIndex[_M]):  # type: ignore[no-untyped-call]
    """``gsi1`` as every table declares it: ``gsi1pk``/``gsi1sk``, every attribute projected.

    One class serves every model: PynamoDB binds each instance to the model it is assigned in,
    and what the keys hold is written beside each model's ``gsi1`` attribute.
    """

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class MoneyMap(MapAttribute[str, Any]):
    """``{"amount": int, "currency": str}``, the wire shape of money, stored as is."""

    amount = NumberAttribute()
    currency = UnicodeAttribute()
