"""Move a dead-letter queue's messages back to the queue they came from, once the fault that
killed them is fixed (docs/runbook.md#redrive).

    python -m infra.ops.redrive PaymentsDLQ --stack commerce-prod [--dry-run] [--max N]
    make redrive QUEUE=PaymentsDLQ STACK=commerce-prod [DRY_RUN=1] [MAX=N]

The queue is a queue URL, a queue name, or (with --stack) the logical id in template.yaml. The
destination is the one queue whose RedrivePolicy names the DLQ, unless --to says otherwise.

Each message is sent to the source queue first and deleted from the DLQ only once SQS has
accepted that copy, so nothing is lost: a run cut short leaves at most one batch in both
queues, and every consumer here is idempotent (by order id or dedupe key), so a copy is acted
on once. A run moves at most the messages the DLQ held when it started (or --max): a message
that fails again and comes back meanwhile waits for the next run instead of going round.
Plain boto3 calls (receive, send, delete), so it also works against the local stack's moto and
anything else that speaks SQS; SQS's own StartMessageMoveTask is the alternative for very large
queues (the runbook shows it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

BATCH = 10  # SQS's limit for receive, send and delete batches
# Long enough for one batch's send and delete; a message whose copy was not accepted shows up
# again after this and is left for the next run.
VISIBILITY_TIMEOUT = 60


class RedriveError(Exception):
    """The queues cannot be resolved, or the move is not one this tool makes."""


@dataclass
class Report:
    dlq_url: str
    source_url: str
    planned: int  # messages the run set out to move
    moved: int = 0
    failed: list[str] = field(default_factory=list)  # message ids SQS refused to send
    dry_run: bool = False


def resolve_queue(
    sqs: Any, queue: str, stack: str | None = None, cloudformation: Any = None
) -> str:
    """A queue URL from a URL, a queue name, or a logical id in the given stack."""
    if queue.startswith(("https://", "http://")):
        return queue
    if stack:
        cfn = cloudformation or boto3.client("cloudformation")
        try:
            found = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=queue)
        except cfn.exceptions.ClientError as exc:
            raise RedriveError(f"{queue} is not a resource of stack {stack}: {exc}") from exc
        detail = found["StackResourceDetail"]
        if detail["ResourceType"] != "AWS::SQS::Queue":
            raise RedriveError(f"{queue} in {stack} is a {detail['ResourceType']}, not a queue")
        return str(detail["PhysicalResourceId"])  # an SQS queue's physical id is its URL
    try:
        return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist as exc:
        raise RedriveError(f"no queue named {queue}") from exc


def source_of(sqs: Any, dlq_url: str) -> str:
    """The one queue that dead-letters into dlq_url."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise RedriveError(
            f"{dlq_url} is the dead-letter queue of {len(sources)} queues "
            f"({', '.join(sources) or 'none'}); say which with --to"
        )
    return str(sources[0])


def _visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _attributes(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Message attributes as SendMessage takes them (receive adds empty list members)."""
    kept = ("DataType", "StringValue", "BinaryValue")
    return {
        name: {key: value[key] for key in kept if key in value}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }


def redrive(
    sqs: Any,
    dlq_url: str,
    source_url: str,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
) -> Report:
    """Move up to max_messages (default: as many as the DLQ holds now) back to source_url."""
    if dlq_url.endswith(".fifo") or source_url.endswith(".fifo"):
        raise RedriveError("FIFO queues keep their order only with SQS's own move task")
    available = _visible(sqs, dlq_url)
    planned = available if max_messages is None else min(max_messages, available)
    report = Report(dlq_url, source_url, planned, dry_run=dry_run)
    if dry_run:
        return report
    while report.moved + len(report.failed) < planned:
        want = min(BATCH, planned - report.moved - len(report.failed))
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=want,
            VisibilityTimeout=VISIBILITY_TIMEOUT,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break  # the rest is in flight elsewhere, or the count was approximate
        by_id = {str(i): message for i, message in enumerate(messages)}
        sent = sqs.send_message_batch(
            QueueUrl=source_url,
            Entries=[
                {
                    "Id": entry_id,
                    "MessageBody": message["Body"],
                    **(
                        {"MessageAttributes": _attributes(message)}
                        if message.get("MessageAttributes")
                        else {}
                    ),
                }
                for entry_id, message in by_id.items()
            ],
        )
        report.failed += [by_id[f["Id"]]["MessageId"] for f in sent.get("Failed", [])]
        accepted = [by_id[s["Id"]] for s in sent.get("Successful", [])]
        if accepted:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]}
                    for i, message in enumerate(accepted)
                ],
            )
        report.moved += len(accepted)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.redrive",
        description="Move a dead-letter queue's messages back to its source queue.",
    )
    parser.add_argument("queue", help="the DLQ: URL, queue name, or logical id with --stack")
    parser.add_argument("--to", help="the destination (default: the DLQ's one source queue)")
    parser.add_argument("--stack", help="resolve logical ids in this CloudFormation stack")
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    parser.add_argument("--max", type=int, dest="max_messages", help="move at most this many")
    parser.add_argument("--dry-run", action="store_true", help="say what would move; move none")
    args = parser.parse_args(argv)

    sqs = boto3.client("sqs", region_name=args.region)
    cloudformation = boto3.client("cloudformation", region_name=args.region) if args.stack else None
    try:
        dlq_url = resolve_queue(sqs, args.queue, args.stack, cloudformation)
        source_url = (
            resolve_queue(sqs, args.to, args.stack, cloudformation)
            if args.to
            else source_of(sqs, dlq_url)
        )
        report = redrive(
            sqs, dlq_url, source_url, max_messages=args.max_messages, dry_run=args.dry_run
        )
    except RedriveError as exc:
        print(f"redrive: {exc}", file=sys.stderr)
        return 2
    verb = "would move" if report.dry_run else "moved"
    done = report.planned if report.dry_run else report.moved
    print(f"{verb} {done} of {report.planned} message(s): {report.dlq_url} -> {report.source_url}")
    if report.failed:
        print(f"{len(report.failed)} refused by SQS, left in the DLQ: {', '.join(report.failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
