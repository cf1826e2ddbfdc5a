"""Insight under real concurrency, against DynamoDB Local (AWS's own engine, not moto).

The same stream records handed to several invocations at once (Lambda's retries, a bisected
batch, a redelivery and, with a ParallelizationFactor above 1, batches of one shard
overlapping), count once: the figures equal a recomputation from the orders. A campaign request
retried at once under one Idempotency-Key makes one campaign. The racing happens in a child
interpreter whose clients point at DynamoDB Local from the start (this process's were made for
moto). Run directly, this file is that child.
"""

from __future__ import annotations

import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from local_engine import run_child

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_racing_deliveries_of_the_same_records_count_once(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "stream")
    assert result["errors"] == [], result
    assert result["mismatches"] == [], result
    assert result["applied"] > 0
    assert result["duplicates"] > 0  # the races did deliver records twice


def test_a_campaign_request_retried_at_once_makes_one_campaign(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "campaign")
    assert result["statuses"] == [202] * 8, result
    assert len(set(result["ids"])) == 1, result
    assert result["campaigns"] == 1
    assert result["expansions"] >= 1


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _stream() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response
    from commerce.analytics.book import DynamoInsightBook
    from commerce.analytics.stream import Result, StreamEdge, handle_record
    from orders_world import Context
    from shop_streams import START, book_mismatches, records_of
    from stream_builders import OrderStory

    rng = random.Random(14)
    orders: list[OrderStory] = []
    for index in range(40):
        owner = rng.choice(("c-1", "c-2", "c-3", None))
        lines = tuple(
            (sku, rng.randint(1, 3), rng.randint(100, 9000))
            for sku in sorted(rng.sample(["A", "B", "C", "D"], rng.randint(1, 2)))
        )
        story = OrderStory(f"o-{index}", owner, f"g{index % 3}@x.com", lines, START + index * 3600)
        story.pay(story.placed_at + 60)
        if index % 4 == 0:
            story.refund(story.total // 3, story.placed_at + 7200)
        orders.append(story)
    carts = [(f"cart-{n}", START + n * 5000) for n in range(6)]
    records = records_of(orders, carts)
    results: list[str] = []
    errors: list[str] = []

    def deliver(batch: list[dict[str, Any]]) -> None:
        outcome: list[str] = []

        def handler(record: Any) -> str:
            value = handle_record(record.raw_event).value
            outcome.append(value)
            return value

        try:
            answer = process_partial_response(
                event={"Records": batch},
                record_handler=handler,
                processor=StreamEdge(),
                context=Context(),  # type: ignore[arg-type]
            )
            if answer["batchItemFailures"]:
                errors.append(str(answer))
        except Exception as error:  # reported to the parent
            errors.append(repr(error))
        results.extend(outcome)

    # Four overlapping deliveries: the whole stream shuffled, and its halves twice more.
    batches = []
    for seed in range(4):
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        batches.append(shuffled if seed == 0 else shuffled[: len(shuffled) // 2 + seed])
    with ThreadPoolExecutor(len(batches)) as pool:
        list(pool.map(deliver, batches))
    return {
        "errors": errors,
        "mismatches": book_mismatches(DynamoInsightBook(), orders, carts),
        "applied": results.count(Result.APPLIED.value),
        "duplicates": results.count(Result.DUPLICATE.value),
    }


def _campaign() -> dict[str, Any]:
    from commerce import clock
    from commerce.analytics import campaign_work, campaigns
    from commerce.analytics.schemas import CampaignIn
    from commerce.domain.segments import Rules
    from commerce.errors import CommerceError
    from commerce.http.auth import Caller
    from commerce.store import campaigns as store
    from commerce.store.campaigns import StoredSegment

    segment = StoredSegment(
        "9d2f4c1a7b3e4d5f8a6c0b1e2d3f4a5b", "All", Rules(), clock.now_iso(), "ops"
    )
    store.create_segment(segment)
    queue = campaign_work.MemoryWorkQueue()
    campaign_work.work_queue.use(queue)
    body = CampaignIn(
        name="Race",
        segment_id=segment.segment_id,
        channels=["email"],
        subject="Hello",
        body="World",
    )
    caller = Caller(sub="ops-1", groups=frozenset({"ops"}))

    def post(_: int) -> tuple[int, str]:
        try:
            accepted = campaigns.create_campaign(body, caller, "same-key")
        except CommerceError as error:
            return error.status, ""
        return 202, accepted.campaign_id

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    found, _ = store.campaigns_page(100, None)
    return {
        "statuses": [status for status, _ in answers],
        "ids": [campaign_id for _, campaign_id in answers],
        "campaigns": len(found),
        "expansions": sum(1 for body in queue.sent if json.loads(body)["kind"] == "expand"),
    }


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    scenario = sys.argv[1]
    outcome = _stream() if scenario == "stream" else _campaign()
    print(json.dumps(outcome))
