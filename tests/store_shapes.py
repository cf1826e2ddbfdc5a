"""Every item shape of the store, found by loading each of its modules: for the checks and the
bench that look at all of them at once (``tests/unit/test_table_connections.py``,
``tests/bench/store_connections.py``)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import commerce.store
import commerce.store.tables
from pynamodb.models import Model


def _load_store() -> None:
    for package in (commerce.store, commerce.store.tables):
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)


def _subclasses(cls: type[Model]) -> Iterator[type[Model]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def named_models(root: type[Model] = Model) -> list[type[Model]]:
    """Models under ``root`` that name a table: every shape of every table, and the tables'
    bases."""
    _load_store()
    found = {m for m in _subclasses(root) if getattr(getattr(m, "Meta", None), "table_name", None)}
    return sorted(found, key=lambda m: m.__qualname__)


def item_shapes(root: type[Model] = Model) -> list[type[Model]]:
    """The named models with keys. A table's base has none and is never connected: PynamoDB
    would hand its keyless schema down to every shape of the table connected after it."""
    return [m for m in named_models(root) if m._hash_keyname is not None]
