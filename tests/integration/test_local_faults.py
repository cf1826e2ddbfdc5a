"""Faults on demand in the local stack, black-box, over a stack built from the fixture template.

The stack starts with one fault on the command line (every SQS record delivered twice), armed
once it is ready; the rest are turned on and off through ``/_local/faults`` while it runs: a
worker killed mid-request is API Gateway's 502 and is replaced; DynamoDB faults asked for at
run time start the DynamoDB proxy and send the functions through it, whose SDK meets DynamoDB's
own errors. The fixture function records each SQS delivery and each stored item in its table,
so what the faults did is read back, not guessed. The commerce code under every fault at once:
tests/reliability/test_faults.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from http_problems import assert_problem
from stack_helpers import eventually, queue_depth

from infra.local.harness import REPO_ROOT, StackProcess, start_stack

pytestmark = pytest.mark.integration

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "local_stack" / "template.yaml"
OFF = {
    "kill_workers": 0,
    "dynamodb_latency_ms": 0,
    "dynamodb_jitter_ms": 0,
    "dynamodb_throttle": 0,
    "dynamodb_errors": 0,
    "partition_scale": None,
    "sqs_duplicates": 0,
    "provider_timeouts": 0,
}


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    running = start_stack(
        template=FIXTURE,
        args=["--no-demo-data", "--sqs-duplicates", "1"],
        env={"LOCAL_MAX_CONCURRENCY": "2"},
    )
    yield running
    running.stop()


def _items(stack: StackProcess, prefix: str) -> list[dict[str, Any]]:
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.info["tables"]["EchoTable"], ConsistentRead=True)
    )
    return [i for page in pages for i in page["Items"] if i["pk"]["S"].startswith(prefix)]


def _faults_url(stack: StackProcess) -> str:
    return f"{stack.base_url}/_local/faults"


def test_flags_are_armed_once_ready_and_the_route_reads_and_changes_them(
    stack: StackProcess,
) -> None:
    assert stack.info["faults"]["sqs_duplicates"] == 1.0
    assert stack.faults()["faults"]["sqs_duplicates"] == 1.0
    refused = requests.patch(
        _faults_url(stack), json={"kill_workers": 1.5, "partition_scale": 0, "typo": 1}, timeout=30
    )
    assert_problem(refused, 400, "validation-error")
    assert {e["field"] for e in refused.json()["errors"]} == {
        "kill_workers",
        "partition_scale",
        "typo",
    }
    assert_problem(
        requests.patch(_faults_url(stack), data="[1]", timeout=30), 400, "validation-error"
    )
    wrong = requests.put(_faults_url(stack), json={}, timeout=30)
    assert_problem(wrong, 405, "method-not-allowed")
    assert wrong.headers["Allow"] == "GET, PATCH, DELETE"
    assert stack.faults()["faults"]["sqs_duplicates"] == 1.0  # a refused change changes nothing
    cleared = requests.delete(_faults_url(stack), timeout=30).json()
    assert cleared["faults"] == OFF
    stack.set_faults(sqs_duplicates=1)


def test_a_worker_killed_mid_request_is_api_gateways_502_and_is_replaced(
    stack: StackProcess,
) -> None:
    before = stack.faults()["injected"].get("worker_killed", 0)
    stack.set_faults(kill_workers=1)
    try:
        killed = requests.get(f"{stack.base_url}/public/1", timeout=30)
    finally:
        stack.set_faults(kill_workers=0)
    assert_problem(killed, 502, "internal-error")
    assert killed.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert stack.faults()["injected"]["worker_killed"] == before + 1
    assert requests.get(f"{stack.base_url}/public/1", timeout=30).status_code == 200


def test_every_record_is_delivered_twice_and_deleted_once(stack: StackProcess) -> None:
    sqs = stack.client("sqs")
    url = stack.info["queues"]["WorkQueue"]
    before = stack.faults()["injected"].get("sqs_duplicated", 0)
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"count:{n}")["MessageId"] for n in range(3)]

    def deliveries() -> Counter[str] | None:
        seen = Counter(
            item["pk"]["S"].removeprefix("DELIVERY#") for item in _items(stack, "DELIVERY#")
        )
        return seen if sum(seen[m] for m in sent) >= 6 else None

    eventually(deliveries, timeout=30)
    eventually(lambda: queue_depth(stack, "WorkQueue") == 0, timeout=30)
    seen = deliveries()
    assert seen is not None
    # Each receive was delivered twice (a slow invocation may add a receive of its own: the
    # fixture queue's visibility timeout is one second, and SQS delivers at least once).
    assert all(seen[message] >= 2 for message in sent)
    duplicated = stack.faults()["injected"]["sqs_duplicated"] - before
    assert sum(seen[message] for message in sent) == 2 * duplicated


def test_dynamodb_faults_asked_for_at_run_time_reach_the_functions_through_the_proxy(
    stack: StackProcess,
) -> None:
    assert stack.info["dynamodb_proxy"] is None  # nothing asked for DynamoDB faults at start
    direct = stack.dynamodb_endpoint
    stack.set_faults(dynamodb_errors=1)
    try:
        echoed = requests.get(f"{stack.base_url}/public/1", timeout=60).json()
        proxy = echoed["env"]["AWS_ENDPOINT_URL_DYNAMODB"]
        assert proxy != direct  # new workers were started with the proxy's endpoint
        failed = requests.post(f"{stack.base_url}/public/lost", data="store", timeout=60)
        assert_problem(failed, 502, "internal-error")  # the SDK's retries all met a 500
        assert stack.faults()["injected"]["dynamodb_failed"] >= 2
        stack.set_faults(dynamodb_errors=0, dynamodb_latency_ms=5)
        stored = requests.post(f"{stack.base_url}/public/kept", data="store", timeout=60)
        assert stored.status_code == 200
    finally:
        stack.set_faults(dynamodb_errors=0, dynamodb_latency_ms=0)
    assert [i["pk"]["S"] for i in _items(stack, "STORED#")] == ["STORED#kept"]
    assert stack.faults()["injected"]["dynamodb_delayed"] >= 1
