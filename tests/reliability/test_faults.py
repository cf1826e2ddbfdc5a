"""Orders placed through every fault the local stack injects at once, and nothing goes wrong.

A stack of its own (``tests/fault_run.py``: workers killed mid-request, DynamoDB latency,
throttling, 500s and partition ceilings through the DynamoDB proxy, duplicate SQS deliveries,
a payment provider that times out) takes orders from signed-in customers and guests racing for
two SKUs with little stock; the client retries what API.md says it may. Once everything has
settled the books are read back from the tables: no order lost, none charged twice, no SKU
oversold, no notification sent twice. Every kind of fault must have been injected at least
once, or the run proved nothing. ``tests/bench/faults.py`` is the longer run behind the
README's figures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_run import RunShape, faulty_stack, run

from infra.local.harness import StackProcess

pytestmark = pytest.mark.reliability

SHAPE = RunShape(buyers=8, orders_per_buyer=2, skus=2, stock=5, concurrency=4)
KINDS = (
    "worker_killed",
    "dynamodb_delayed",
    "dynamodb_throttled",
    "dynamodb_failed",
    "partition_throttled",
    "sqs_duplicated",
)


@pytest.fixture(scope="module")
def faulty() -> Iterator[StackProcess]:
    with faulty_stack(["--max-concurrency", "2", "--no-warm"]) as running:
        yield running


def test_orders_survive_every_fault_at_once(faulty: StackProcess) -> None:
    figures = run(faulty, SHAPE)
    print("\n" + "\n".join(figures.lines()))
    assert figures.lost == []
    assert figures.charged_twice == []
    assert figures.oversold == []
    assert figures.sent_twice == []
    assert figures.sold_miscounted == []
    assert figures.failed == [], "an attempt ended in an answer no retry could mend"
    assert figures.placed > 0
    assert figures.refused > 0, "the stock never ran out: the race proved nothing"
    assert figures.paid + figures.payment_failed == figures.placed
    missing = [kind for kind in KINDS if not figures.faults.get(kind)]
    assert missing == [], f"never injected: {missing}"
    assert figures.provider_timeouts > 0
