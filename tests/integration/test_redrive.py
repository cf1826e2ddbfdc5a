"""The DLQ redrive tool (infra/ops/redrive.py) against moto's SQS and CloudFormation.

The queues are the template's own (PaymentsQueue and its DLQ, with their redrive policy),
built by the local stack's loader; messages reach the DLQ the way they do on AWS, by failing
every receive, and go back to the queue they came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import TEMPLATE
from moto import mock_aws

from infra.local.resources import CreatedResources, create_queues
from infra.local.template import Resolver
from infra.ops.redrive import RedriveError, main, redrive, resolve_queue, source_of

pytestmark = pytest.mark.integration


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), sqs, created)
    return created.queues


def dead_letter(sqs: Any, queue_url: str, bodies: list[str]) -> None:
    """Send each body and fail every delivery until SQS moves it to the DLQ."""
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    for body in bodies:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "payment"}},
        )
    rounds = (int(policy["maxReceiveCount"]) + 1) * (len(bodies) // 10 + 1)
    for _ in range(rounds):
        sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert visible(sqs, queue_url) == 0


def bodies_in(sqs: Any, url: str) -> list[str]:
    found: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            assert message["MessageAttributes"]["kind"]["StringValue"] == "payment"
            found.append(message["Body"])
    return sorted(found)


def visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_dead_letters_go_back_to_their_queue_once(sqs: Any, queues: dict[str, str]) -> None:
    source, dlq = queues["PaymentsQueue"], queues["PaymentsDLQ"]
    bodies = [json.dumps({"order_id": f"o-{i}"}) for i in range(13)]  # more than one batch
    dead_letter(sqs, source, bodies)
    assert visible(sqs, dlq) == 13
    assert visible(sqs, source) == 0

    assert source_of(sqs, dlq) == source
    report = redrive(sqs, dlq, source)

    assert (report.planned, report.moved, report.failed) == (13, 13, [])
    assert visible(sqs, dlq) == 0
    assert bodies_in(sqs, source) == sorted(bodies)  # bodies and attributes as they were
    # Run again: nothing left, nothing moved twice.
    again = redrive(sqs, dlq, source)
    assert (again.planned, again.moved) == (0, 0)


def test_a_dry_run_moves_nothing(sqs: Any, queues: dict[str, str]) -> None:
    source, dlq = queues["PaymentsQueue"], queues["PaymentsDLQ"]
    dead_letter(sqs, source, ["a", "b", "c"])

    report = redrive(sqs, dlq, source, dry_run=True)

    assert (report.planned, report.moved) == (3, 0)
    assert visible(sqs, dlq) == 3
    assert visible(sqs, source) == 0


def test_max_moves_only_that_many(sqs: Any, queues: dict[str, str]) -> None:
    source, dlq = queues["PaymentsQueue"], queues["PaymentsDLQ"]
    dead_letter(sqs, source, [f"m{i}" for i in range(5)])

    report = redrive(sqs, dlq, source, max_messages=2)

    assert report.moved == 2
    assert visible(sqs, source) == 2
    assert visible(sqs, dlq) == 3


def test_a_dlq_with_two_sources_needs_to_be_told_which(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="shared-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    for name in ("first", "second"):
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})
    with pytest.raises(RedriveError, match="2 queues"):
        source_of(sqs, dlq)
    with pytest.raises(RedriveError, match="0 queues"):
        source_of(sqs, sqs.create_queue(QueueName="lonely")["QueueUrl"])
    with pytest.raises(RedriveError, match="no queue named"):
        resolve_queue(sqs, "missing")


STACK_TEMPLATE = {
    "Resources": {
        "WorkDLQ": {"Type": "AWS::SQS::Queue"},
        "WorkQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDLQ", "Arn"]},
                    "maxReceiveCount": 1,
                }
            },
        },
        "Alerts": {"Type": "AWS::SNS::Topic"},
    }
}


def test_the_command_finds_queues_by_logical_id_in_a_stack(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="commerce-test", TemplateBody=json.dumps(STACK_TEMPLATE))
    source = resolve_queue(sqs, "WorkQueue", "commerce-test", cfn)
    dlq = resolve_queue(sqs, "WorkDLQ", "commerce-test", cfn)
    for body in ("x", "y"):
        sqs.send_message(
            QueueUrl=source,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "payment"}},
        )
    for _ in range(2):
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert visible(sqs, dlq) == 2

    assert main(["WorkDLQ", "--stack", "commerce-test", "--region", "us-east-1", "--dry-run"]) == 0
    assert "would move 2 of 2" in capsys.readouterr().out
    assert visible(sqs, dlq) == 2

    assert main(["WorkDLQ", "--stack", "commerce-test", "--region", "us-east-1"]) == 0
    assert "moved 2 of 2" in capsys.readouterr().out
    assert bodies_in(sqs, source) == ["x", "y"]

    # Not a queue, or not in the stack: refused with a reason, nothing touched.
    assert main(["Alerts", "--stack", "commerce-test", "--region", "us-east-1"]) == 2
    assert "not a queue" in capsys.readouterr().err
    assert main(["Nope", "--stack", "commerce-test", "--region", "us-east-1"]) == 2
