"""Stock is never oversold under concurrent adjustments: checked against DynamoDB Local.

moto's backend is not safe under concurrent conditional writes, so a race against it proves
nothing; DynamoDB Local is AWS's own engine. The racing happens in a child interpreter whose
PynamoDB clients point at DynamoDB Local from the start (this process's clients were made for
moto). Run directly, this file is that child.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dynamodb_local() -> Iterator[str]:
    """DynamoDB Local with every table of template.yaml; yields its endpoint."""
    from infra.local.dynamodb_local import DynamoDBLocal, find_jar_dir
    from infra.local.resources import CreatedResources, create_tables
    from infra.local.template import Resolver, load_template

    if shutil.which("java") is None:
        pytest.skip("DynamoDB Local needs Java 17+")
    try:
        find_jar_dir(ROOT)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    engine = DynamoDBLocal(ROOT)
    engine.start()
    try:
        template = load_template(ROOT / "template.yaml")
        create_tables(Resolver(template), engine.client(), CreatedResources())
        yield engine.endpoint
    finally:
        engine.stop()


def _race(endpoint: str, scenario: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "commerce"), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, __file__, scenario],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_concurrent_removals_never_oversell(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "removals")
    outcomes = result["outcomes"]
    assert outcomes.get("error", 0) == 0, result
    assert outcomes.get("applied", 0) <= result["stock"]
    assert result["on_hand"] == result["stock"] - outcomes.get("applied", 0)
    assert result["on_hand"] >= 0
    assert result["available"] == result["on_hand"]
    # one ledger entry per applied removal, plus the opening stock
    assert result["ledger_entries"] == outcomes.get("applied", 0) + 1
    assert (
        outcomes.get("applied", 0) + outcomes.get("conflict", 0) + outcomes.get("throttled", 0)
        == result["attempts"]
    )


def test_concurrent_retries_apply_once(dynamodb_local: str) -> None:
    result = _race(dynamodb_local, "retries")
    outcomes = result["outcomes"]
    assert outcomes.get("error", 0) == 0, result
    assert outcomes.get("applied", 0) == 1
    assert result["on_hand"] == result["stock"] - result["delta_size"]
    assert result["ledger_entries"] == 2


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _child(scenario: str) -> dict[str, Any]:
    import uuid

    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.errors import Conflict, TooManyRequests
    from commerce.store import inventory, products
    from commerce.store.inventory import Outcome

    stock, attempts, delta_size = (20, 60, 1) if scenario == "removals" else (50, 24, 5)
    sku = f"RACE-{uuid.uuid4().hex[:10]}"
    at = "2026-01-01T00:00:00.000000Z"
    spec = SkuSpec(sku=sku, price=Money(100), stock=stock)
    products.create(uuid.uuid4().hex, NewProduct("Race", "", (spec,)), actor="race", at=at)

    def one(i: int) -> str:
        key = "same-key" if scenario == "retries" else None
        try:
            outcome = inventory.adjust(
                sku,
                -delta_size,
                reason="race",
                actor=f"worker-{i}",
                at=f"2026-01-01T00:00:01.{i:06d}Z",
                idempotency_key=key,
            )
        except Conflict:
            return "conflict"
        except TooManyRequests:
            return "throttled"
        except Exception:  # reported, and fails the test
            return "error"
        return "applied" if outcome is Outcome.APPLIED else "replayed"

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = Counter(pool.map(one, range(attempts)))
    level = inventory.read_stock([sku], consistent=True)[sku].level
    return {
        "stock": stock,
        "attempts": attempts,
        "delta_size": delta_size,
        "outcomes": dict(outcomes),
        "on_hand": level.on_hand,
        "available": level.available,
        "ledger_entries": len(inventory.ledger(sku, limit=1000)),
    }


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1])))
