"""One botocore session per thread for every table connection of the store.

PynamoDB gives each model class a connection of its own, and each connection a botocore session
of its own. A new session loads DynamoDB's service model and endpoint rules before its first
client, paid again for nearly every item shape a request touches for the first time in a
process; on Lambda that lands on a cold start's first request. The bench
``tests/bench/store_connections.py`` times it: about 110 ms of CPU per shape with a session
apiece, 5 ms sharing one, on the development machine. Sharing the session leaves each further
client only its own set-up; the connections, their schemas and their clients stay as PynamoDB
keeps them. The session is per thread because botocore's client creation is not thread-safe,
which is why PynamoDB keeps its sessions per thread too.
"""

from __future__ import annotations

import threading

import botocore.session
from pynamodb.connection import Connection
from pynamodb.connection.table import TableConnection
from pynamodb.models import Model

_local = threading.local()


def thread_session() -> botocore.session.Session:
    """This thread's botocore session for DynamoDB, made on first use."""
    session: botocore.session.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = botocore.session.get_session()
    return session


class SharedSessionConnection(Connection):
    """A PynamoDB connection whose client comes from the thread's shared session."""

    @property
    def session(self) -> botocore.session.Session:
        return thread_session()


class TableModel(Model):
    """The base of every table's base model: its connection uses the shared session.

    PynamoDB builds the connection itself (``Model._get_connection``), so the one it built is
    given the shared session's class, which differs from PynamoDB's only in where the session
    comes from.
    """

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        if type(table.connection) is Connection:
            table.connection.__class__ = SharedSessionConnection
        return table
