"""A monotonic clock a test moves by hand, for the modules that measure "how long ago" with
``time.monotonic`` (the sold-out marks, the remembered stock metas): time is driven, never slept.
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

import pytest


class MonotonicClock:
    """``monotonic()`` answers ``now``, which only the test moves."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


def drive(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> MonotonicClock:
    """A clock that ``modules`` (each importing ``time``) read instead of the process's own;
    nothing else's time changes."""
    clock = MonotonicClock()
    for module in modules:
        monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock
