"""Races on DynamoDB Local (moto is not safe under concurrent writes): first signed-in calls
made at once, as several function instances would make them, leave one profile, and every
caller gets that one. Run directly, this file is the child that races
(tests/integration/local_engine.py)."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from local_engine import run_child

pytestmark = pytest.mark.integration

CALLERS = 8


def test_concurrent_first_calls_leave_one_profile(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "first_calls")
    assert result["errors"] == [], result
    assert result["created_at"] == [result["stored_created_at"]]
    assert result["profiles"] == 1
    assert result["callers"] == CALLERS


# --- the child -------------------------------------------------------------------------------


def _first_calls() -> dict[str, Any]:
    """Eight first calls at once race to create the profile (``ensure_profile``, what every
    signed-in route calls first); each must hand back the one that was stored."""
    from commerce.customers.profiles import Identity, ensure_profile
    from commerce.store.tables.customers import ProfileModel

    identity = Identity(sub="c0000000-0000-4000-8000-0000000000bb", email="race@example.com")
    errors: list[str] = []

    def one(_: int) -> str | None:
        try:
            return ensure_profile(identity).created_at
        except Exception as error:  # reported, never swallowed
            errors.append(repr(error))
            return None

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        seen = list(pool.map(one, range(CALLERS)))
    stored = [m for m in ProfileModel.scan(consistent_read=True) if m.sk == "PROFILE"]
    return {
        "callers": sum(1 for s in seen if s is not None),
        "created_at": sorted({s for s in seen if s is not None}),
        "stored_created_at": stored[0].created_at if stored else None,
        "profiles": len(stored),
        "errors": errors,
    }


if __name__ == "__main__":
    print(json.dumps({"first_calls": _first_calls}[sys.argv[1]]()))
