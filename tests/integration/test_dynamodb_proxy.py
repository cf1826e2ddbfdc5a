"""The DynamoDB proxy in front of DynamoDB Local, with boto3 and PynamoDB as clients.

What passes through arrives unchanged (conditions refused, transactions, batches, the caller's
own ConsumedCapacity); what a hook refuses reaches the SDKs as DynamoDB's own errors, which
they retry as they would on AWS (a throttle, a 500) or hand to the caller (a cancelled
transaction); the store turns a throttled transaction into a retry and throttling that outlasts
every retry into 429; the partition ceilings count what DynamoDB says a call consumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from commerce.errors import TooManyRequests
from commerce.store import kit, transactions
from commerce.store.transactions import LabelledTransaction
from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.dynamodb_proxy import (
    AwsError,
    Call,
    Decision,
    DynamoDBProxy,
    Hook,
    TableKeys,
    internal_server_error,
    throughput_exceeded,
    transaction_canceled,
)
from infra.local.partition_ceilings import PartitionCeilings

pytestmark = pytest.mark.integration

TABLE = "proxy-probe"


@pytest.fixture(scope="module")
def engine(empty_dynamodb_local: DynamoDBLocal) -> DynamoDBLocal:
    """DynamoDB Local with one table (pk, sk)."""
    empty_dynamodb_local.client().create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return empty_dynamodb_local


class Scripted(Hook):
    """Answers the listed errors to the first calls of ``operation``, then lets calls pass;
    counts the calls it saw."""

    def __init__(self, operation: str, errors: list[AwsError | None]) -> None:
        self.operation = operation
        self.errors = list(errors)
        self.seen = 0

    def decide(self, call: Call) -> Decision | None:
        if call.operation != self.operation:
            return None
        self.seen += 1
        error = self.errors.pop(0) if self.errors else None
        return Decision(error=error) if error is not None else None


@pytest.fixture
def proxied(engine: DynamoDBLocal) -> Iterator[DynamoDBProxy]:
    """A proxy with no hooks (tests add theirs to ``hooks``)."""
    proxy = DynamoDBProxy(engine.endpoint)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _client(proxy: DynamoDBProxy, mode: str = "standard", attempts: int = 3) -> Any:
    """A boto3 client through the proxy making at most ``attempts`` attempts per call."""
    return boto3.client(
        "dynamodb",
        endpoint_url=proxy.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": mode, "total_max_attempts": attempts}),
    )


def _item(pk: str, sk: str = "ITEM", **extra: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}


def _key(pk: str, sk: str = "ITEM") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# -- passing through ----------------------------------------------------------------------------
def test_calls_pass_through_unchanged(proxied: DynamoDBProxy) -> None:
    client = _client(proxied)
    client.put_item(TableName=TABLE, Item=_item("pass", note="a"))
    assert client.get_item(TableName=TABLE, Key=_key("pass"), ConsistentRead=True)["Item"] == (
        _item("pass", note="a")
    )
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=TABLE, Item=_item("pass"), ConditionExpression="attribute_not_exists(pk)"
        )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item("pass", "2")}},
            {"Put": {"TableName": TABLE, "Item": _item("pass", "3")}},
        ]
    )
    queried = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "pass"}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert queried["Count"] == 3
    assert "ConsumedCapacity" in queried  # asked for: shown
    got = client.batch_get_item(RequestItems={TABLE: {"Keys": [_key("pass"), _key("pass", "2")]}})
    assert len(got["Responses"][TABLE]) == 2


# -- errors the SDKs retry, or hand over ------------------------------------------------------
def test_the_sdk_retries_throttling_and_server_errors_as_on_aws(proxied: DynamoDBProxy) -> None:
    hook = Scripted(
        "PutItem", [throughput_exceeded("TableWriteKeyRangeThroughputExceeded", "arn:t"), None]
    )
    proxied.hooks.append(hook)
    _client(proxied).put_item(TableName=TABLE, Item=_item("retried"))
    assert hook.seen == 2  # refused once, retried by botocore, written
    # The legacy retry mode checks each answer's x-amz-crc32 for DynamoDB: ours must be right.
    hook.errors = [internal_server_error(), internal_server_error(), None]
    hook.seen = 0
    _client(proxied, mode="legacy", attempts=3).put_item(TableName=TABLE, Item=_item("retried"))
    assert hook.seen == 3


def test_throttling_that_outlasts_the_retries_reaches_the_caller_as_dynamodbs_error(
    proxied: DynamoDBProxy,
) -> None:
    throttled = throughput_exceeded("TableWriteKeyRangeThroughputExceeded", "arn:t")
    hook = Scripted("PutItem", [throttled] * 10)
    proxied.hooks.append(hook)
    with pytest.raises(ClientError) as refused:
        _client(proxied, attempts=3).put_item(TableName=TABLE, Item=_item("refused"))
    assert hook.seen == 3
    response = refused.value.response
    assert response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert response["ThrottlingReasons"][0]["reason"] == "TableWriteKeyRangeThroughputExceeded"
    assert kit.throttled(refused.value)


def _model(proxy: DynamoDBProxy) -> type[Model]:
    class Probe(Model):
        class Meta:
            table_name = TABLE
            host = proxy.endpoint
            region = "us-east-1"
            aws_access_key_id = "local"
            aws_secret_access_key = "local"
            max_retry_attempts = 2

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)

    return Probe


def test_pynamodb_meets_the_same_errors_and_the_store_calls_them_throttling(
    proxied: DynamoDBProxy,
) -> None:
    hook = Scripted("PutItem", [throughput_exceeded()] * 10)
    proxied.hooks.append(hook)
    probe = _model(proxied)
    with pytest.raises(PutError) as refused:
        probe(pk="pynamodb", sk="ITEM").save()
    assert refused.value.cause_response_code == "ProvisionedThroughputExceededException"
    assert kit.throttled(refused.value)
    assert hook.seen == 3  # PynamoDB's max_retry_attempts=2 after the first


@pytest.fixture
def transaction_connection(
    proxied: DynamoDBProxy, monkeypatch: pytest.MonkeyPatch
) -> DynamoDBProxy:
    """LabelledTransaction's connection pointed at the proxy."""
    connection = Connection(region="us-east-1", host=proxied.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setattr(transactions, "_connection", lambda: connection)
    return proxied


def test_a_transaction_dynamodb_throttled_is_sent_again_and_commits(
    transaction_connection: DynamoDBProxy, engine: DynamoDBLocal
) -> None:
    hook = Scripted("TransactWriteItems", [transaction_canceled([None, "ThrottlingError"])])
    transaction_connection.hooks.append(hook)
    probe = _model(transaction_connection)
    tx = LabelledTransaction()
    tx.put("first", probe(pk="tx", sk="1"))
    tx.put("second", probe(pk="tx", sk="2"))
    assert tx.commit() == []
    assert hook.seen == 2
    stored = engine.client().query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "tx"}},
    )
    assert stored["Count"] == 2


