"""Every item shape of the store reaches DynamoDB through one botocore session per thread
(``store/tables/connection.py``), while keeping the connection and schema PynamoDB made it."""

from __future__ import annotations

import threading

from commerce.store import transactions
from commerce.store.tables.connection import SharedSessionConnection, TableModel, thread_session
from pynamodb.models import Model
from store_shapes import item_shapes, named_models


def _store_shapes() -> list[type[Model]]:
    return [m for m in named_models() if m.__module__.startswith("commerce.store")]


def test_every_item_shape_of_the_store_derives_from_the_table_model() -> None:
    shapes = _store_shapes()
    assert len(shapes) > 40  # the store's shapes were found, not an empty list
    assert [m.__qualname__ for m in shapes if not issubclass(m, TableModel)] == []


def test_every_shape_keeps_its_connection_on_the_threads_one_session() -> None:
    shapes = item_shapes(TableModel)
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
    shapes = item_shapes(TableModel)[:5]
    seen: list[set[object]] = []

    def look() -> None:
        seen.append({shape._get_connection().connection.session for shape in shapes})

    worker = threading.Thread(target=look)
    worker.start()
    worker.join()

    (sessions,) = seen
    assert len(sessions) == 1
    assert sessions != {thread_session()}
