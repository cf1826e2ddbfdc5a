"""Attribute and index shapes that items of several tables share."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from commerce.domain.money import Money

_M = TypeVar("_M", bound=Model)


def plain(value: Any) -> Any:
    """Raw map/list attribute content as plain dicts and lists (PynamoDB wraps raw maps)."""
    values = getattr(value, "attribute_values", None)
    if values is not None:
        return {str(k): plain(v) for k, v in values.items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


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


class Gsi2Index(GlobalSecondaryIndex[_M]):  # type: ignore[no-untyped-call]
    """``gsi2``: ``gsi2pk``/``gsi2sk``, every attribute projected (as ``Gsi1Index``)."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3Index(GlobalSecondaryIndex[_M]):  # type: ignore[no-untyped-call]
    """``gsi3``: ``gsi3pk``/``gsi3sk``, every attribute projected (as ``Gsi1Index``)."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class MoneyMap(MapAttribute[str, Any]):
    """``{"amount": int, "currency": str}``, the wire shape of money, stored as is."""

    amount = NumberAttribute()
    currency = UnicodeAttribute()


def money_map(price: Money) -> MoneyMap:
    """``price`` as stored."""
    return MoneyMap(amount=price.amount, currency=price.currency)  # type: ignore[no-untyped-call]


def money_of(raw: Any) -> Money:
    """Money as read from a ``MoneyMap`` (DynamoDB numbers come back as decimals)."""
    return Money(int(raw.amount), raw.currency)
