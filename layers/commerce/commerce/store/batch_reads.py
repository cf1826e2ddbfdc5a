"""One BatchGetItem across tables: the items a request needs, read in a single round trip.

PynamoDB batches the keys of one model; a hot path that needs a SKU's offer (catalog), its
stock (inventory) and the shipping zones would pay one request per model. DynamoDB itself
takes up to 100 keys of any tables in one BatchGetItem, so this asks for them together and
hands each item back as its own model. Keys the table answered "unprocessed" (throttled or
over the response size) are asked again with a short backoff, as AWS advises; an item that is
not there is simply absent from the result. Keys still unprocessed after a few rounds are a
429 for the client, as a throttled call is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from pynamodb.models import Model

from commerce.errors import TooManyRequests

_MAX_KEYS: Final = 100
_ROUNDS: Final = 5
_BACKOFF_SECONDS: Final = 0.02

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Key(Generic[M]):
    """An item to read: its model (which names the table) and its primary key."""

    model: type[M]
    hash_key: str
    range_key: str
    #: Read strongly consistent (None: as the batch says). DynamoDB sets this per table, so a
    #: table is read consistently when any of its keys asks for it.
    consistent: bool | None = None

    @property
    def table(self) -> str:
        return str(self.model.Meta.table_name)

    def raw(self) -> dict[str, Any]:
        hash_attr = self.model._hash_key_attribute()  # type: ignore[no-untyped-call]
        range_attr = self.model._range_key_attribute()  # type: ignore[no-untyped-call]
        return {
            hash_attr.attr_name: {hash_attr.attr_type: hash_attr.serialize(self.hash_key)},
            range_attr.attr_name: {range_attr.attr_type: range_attr.serialize(self.range_key)},
        }

    def identity(self) -> tuple[str, str, str]:
        return (self.table, self.hash_key, self.range_key)


class Found:
    """The items read, by key; ``get`` gives each back as the model its key named."""

    def __init__(self, raw: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self._raw = raw

    def get(self, key: Key[M]) -> M | None:
        item = self._raw.get(key.identity())
        return None if item is None else key.model.from_raw_data(item)

    def merged(self, other: Found) -> Found:
        """These items and ``other``'s (``other`` wins for a key read twice)."""
        return Found({**self._raw, **other._raw})

    def __len__(self) -> int:
        return len(self._raw)


def _identity(item: dict[str, Any], table: str, keys: Sequence[Key[Any]]) -> tuple[str, str, str]:
    """Which requested key an item answers (its key attributes, as the request named them)."""
    for key in keys:
        if key.table != table:
            continue
        if all(item.get(name) == value for name, value in key.raw().items()):
            return key.identity()
    raise RuntimeError("BatchGetItem answered an item that was not asked for")


def read(keys: Sequence[Key[Any]], *, consistent: bool = True) -> Found:
    """Every item of ``keys`` that exists, in one BatchGetItem (more only for unprocessed keys).

    At most 100 keys, DynamoDB's limit for one call; duplicates are asked once. ``consistent``
    is the default of keys that do not say.
    """
    unique = list({key.identity(): key for key in keys}.values())
    if len(unique) > _MAX_KEYS:
        raise ValueError(f"one batch reads at most {_MAX_KEYS} keys, not {len(unique)}")
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    if not unique:
        return Found(found)
    connection = unique[0].model._get_connection().connection
    pending: dict[str, Any] = {}
    for key in unique:
        table = pending.setdefault(key.table, {"Keys": [], "ConsistentRead": False})
        table["Keys"].append(key.raw())
        table["ConsistentRead"] |= consistent if key.consistent is None else key.consistent
    for attempt in range(_ROUNDS):
        answer = connection.dispatch("BatchGetItem", {"RequestItems": pending})
        for table, items in answer.get("Responses", {}).items():
            for item in items:
                found[_identity(item, table, unique)] = item
        pending = answer.get("UnprocessedKeys") or {}
        if not pending:
            return Found(found)
        time.sleep(_BACKOFF_SECONDS * (2**attempt))
    # DynamoDB kept some keys back (a hot partition at its ceiling): the client may retry.
    raise TooManyRequests(1, "The shop is busy; retry shortly")
