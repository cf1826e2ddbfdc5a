"""The local stack's stream poller against DynamoDB Local's own Streams API, with Lambda's rules:
batches in order, filter criteria, partial failures, bisection, retries and the on-failure
destination (a queue on a moto server).

The function is played by a recording pool (the stack's own port to its workers), so each
test says exactly what the handler answers; the real consumer over the real pump runs in the
local stack (tests/e2e/test_insight.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from commerce.domain.orders import PaymentStatus
from stream_builders import pk_sk_table

from infra.local.dynamodb_local import LOCAL_KEY
from infra.local.functions import load_functions
from infra.local.moto_server import MotoServer
from infra.local.resources import CreatedResources, create_queues, create_tables
from infra.local.stack import REPO_ROOT
from infra.local.stream_pump import (
    StreamMapping,
    StreamPump,
    failed_from,
    load_stream_mappings,
    pattern_matches,
)
from infra.local.template import Resolver, load_template
from infra.local.workers import InvokeError, InvokeResult

pytestmark = pytest.mark.integration

TEMPLATE = load_template(REPO_ROOT / "template.yaml")

ORDERS_ONLY = {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["ORDER"]}}}}
Answer = Callable[[list[dict[str, Any]]], Any]


@dataclass
class RecordingPool:
    """Plays the function: records each batch and answers with ``answer(records)``; an answer
    that is an exception is raised as the worker would fail."""

    answer: Answer = lambda records: {"batchItemFailures": []}
    batches: list[list[dict[str, Any]]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> InvokeResult:
        records = event["Records"]
        self.batches.append(records)
        result = self.answer(records)
        if isinstance(result, Exception):
            raise InvokeError(str(result))
        if result == "raise":
            return InvokeResult(ok=False, payload={"errorType": "RuntimeError"})
        return InvokeResult(ok=True, payload=result)

    def ids(self) -> list[list[str]]:
        return [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in self.batches]


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def engine(dynamodb_local: str) -> dict[str, Any]:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=dynamodb_local,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_KEY,
            aws_secret_access_key=LOCAL_KEY,
        )

    return {"dynamodb": client("dynamodb"), "streams": client("dynamodbstreams")}


def fresh_table(engine: dict[str, Any]) -> tuple[str, str]:
    """A new table with a NEW_AND_OLD_IMAGES stream; its name and stream ARN."""
    name = f"pump-{uuid.uuid4().hex[:12]}"
    table = pk_sk_table(engine["dynamodb"], name, stream="NEW_AND_OLD_IMAGES")
    return name, str(table["LatestStreamArn"])


def put(engine: dict[str, Any], table: str, pk: str, sk: str = "ORDER") -> None:
    engine["dynamodb"].put_item(
        TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": "1"}}
    )


def pump_for(
    engine: dict[str, Any], arn: str, pool: RecordingPool, sqs: Any = None, **changes: Any
) -> StreamPump:
    mapping = StreamMapping(
        function="AnalyticsFunction",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:commerce-local-Analytics",
        table_logical_id="OrdersTable",
        stream_arn=arn,
        starting_position="TRIM_HORIZON",
        **changes,
    )
    pump = StreamPump(mapping, pool, engine["streams"], sqs, sleep=lambda _: None)
    pump._refresh_shards(initial=True)
    return pump


def drain(pump: StreamPump) -> None:
    while pump.poll_once():
        pass


def test_the_template_declares_the_consumers_event_sources(
    dynamodb_local: str, engine: dict[str, Any], moto: MotoServer
) -> None:
    resolver = Resolver(TEMPLATE)
    created = CreatedResources()
    create_queues(resolver, moto.client("sqs"), created)
    create_tables(resolver, engine["dynamodb"], created)
    functions = load_functions(TEMPLATE, resolver, REPO_ROOT)
    mappings = {m.table_logical_id: m for m in load_stream_mappings(functions, created, resolver)}
    assert set(mappings) == {"OrdersTable", "CartsTable"}
    orders = mappings["OrdersTable"]
    assert orders.function == "AnalyticsFunction"
    assert orders.stream_arn == created.streams["OrdersTable"]
    assert (orders.batch_size, orders.batching_window, orders.starting_position) == (
        100,
        1.0,
        "TRIM_HORIZON",
    )
    assert (orders.report_failures, orders.bisect, orders.max_retries) == (True, True, 5)
    assert orders.destination_url == created.queues["AnalyticsDLQ"]
    # Orders whose payment went through: the filter names every payment status after approval.
    allowed = orders.filters[0]["dynamodb"]["NewImage"]["payment"]["M"]["status"]["S"]
    assert set(allowed) == {s.value for s in PaymentStatus} - {"PENDING", "DECLINED"}
    assert orders.filters == [
        {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {
                "Keys": {"sk": {"S": ["ORDER"]}},
                "NewImage": {
                    "payment": {
                        "M": {"status": {"S": ["APPROVED", "PARTIALLY_REFUNDED", "REFUNDED"]}}
                    }
                },
            },
        }
    ]
    assert mappings["CartsTable"].filters == [
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["CART"]}}}}
    ]


def test_records_come_in_order_in_batches_filtered_and_shaped_as_lambda_sends_them(
    engine: dict[str, Any],
) -> None:
    table, arn = fresh_table(engine)
    noise, _ = fresh_table(engine)
    pool = RecordingPool()
    pump = pump_for(engine, arn, pool, batch_size=3, filters=[ORDERS_ONLY])
    drain(pump)  # an empty shard, polled while another table takes writes
    for n in range(7):
        put(engine, noise, f"noise-{n}")
        put(engine, table, f"o-{n}")
        put(engine, table, f"o-{n}", sk="RETURN#1")  # filtered out
    drain(pump)
    assert [pk for batch in pool.ids() for pk in batch] == [f"o-{n}" for n in range(7)]
    assert all(0 < len(batch) <= 3 for batch in pool.batches)
    record = pool.batches[0][0]
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventName"] == "INSERT"
    assert record["eventSourceARN"] == arn
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["NewImage"]["n"] == {"N": "1"}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    put(engine, table, "o-later")
    drain(pump)
    assert pool.ids()[-1] == ["o-later"]  # nothing delivered twice, nothing skipped


def test_a_partial_failure_is_retried_from_the_first_failed_record(engine: dict[str, Any]) -> None:
    table, arn = fresh_table(engine)
    for n in range(5):
        put(engine, table, f"o-{n}")
    failures = iter([["o-3", "o-1"]])

    def answer(records: list[dict[str, Any]]) -> Any:
        failed = next(failures, [])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                for r in records
                if r["dynamodb"]["Keys"]["pk"]["S"] in failed
            ]
        }

    pool = RecordingPool(answer)
    drain(pump_for(engine, arn, pool, report_failures=True))
    assert pool.ids() == [["o-0", "o-1", "o-2", "o-3", "o-4"], ["o-1", "o-2", "o-3", "o-4"]]


def test_a_batch_that_errors_is_bisected_and_a_poison_record_goes_to_the_destination(
    engine: dict[str, Any], moto: MotoServer
) -> None:
    table, arn = fresh_table(engine)
    for n in range(4):
        put(engine, table, f"o-{n}")
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=f"dest-{uuid.uuid4().hex[:8]}")["QueueUrl"]

    def answer(records: list[dict[str, Any]]) -> Any:
        poisoned = any(r["dynamodb"]["Keys"]["pk"]["S"] == "o-2" for r in records)
        return "raise" if poisoned else {"batchItemFailures": []}

    pool = RecordingPool(answer)
    pump = pump_for(engine, arn, pool, sqs, bisect=True, max_retries=2, destination_url=url)
    drain(pump)
    delivered = [ids for ids in pool.ids() if "o-2" not in ids]
    assert sorted(pk for ids in delivered for pk in ids) == ["o-0", "o-1", "o-3"]
    assert pool.ids().count(["o-2"]) == 3  # once, then its two retries
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = body["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert pump.dead_lettered == 1


def test_a_crashed_invocation_counts_as_an_error(engine: dict[str, Any]) -> None:
    table, arn = fresh_table(engine)
    put(engine, table, "o-0")
    answers = iter([RuntimeError("worker died"), {"batchItemFailures": []}])
    pool = RecordingPool(lambda records: next(answers))
    drain(pump_for(engine, arn, pool, max_retries=3))
    assert pool.ids() == [["o-0"], ["o-0"]]


@pytest.mark.parametrize(
    ("pattern", "record", "matches"),
    [
        ({"a": ["x"]}, {"a": "x"}, True),
        ({"a": ["x"]}, {"a": "y"}, False),
        ({"a": [{"prefix": "OR"}]}, {"a": "ORDER"}, True),
        ({"a": [{"exists": False}]}, {}, True),
        ({"a": [{"exists": True}]}, {}, False),
        ({"a": [{"anything-but": ["x"]}]}, {"a": "y"}, True),
        ({"a": {"b": ["1"]}}, {"a": {"b": "1"}}, True),
        ({"a": {"b": ["1"]}}, {"a": "flat"}, False),
    ],
)
def test_filter_patterns(pattern: dict[str, Any], record: dict[str, Any], matches: bool) -> None:
    assert pattern_matches(pattern, record) is matches


def test_a_malformed_partial_response_fails_the_whole_batch() -> None:
    records = [{"dynamodb": {"SequenceNumber": str(n)}} for n in range(3)]
    assert failed_from(records, {"batchItemFailures": []}) is None
    assert failed_from(records, {"batchItemFailures": [{"itemIdentifier": "2"}]}) == 2
    assert failed_from(records, {"batchItemFailures": [{"itemIdentifier": "9"}]}) == 0
    assert failed_from(records, {"batchItemFailures": [{}]}) == 0
    assert failed_from(records, None) is None
