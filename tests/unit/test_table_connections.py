"""Every item shape of the store reaches DynamoDB through one botocore session per thread
(``store/tables/connection.py``), while keeping the connection and schema PynamoDB made it."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterator

import commerce.store
import commerce.store.tables
from commerce.store import transactions
from commerce.store.tables.connection import SharedSessionConnection, TableModel, thread_session
from pynamodb.models import Model


def _load_store() -> None:
    for package in (commerce.store, commerce.store.tables):
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)


def _subclasses(cls: type[Model]) -> Iterator[type[Model]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _named(root: type[Model]) -> list[type[Model]]:
    """Models that name a table: every shape of every table, and the tables' bases."""
    _load_store()
    found = {m for m in _subclasses(root) if getattr(getattr(m, "Meta", None), "table_name", None)}
    return sorted(found, key=lambda m: m.__qualname__)


def _item_shapes(root: type[Model]) -> list[type[Model]]:
    """The shapes with keys. A base has none and is never connected: PynamoDB would hand its
    keyless schema down to every shape of the table connected after it."""
    return [m for m in _named(root) if m._hash_keyname is not None]


def _store_shapes() -> list[type[Model]]:
    return [m for m in _named(Model) if m.__module__.startswith("commerce.store")]


def test_every_item_shape_of_the_store_derives_from_the_table_model() -> None:
    shapes = _store_shapes()
    assert len(shapes) > 40  # the store's shapes were found, not an empty list
    assert [m.__qualname__ for m in shapes if not issubclass(m, TableModel)] == []


def test_every_shape_keeps_its_connection_on_the_threads_one_session() -> None:
    shapes = _item_shapes(TableModel)
    connections = [shape._get_connection() for shape in shapes]

    assert all(type(c.connection) is SharedSessionConnection for c in connections)
    assert {c.connection.session for c in connections} == {thread_session()}
    # What PynamoDB keeps per connection is untouched: the table and its schema.
    for shape, connection in zip(shapes, connections, strict=True):
        assert connection.table_name == shape.Meta.table_name
        assert connection.get_meta_table().table_name == shape.Meta.table_name


def test_the_transactions_connection_shares_the_session_too() -> None:
    assert transactions._connection().session is thread_session()


def test_another_thread_gets_a_session_of_its_own_shared_by_its_shapes() -> None:
    shapes = _item_shapes(TableModel)[:5]
    seen: list[set[object]] = []

    def look() -> None:
        seen.append({shape._get_connection().connection.session for shape in shapes})

    worker = threading.Thread(target=look)
    worker.start()
    worker.join()

    (sessions,) = seen
    assert len(sessions) == 1
    assert sessions != {thread_session()}
