"""The clock holds are judged by: whole epoch seconds, as ``expires_at`` is stored.

One function to read it, so tests can move time forward to expire a hold instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> int:
    """The current time in whole epoch seconds."""
    return int(time.time())


def iso(epoch_seconds: int) -> str:
    """An epoch time as API.md shows times: UTC ISO 8601."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
