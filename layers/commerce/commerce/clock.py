"""The system's one clock, and the two ways it writes time down.

Every rule that depends on time asks ``now()`` here, so a test moves time forward by replacing
this one function instead of sleeping. Two text forms exist on purpose:

- ``iso`` (whole seconds, ``2026-11-11T00:00:00Z``) is how API.md shows times and how epoch
  values such as hold expiries and ledger entries are written out;
- ``now_iso`` / ``iso_us`` (fixed-width microseconds) stamp stored records, whose string order
  must follow time order (product lists, ledgers, the dispatch and reversal markers).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Final

SECONDS_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
MICROS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> int:
    """The current time in whole epoch seconds (as ``expires_at`` and history are stored)."""
    return int(time.time())


def iso(epoch_seconds: int) -> str:
    """An epoch time as API.md shows times: UTC ISO 8601 in whole seconds."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime(SECONDS_FORMAT)


def iso_us(epoch_seconds: float) -> str:
    """An epoch time in the sortable, fixed-width stored form (microseconds)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime(MICROS_FORMAT)


def now_iso() -> str:
    """The current time in the stored form: sortable as a string."""
    return datetime.now(UTC).strftime(MICROS_FORMAT)


def epoch(text: str) -> int:
    """Whole epoch seconds of a time written by ``iso`` or ``iso_us``/``now_iso``."""
    layout = MICROS_FORMAT if "." in text else SECONDS_FORMAT
    return int(datetime.strptime(text, layout).replace(tzinfo=UTC).timestamp())
