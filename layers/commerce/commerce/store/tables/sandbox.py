"""The sandbox payment provider's own table (``SandboxPaymentsTable``, outside prod only).

One item shape: ``pk`` = partition (an order id or a charge id), ``sk`` = key, the sandbox's
record in ``record``; ``ttl`` only tidies the table (``store/sandbox_ledger.py``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute

from commerce.settings import get_settings
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class SandboxLedgerModel(TableModel):
    """pk = partition, sk = key, ``record`` = the sandbox's record (strings and integers)."""

    class Meta:
        table_name = _settings.sandbox_payments_table
        region = _settings.region

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    record = MapAttribute[str, Any]()  # type: ignore[no-untyped-call]
    ttl = NumberAttribute()
