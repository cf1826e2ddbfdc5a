"""Sold-out marks: what this function instance learnt from a read of a SKU's stock, for a second.

In a flash sale nine buyers in ten ask for a SKU that has nothing left. Once a read of its
stock found nothing available, the same instance refuses further requests for more of it
without reading anything, for one second; then the next request reads again. A mark can only
refuse, never hold: the hold itself is always a conditional write, so a stale mark never
oversells. The price is a refusal up to a second after stock came back (a release, a restock),
which a buyer retrying sees lift.
"""

from __future__ import annotations

import time
from typing import Final

#: How long a read that found a SKU sold out is believed without reading again.
MARK_SECONDS: Final = 1.0
_MAX_MARKS: Final = 4096

_marks: dict[str, float] = {}


def mark(sku: str) -> None:
    """A read just found ``sku`` with nothing available."""
    if len(_marks) >= _MAX_MARKS:
        _marks.clear()
    _marks[sku] = time.monotonic()


def unmark(sku: str) -> None:
    """A read or write just saw ``sku`` with stock: forget the mark at once."""
    _marks.pop(sku, None)


def marked(sku: str) -> bool:
    """Whether a read at most ``MARK_SECONDS`` ago found ``sku`` sold out."""
    seen = _marks.get(sku)
    if seen is None:
        return False
    if time.monotonic() - seen > MARK_SECONDS:
        del _marks[sku]
        return False
    return True


def forget() -> None:
    """Drop every mark (a new instance starts with none; tests start each case so)."""
    _marks.clear()
