"""The process's adapter for each port: made on first use, replaceable by a test.

Each port of the layer (the order and checkout books, the payments queue, the event publisher,
the payment provider) has one adapter per process. It is built the first time a use case asks,
so a function that never uses a port pays nothing for it at cold start; a test, or the local
stack, installs a fake of our own in its place with ``use`` and hands it back with ``use(None)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Adapter(Generic[T]):
    """Call it for the process's adapter; ``use`` installs another (None rebuilds on demand)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._current: T | None = None

    def __call__(self) -> T:
        if self._current is None:
            self._current = self._build()
        return self._current

    def use(self, replacement: T | None) -> None:
        self._current = replacement
