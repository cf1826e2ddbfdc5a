"""Running one call from many threads at the same moment, for the suite's race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def all_at_once(count: int, call: Callable[[], T]) -> list[T | Exception]:
    """``call`` run by ``count`` threads released together by a barrier: each one's result, or
    the exception it raised, in no particular order."""
    start = threading.Barrier(count)

    def one(_: int) -> T | Exception:
        start.wait()
        try:
            return call()
        except Exception as error:  # handed back for the test to assert on
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))
