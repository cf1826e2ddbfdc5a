"""The local stack's DynamoDB faults, decided without a server: the errors as botocore reads them,
the per-partition-key ceilings' arithmetic, the random fault hook, and the fault plan's checks.

The proxy carrying these to DynamoDB Local, and the SDKs retrying them, are in
tests/integration/test_dynamodb_proxy.py.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.dynamodb_proxy import (
    Call,
    internal_server_error,
    throttling_exception,
    throughput_exceeded,
    transaction_canceled,
)
from infra.local.faults import (
    DYNAMODB_DELAYED,
    DYNAMODB_FAILED,
    DYNAMODB_THROTTLED,
    DynamoDBFaults,
    FaultPlan,
    FaultPlanInvalid,
    Faults,
)
from infra.local.metering import item_units
from infra.local.partition_ceilings import PartitionCeilings

pytestmark = pytest.mark.unit

TABLE = "shop-table"


def _call(operation: str, params: dict[str, Any]) -> Call:
    return Call(target=f"DynamoDB_20120810.{operation}", body=json.dumps(params).encode())


def _key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "ITEM"}}


def _put(pk: str, size: int = 10) -> dict[str, Any]:
    return {"TableName": TABLE, "Item": {**_key(pk), "blob": {"S": "x" * size}}}


# -- the wire ----------------------------------------------------------------------------------
def _model() -> ServiceModel:
    path = Path(botocore.__file__).parent / "data" / "dynamodb" / "2012-08-10" / "service-2.json.gz"
    return ServiceModel(json.loads(gzip.decompress(path.read_bytes())))


def _parsed(error: Any, operation: str = "PutItem") -> dict[str, Any]:
    """The error as botocore's own JSON parser turns DynamoDB's answer into ``e.response``."""
    model = _model().operation_model(operation)
    body = error.body()
    response = {"status_code": error.status, "headers": {}, "body": body}
    parsed: dict[str, Any] = create_parser("json").parse(response, model.output_shape)
    shape = _model().shape_for_error_code(parsed["Error"]["Code"])
    if shape is not None:  # what botocore adds from the error's own shape
        parsed.update(json.loads(body))
    return parsed


def test_throttling_reads_as_dynamodb_throttling_with_its_reason() -> None:
    parsed = _parsed(throughput_exceeded("TableWriteKeyRangeThroughputExceeded", "arn:t"))
    assert parsed["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "hot key" in parsed["Error"]["Message"]
    assert parsed["ThrottlingReasons"] == [
        {"reason": "TableWriteKeyRangeThroughputExceeded", "resource": "arn:t"}
    ]
    assert _parsed(throttling_exception())["Error"]["Code"] == "ThrottlingException"


def test_a_server_error_is_a_500_the_sdk_retries() -> None:
    error = internal_server_error()
    assert error.status == 500
    assert _parsed(error)["Error"] == {
        "Code": "InternalServerError",
        "Message": "Internal server error",
    }


def test_a_throttled_transaction_names_one_reason_per_item_in_order() -> None:
    parsed = _parsed(transaction_canceled([None, "ThrottlingError"]), "TransactWriteItems")
    assert parsed["Error"]["Code"] == "TransactionCanceledException"
    assert parsed["Error"]["Message"].endswith("[None, ThrottlingError]")
    codes = [reason["Code"] for reason in parsed["CancellationReasons"]]
    assert codes == ["None", "ThrottlingError"]
    assert "Message" not in parsed["CancellationReasons"][0]


# -- partition ceilings ----------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _ceilings(scale: float = 500) -> tuple[PartitionCeilings, Clock, list[int]]:
    """Ceilings of 1,000/scale WCU and 3,000/scale RCU a second per key (500: 2 and 6)."""
    clock, throttled = Clock(), []
    hook = PartitionCeilings(
        lambda table, index: "gsi1pk" if index else "pk",
        scale,
        clock=clock,
        on_throttle=throttled.append,
    )
    return hook, clock, throttled


def _refused(hook: PartitionCeilings, operation: str, params: dict[str, Any]) -> str | None:
    decision = hook.decide(_call(operation, params))
    return None if decision is None or decision.error is None else decision.error.code


def test_a_key_takes_its_ceiling_a_second_and_no_more() -> None:
    hook, clock, throttled = _ceilings()
    assert _refused(hook, "PutItem", _put("a")) is None
    assert _refused(hook, "UpdateItem", {"TableName": TABLE, "Key": _key("a")}) is None
    assert _refused(hook, "PutItem", _put("a")) == "ProvisionedThroughputExceededException"
    assert _refused(hook, "PutItem", _put("b")) is None  # another key is not throttled
    assert throttled == [1]
    clock.now = 0.5  # half a second refills half the ceiling: one unit
    assert _refused(hook, "DeleteItem", {"TableName": TABLE, "Key": _key("a")}) is None
    assert _refused(hook, "PutItem", _put("a")) is not None


def test_write_units_are_kilobytes_of_the_item() -> None:
    hook, _, _ = _ceilings(scale=250)  # 4 WCU a second
    assert _refused(hook, "PutItem", _put("a", size=2500)) is None  # 3 KB: 3 units
    assert _refused(hook, "PutItem", _put("a", size=1500)) is not None  # 2 more: over
    assert _refused(hook, "PutItem", _put("a", size=10)) is None  # 1 more: exactly 4


def test_eventually_consistent_reads_count_half() -> None:
    hook, _, _ = _ceilings()  # 6 RCU a second
    get = {"TableName": TABLE, "Key": _key("a")}
    strong = {**get, "ConsistentRead": True}
    results = [_refused(hook, "GetItem", get) for _ in range(12)]
    assert results == [None] * 12
    assert _refused(hook, "GetItem", get) is not None
    hook, _, _ = _ceilings()
    assert [_refused(hook, "GetItem", strong) for _ in range(7)] == [None] * 6 + [
        "ProvisionedThroughputExceededException"
    ]


def test_reads_and_writes_have_separate_ceilings() -> None:
    hook, _, _ = _ceilings()
    assert [_refused(hook, "PutItem", _put("a")) for _ in range(3)][-1] is not None
    assert _refused(hook, "GetItem", {"TableName": TABLE, "Key": _key("a")}) is None


def test_transactions_cost_twice_and_name_the_throttled_item() -> None:
    hook, _, _ = _ceilings()  # 2 WCU a second: one transactional write of a key
    items = [{"Put": _put("a")}, {"Put": _put("b")}]
    assert _refused(hook, "TransactWriteItems", {"TransactItems": items}) is None
    decision = hook.decide(
        _call("TransactWriteItems", {"TransactItems": [{"Put": _put("c")}, {"Put": _put("a")}]})
    )
    assert decision is not None
    assert decision.error is not None
    reasons = json.loads(decision.error.body())["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ThrottlingError"]
    # Nothing of a refused transaction was taken: "c" still has its two units.
    assert _refused(hook, "TransactWriteItems", {"TransactItems": [{"Put": _put("c")}]}) is None


def test_a_batch_forwards_what_may_pass_and_hands_back_the_rest() -> None:
    hook, _, _ = _ceilings()
    for _ in range(2):
        hook.decide(_call("PutItem", _put("a")))
    batch = {
        "RequestItems": {
            TABLE: [{"PutRequest": _put("a")}, {"PutRequest": _put("b")}],
        }
    }
    decision = hook.decide(_call("BatchWriteItem", batch))
    assert decision is not None
    assert decision.error is None
    assert decision.params is not None
    assert decision.params["RequestItems"] == {TABLE: [{"PutRequest": _put("b")}]}
    assert decision.unprocessed == {TABLE: [{"PutRequest": _put("a")}]}
    only_a = {"RequestItems": {TABLE: [{"PutRequest": _put("a")}]}}
    assert _refused(hook, "BatchWriteItem", only_a) == "ProvisionedThroughputExceededException"


def test_a_query_counts_against_the_partition_its_key_condition_names() -> None:
    hook, _, _ = _ceilings()
    query = {
        "TableName": TABLE,
        "IndexName": "gsi1",
        "KeyConditionExpression": "#p = :p AND begins_with(gsi1sk, :s)",
        "ExpressionAttributeNames": {"#p": "gsi1pk"},
        "ExpressionAttributeValues": {":p": {"S": "BUCKET#1"}, ":s": {"S": "x"}},
        "ConsistentRead": False,
    }
    assert [_refused(hook, "Query", query) for _ in range(12)] == [None] * 12
    decision = hook.decide(_call("Query", query))
    assert decision is not None
    assert decision.error is not None
    reason = json.loads(decision.error.body())["ThrottlingReasons"][0]
    assert reason["reason"] == "IndexReadKeyRangeThroughputExceeded"
    assert reason["resource"].endswith(f"table/{TABLE}/index/gsi1")
    scan = {"TableName": TABLE}
    assert _refused(hook, "Scan", scan) is None  # a scan spans partitions: no key's ceiling


def test_off_means_off_and_a_new_scale_starts_afresh() -> None:
    hook, _, _ = _ceilings()
    for _ in range(2):
        hook.decide(_call("PutItem", _put("a")))
    hook.scale = None
    assert all(_refused(hook, "PutItem", _put("a")) is None for _ in range(50))
    hook.scale = 500
    assert _refused(hook, "PutItem", _put("a")) is None
    assert hook.ceiling("write") == 2
    assert hook.ceiling("read") == 6


@settings(max_examples=100, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=60),
    sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=60, max_size=60),
)
def test_a_key_never_takes_more_than_its_ceiling_over_any_stretch(
    gaps: list[float], sizes: list[int]
) -> None:
    """Whatever the arrivals and item sizes: the units let through by time t never exceed one
    second's worth (the bucket's size) plus the ceiling times t."""
    hook, clock, _ = _ceilings(scale=250)  # 4 WCU a second
    passed = 0.0
    for gap, size in zip(gaps, sizes, strict=False):
        clock.now += gap
        units = item_units("PutItem", _put("a", size))[0].write  # 1 KB units of the item
        if _refused(hook, "PutItem", _put("a", size)) is None:
            passed += units
        assert passed <= 4 + 4 * clock.now + 1e-9


# -- the random faults ------------------------------------------------------------------------
def test_random_faults_delay_fail_and_throttle_as_the_plan_says() -> None:
    # Per call: the jitter's draw, the error's, the throttle's (no error), a transaction's item.
    draws = iter([0.5, 0.0, 0.99, 0.5, 0.0, 0.5, 0.99, 0.0, 0.99])
    faults = Faults(chance=lambda: next(draws))
    faults.apply(
        FaultPlan(dynamodb_latency_ms=4, dynamodb_jitter_ms=10, dynamodb_errors=0.1).changed(
            {"dynamodb_throttle": 0.1}
        )
    )
    hook = DynamoDBFaults(faults)
    failed = hook.decide(_call("PutItem", _put("a")))  # jitter draw 0.5, error draw 0.0
    assert failed is not None
    assert failed.delay == pytest.approx(0.009)
    assert failed.error is not None
    assert failed.error.code == "InternalServerError"
    throttled = hook.decide(_call("GetItem", {"TableName": TABLE, "Key": _key("a")}))
    assert throttled is not None
    assert throttled.error is not None
    assert throttled.error.code == "ProvisionedThroughputExceededException"
    assert throttled.delay == pytest.approx(0.0139)
    transaction = {"TransactItems": [{"Put": _put("a")}, {"Put": _put("b")}]}
    cancelled = hook.decide(_call("TransactWriteItems", transaction))
    assert cancelled is not None
    assert cancelled.error is not None
    assert cancelled.error.code == "TransactionCanceledException"
    reasons = json.loads(cancelled.error.body())["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ThrottlingError"]
    assert hook.decide(_call("DescribeTable", {"TableName": TABLE})) is None
    assert faults.injected() == {
        DYNAMODB_DELAYED: 3,
        DYNAMODB_FAILED: 1,
        DYNAMODB_THROTTLED: 2,
    }


def test_kills_and_duplicates_are_spread_evenly_over_their_chances() -> None:
    faults = Faults(chance=lambda: 0.5)
    faults.apply(FaultPlan(kill_workers=0.25, sqs_duplicates=0.5))
    kills = [faults.kill_after() for _ in range(12)]
    assert [n for n, after in enumerate(kills, 1) if after is not None] == [2, 6, 10]
    assert {after for after in kills if after is not None} == {0.125}  # mid-window
    assert [faults.duplicate() for _ in range(4)] == [True, False, True, False]
    faults.apply(FaultPlan())
    assert faults.kill_after() is None
    assert not faults.duplicate()


# -- the plan ------------------------------------------------------------------------------------
def test_a_plan_names_every_field_it_refuses() -> None:
    with pytest.raises(FaultPlanInvalid) as refused:
        FaultPlan().changed(
            {
                "kill_workers": 2,
                "dynamodb_latency_ms": -1,
                "partition_scale": 0.5,
                "sqs_duplicates": "often",
                "provider_timeout": 0.1,
                "dynamodb_errors": True,
            }
        )
    fields = {error["field"] for error in refused.value.errors}
    assert fields == {
        "kill_workers",
        "dynamodb_latency_ms",
        "partition_scale",
        "sqs_duplicates",
        "provider_timeout",
        "dynamodb_errors",
    }
    with pytest.raises(FaultPlanInvalid):
        FaultPlan().changed(["kill_workers"])


def test_only_dynamodb_faults_need_the_proxy() -> None:
    assert not FaultPlan(kill_workers=1, sqs_duplicates=1, provider_timeouts=1).needs_proxy
    assert FaultPlan().changed({"partition_scale": 50}).needs_proxy
    assert FaultPlan().changed({"dynamodb_jitter_ms": 5}).needs_proxy
    assert not FaultPlan().changed({"partition_scale": None}).needs_proxy
