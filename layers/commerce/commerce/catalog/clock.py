"""Timestamps as stored and shown: UTC ISO 8601 with microseconds and a ``Z``.

A fixed width keeps them sortable as strings, which the product list and the ledger rely on.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
