"""The local stack's opt-in metering (infra/local/metering.py), which the cost bench reads.

In this process: the botocore wrapper against DynamoDB Local (capacity from the response, the
response handed back as the caller asked for it, failed calls estimated), through boto3 and
PynamoDB, and SQS sends counted against moto. Through the fixture stack: one invocation per
dispatch from HTTP, SQS and a schedule, with the calls a handler made tagged with its request
id. And off by default: no flag, nothing patched, nothing written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.client import BaseClient
from moto import mock_aws
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from infra.local import metering
from infra.local.cli import options_from, parse_args
from infra.local.harness import REPO_ROOT, start_stack

pytestmark = pytest.mark.integration

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "local_stack" / "template.yaml"
TABLE = "metering-probe"


@pytest.fixture(scope="module")
def dynamodb_endpoint(empty_dynamodb_local: Any) -> str:
    """DynamoDB Local with one table; its endpoint."""
    empty_dynamodb_local.client().create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(empty_dynamodb_local.endpoint)


@pytest.fixture
def meter(tmp_path: Path) -> Iterator[metering.WorkerMeter]:
    """The worker meter installed in this process, removed afterwards."""
    installed = metering.install_worker(str(tmp_path), "probe-fn")
    assert installed is not None
    try:
        yield installed
    finally:
        metering.uninstall_worker()


def _client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _calls(directory: Path) -> list[dict[str, Any]]:
    return metering.select(metering.read_records(directory), "call")


def test_dynamodb_units_come_from_the_response_and_the_caller_sees_what_it_asked(
    dynamodb_endpoint: str, meter: metering.WorkerMeter, tmp_path: Path
) -> None:
    client = _client(dynamodb_endpoint)
    meter.begin("req-1")
    put = client.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "big": {"S": "x" * 3000}})
    assert "ConsumedCapacity" not in put  # not asked for: not shown
    got = client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}}, ReturnConsumedCapacity="TOTAL")
    assert got["ConsumedCapacity"]["CapacityUnits"] == 0.5  # asked for: shown
    written = client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "b"}}}},
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "c"}}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    # The meter asked for INDEXES; the caller gets the TOTAL shape it asked for.
    assert [set(entry) for entry in written["ConsumedCapacity"]] == [{"TableName", "CapacityUnits"}]
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=TABLE, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    client.list_tables()
    meter.end({"Records": [{"eventSource": "aws:sqs"}] * 2}, 12.5, True)

    calls = {(c["operation"], c["error"]): c for c in _calls(tmp_path)}
    assert (calls[("PutItem", None)]["wcu"], calls[("PutItem", None)]["rcu"]) == (3.0, 0.0)
    assert calls[("PutItem", None)]["capacity"] == "response"
    assert calls[("GetItem", None)]["rcu"] == 0.5
    # AWS: 2 items x 1 KB x 2; DynamoDB Local rounds the two together and says 2.
    transaction = calls[("TransactWriteItems", None)]
    assert (transaction["wcu"], transaction["reported_wcu"]) == (4.0, 2.0)
    failed = calls[("PutItem", "ConditionalCheckFailedException")]
    assert (failed["wcu"], failed["capacity"]) == (1.0, "estimated")
    # Where the units went: per table, and per item key (a put's key is not told apart).
    assert calls[("PutItem", None)]["by_table"] == {TABLE: [0.0, 3.0]}
    assert calls[("PutItem", None)]["items"] == [[TABLE, None, 0.0, 3.0]]
    assert calls[("GetItem", None)]["items"] == [[TABLE, "a", 0.5, 0.0]]
    assert transaction["by_table"] == {TABLE: [0.0, 4.0]}
    assert transaction["items"] == [[TABLE, None, 0.0, 2.0], [TABLE, None, 0.0, 2.0]]
    assert failed["by_table"] == {TABLE: [0.0, 1.0]}
    assert "rcu" not in calls[("ListTables", None)]  # no capacity for table operations
    assert {c["request_id"] for c in calls.values()} == {"req-1"}
    assert {c["function"] for c in calls.values()} == {"probe-fn"}
    (invoke,) = metering.select(metering.read_records(tmp_path), "invoke")
    assert (invoke["request_id"], invoke["source"], invoke["records"]) == ("req-1", "sqs", 2)
    assert invoke["duration_ms"] == 12.5


def test_a_transaction_over_two_tables_is_split_by_table_and_item() -> None:
    """DynamoDB's INDEXES answer has one entry per table; each table's part is rounded per
    item as AWS does, its index part kept, and each updated item named by its key."""
    params = {
        "TransactItems": [
            {
                "Update": {
                    "TableName": "Inventory",
                    "Key": {"pk": {"S": "STOCK#A#0"}, "sk": {"S": "S"}},
                }
            },
            {
                "Update": {
                    "TableName": "Inventory",
                    "Key": {"pk": {"S": "STOCK#A#1"}, "sk": {"S": "S"}},
                }
            },
            {
                "Put": {
                    "TableName": "Carts",
                    "Item": {"pk": {"S": "CART#1"}, "n": {"S": "x" * 1500}},
                }
            },
        ]
    }
    consumed = [
        {"TableName": "Inventory", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 2.0}},
        {"TableName": "Carts", "CapacityUnits": 6.0, "Table": {"CapacityUnits": 4.0}},
    ]
    by_table = metering.units_by_table("TransactWriteItems", params, consumed)
    assert by_table == {"Inventory": (0.0, 4.0), "Carts": (0.0, 6.0)}
    assert metering.transact_write_units(params, consumed) == 10.0
    split = metering.breakdown("TransactWriteItems", params, consumed, (0.0, 10.0))
    assert split["items"] == [
        ["Inventory", "STOCK#A#0|S", 0.0, 2.0],
        ["Inventory", "STOCK#A#1|S", 0.0, 2.0],
        ["Carts", None, 0.0, 4.0],
    ]


def test_pynamodb_goes_through_the_same_wrapper(
    dynamodb_endpoint: str, meter: metering.WorkerMeter, tmp_path: Path
) -> None:
    class Probe(Model):
        class Meta:
            table_name = TABLE
            host = dynamodb_endpoint
            region = "us-east-1"
            aws_access_key_id = "local"
            aws_secret_access_key = "local"

        pk = UnicodeAttribute(hash_key=True)

    meter.begin("req-2")
    Probe(pk="p").save()
    assert Probe.get("p", consistent_read=True).pk == "p"
    meter.end({}, 1.0, True)
    units = [(c["operation"], c["rcu"], c["wcu"]) for c in _calls(tmp_path)]
    assert units == [("PutItem", 0.0, 1.0), ("GetItem", 1.0, 0.0)]


def test_sqs_sends_count_their_messages(meter: metering.WorkerMeter, tmp_path: Path) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="metered")["QueueUrl"]
        meter.begin("req-3")
        sqs.send_message(QueueUrl=url, MessageBody="one")
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": "x" * 10} for n in range(3)]
        )
        meter.end({}, 1.0, True)
    sends = [c for c in _calls(tmp_path) if c["operation"].startswith("SendMessage")]
    assert [(c["messages"], c["bytes"], c["queue"]) for c in sends] == [
        (1, 3, "metered"),
        (3, 30, "metered"),
    ]


def test_off_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(metering.ENV_VAR, raising=False)
    original = BaseClient.__dict__["_make_api_call"]
    assert options_from(parse_args([])).metering_dir is None
    assert metering.install_worker(None, "fn") is None
    assert metering.dispatch_meter(None) is None
    assert BaseClient.__dict__["_make_api_call"] is original
    monkeypatch.setenv(metering.ENV_VAR, str(tmp_path))
    assert options_from(parse_args([])).metering_dir == tmp_path


def _wait_for(directory: Path, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = metering.read_records(directory)
        if done(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def test_the_stack_meters_every_dispatch_path(tmp_path: Path) -> None:
    directory = tmp_path / "metering"
    stack = start_stack(
        template=FIXTURE,
        args=["--no-demo-data", "--metering-dir", str(directory)],
        env={"SWEEP_INTERVAL_SECONDS": "1"},
    )
    try:
        assert stack.info["metering_dir"] == str(directory)
        echo = stack.info["functions"]["EchoFunction"]
        reply = requests.get(f"{stack.base_url}/public/1", timeout=30)
        assert reply.status_code == 200
        api_request = reply.headers["x-amzn-RequestId"]
        sqs = boto3.client(
            "sqs",
            endpoint_url=stack.moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        sqs.send_message(QueueUrl=stack.info["queues"]["WorkQueue"], MessageBody="ok")

        def seen_all(records: list[dict[str, Any]]) -> bool:
            sources = {r["source"] for r in metering.select(records, "dispatch")}
            published = any(r.get("operation") == "Publish" for r in records)
            return {"api", "sqs", "schedule"} <= sources and published

        records = _wait_for(directory, seen_all)
    finally:
        stack.stop()

    dispatches = metering.select(records, "dispatch")
    invokes = metering.select(records, "invoke")
    assert {(d["function"], d["source"]) for d in dispatches} == {
        (echo, "api"),
        (echo, "sqs"),
        (echo, "schedule"),
    }
    api = [d for d in dispatches if d["source"] == "api"]
    assert [d["request_id"] for d in api] == [api_request]
    assert all(d["outcome"] == "ok" for d in dispatches)
    assert [d["records"] for d in dispatches if d["source"] == "sqs"] == [1]
    # Each finished dispatch has its handler time from the worker, under the same request id.
    timed = {i["request_id"]: i for i in invokes}
    for dispatch in dispatches:
        assert 0 < timed[dispatch["request_id"]]["duration_ms"] <= dispatch["wall_ms"]
    (publish, *_) = [r for r in records if r.get("operation") == "Publish"]
    assert publish["service"] == "sns"
    schedule_ids = {d["request_id"] for d in dispatches if d["source"] == "schedule"}
    assert publish["request_id"] in schedule_ids


def test_the_stack_writes_nothing_without_the_flag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(metering.ENV_VAR, raising=False)
    stack = start_stack(template=FIXTURE, args=["--no-demo-data"])
    try:
        assert stack.info["metering_dir"] is None
        reply = requests.get(f"{stack.base_url}/public/1", timeout=30)
        assert reply.status_code == 200
        env = reply.json()["env"]
        assert not any("METERING" in name for name in env)
    finally:
        stack.stop()
    assert not list(Path(REPO_ROOT).glob("*.jsonl"))
    assert not list(stack.log_dir.parent.rglob("*.jsonl"))  # the run's directory, logs and all