def test_a_transaction_throttled_on_every_try_is_a_429(
    transaction_connection: DynamoDBProxy,
) -> None:
    cancelled = transaction_canceled(["ThrottlingError"])
    transaction_connection.hooks.append(Scripted("TransactWriteItems", [cancelled] * 10))
    tx = LabelledTransaction()
    tx.put("only", _model(transaction_connection)(pk="tx-refused", sk="1"))
    with pytest.raises(TooManyRequests):
        tx.commit()


def test_a_delay_is_slept_before_the_answer(engine: DynamoDBLocal) -> None:
    slept: list[float] = []

    class Slow(Hook):
        def decide(self, call: Call) -> Decision | None:
            return Decision(delay=0.25)

    proxy = DynamoDBProxy(engine.endpoint, [Slow(), Slow()], sleep=slept.append)
    proxy.start()
    try:
        _client(proxy).put_item(TableName=TABLE, Item=_item("slow"))
    finally:
        proxy.stop()
    assert slept == [0.5]


# -- partition ceilings over real answers -----------------------------------------------------
def test_the_ceiling_counts_what_dynamodb_says_a_call_consumed(engine: DynamoDBLocal) -> None:
    """An update of a 5 KB item is estimated at one unit and costs five: the second update is
    over a ceiling of 10 WCU a second only because the first was counted right."""
    clock = [0.0]
    ceilings = PartitionCeilings(
        TableKeys(engine.client()).partition_key, 100, clock=lambda: clock[0]
    )
    engine.client().put_item(TableName=TABLE, Item=_item("big", blob="x" * 5000))
    proxy = DynamoDBProxy(engine.endpoint, [ceilings])
    proxy.start()
    try:
        client = _client(proxy, attempts=1)
        update = {
            "TableName": TABLE,
            "Key": _key("big"),
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"S": "1"}},
        }
        first = client.update_item(**update)
        assert "ConsumedCapacity" not in first  # asked for by the proxy, not shown
        client.update_item(**update)  # 5 + 5 = 10 units: the whole second
        with pytest.raises(ClientError) as refused:
            client.update_item(**update)
        assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        clock[0] = 1.0
        client.update_item(**update, ReturnConsumedCapacity="TOTAL")
    finally:
        proxy.stop()


def test_a_batch_over_the_ceiling_comes_back_unprocessed(engine: DynamoDBLocal) -> None:
    clock = [0.0]
    ceilings = PartitionCeilings(
        TableKeys(engine.client()).partition_key, 500, clock=lambda: clock[0]
    )
    proxy = DynamoDBProxy(engine.endpoint, [ceilings])
    proxy.start()
    try:
        client = _client(proxy, attempts=1)
        client.put_item(TableName=TABLE, Item=_item("hot", "1"))
        client.put_item(TableName=TABLE, Item=_item("hot", "2"))  # "hot": 2 WCU, spent
        written = client.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": _item("hot", "3")}},
                    {"PutRequest": {"Item": _item("cold", "1")}},
                ]
            }
        )
        assert written["UnprocessedItems"] == {TABLE: [{"PutRequest": {"Item": _item("hot", "3")}}]}
        stored = engine.client().get_item(TableName=TABLE, Key=_key("cold", "1"))
        assert "Item" in stored
        assert "Item" not in engine.client().get_item(TableName=TABLE, Key=_key("hot", "3"))
    finally:
        proxy.stop()
