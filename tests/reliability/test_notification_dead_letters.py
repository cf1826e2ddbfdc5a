"""A send the provider refuses is retried through the queue, then dead-lettered, without
blocking anything else.

Over the shared local stack: the shop's sender identity is removed from moto's SES, so every
email is refused (MessageRejected, as SES answers for an unverified source) while SMS still
goes out. A customer who chose email and SMS places an order: each of its events fails on email,
is received again until NotificationsQueue's maxReceiveCount (5) moves it to NotificationsDLQ,
and its SMS is sent once in all (the per-message dedupe). A second customer, on SMS only, orders
in the same period: their messages are delivered once, unhindered by the failing records.

The queue's visibility timeout is lowered for the run (60 s would make five receives take
minutes), but no lower than the function's timeout: a record received again while an attempt
on it still runs would find that attempt's claim, be taken for a duplicate and be deleted (the
consumer counts on the visibility timeout outlasting any attempt: docs/notifications.md,
"Exactly once"). The timeout, the SES identities and the DLQ are restored or drained so the
tests that share the stack see them as before.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import queue_helpers
import requests

from infra.local.harness import StackProcess

if TYPE_CHECKING:
    from mypy_boto3_ses.client import SESClient
    from mypy_boto3_sqs.client import SQSClient

pytestmark = pytest.mark.reliability

#: NotificationsQueue's RedrivePolicy.maxReceiveCount in template.yaml.
MAX_RECEIVES = 5
#: Seconds a failed record stays invisible during the run: NotificationsFunction's timeout
#: (Globals.Function.Timeout), so no attempt is still running when the record is received again.
FAST_VISIBILITY_TIMEOUT = "10"
#: Five receives take about five visibility timeouts; generous for a loaded machine.
DEADLINE_SECONDS = 180
#: How long an order may take to be paid.
PAYMENT_SECONDS = 60
#: The events one paid order publishes (``orders.events.order_event``: ``order.<status>``).
ORDER_EVENTS = {"order.pending_payment", "order.paid"}


def _ses(stack: StackProcess) -> SESClient:
    return boto3.client(
        "ses",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _sqs(stack: StackProcess) -> SQSClient:
    return boto3.client(
        "sqs",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _phone() -> str:
    """A unique mainland mobile number in E.164, so SMS of other runs never count."""
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def _customer(stack: StackProcess, channels: list[str], phone: str) -> dict[str, str]:
    sub = f"rel-dlq-{uuid.uuid4().hex[:12]}"
    headers = stack.auth(sub, ["customer"], f"{sub}@example.com")
    patched = requests.patch(
        f"{stack.base_url}/me",
        json={"notification_channels": channels, "phone": phone},
        headers=headers,
        timeout=30,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["notification_channels"] == channels
    assert patched.json()["phone"] == phone
    return headers


def _product(stack: StackProcess) -> str:
    sku = f"REL-DLQ-{uuid.uuid4().hex[:10]}"
    created = requests.post(
        f"{stack.base_url}/admin/products",
        json={
            "name": "Dead-letter item",
            "skus": [{"sku": sku, "price": {"amount": 800, "currency": "CNY"}, "stock": 50}],
        },
        headers=stack.auth("rel-ops", ["ops"]),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return sku


def _paid_order(stack: StackProcess, sku: str, headers: dict[str, str]) -> str:
    """A signed-in checkout paid with tok_ok; returns once the order is PAID."""
    base = stack.base_url
    cart = requests.post(f"{base}/carts", headers=headers, timeout=30)
    assert cart.status_code == 201, cart.text
    cart_id = cart.json()["cart_id"]
    put = requests.put(
        f"{base}/carts/{cart_id}/items/{sku}", json={"quantity": 1}, headers=headers, timeout=30
    )
    assert put.status_code == 200, put.text
    placed = requests.post(
        f"{base}/orders",
        json={"cart_id": cart_id, "payment": {"method": "card", "token": "tok_ok"}},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert placed.status_code == 202, placed.text
    order_id = str(placed.json()["order_id"])
    deadline = time.monotonic() + PAYMENT_SECONDS
    status = "PENDING_PAYMENT"
    while status == "PENDING_PAYMENT" and time.monotonic() < deadline:
        time.sleep(0.3)
        order = requests.get(f"{base}/orders/{order_id}", headers=headers, timeout=30)
        assert order.status_code == 200, order.text
        status = order.json()["status"]
    assert status == "PAID", f"order {order_id} is {status}, not PAID"
    return order_id


def _sms_to(stack: StackProcess, phone: str) -> list[str]:
    """Bodies of every SMS the stack sent to ``phone``."""
    response = requests.get(f"{stack.base_url}/_local/outbox", timeout=30)
    assert response.status_code == 200, response.text
    return [
        i["body"] for i in response.json()["items"] if i["channel"] == "sms" and i["to"] == phone
    ]


@dataclass(frozen=True)
class DeadLetter:
    """One message taken off the DLQ."""

    body: dict[str, Any]
    receive_count: int
    attributes: dict[str, Any]


def _drain(sqs: SQSClient, url: str) -> list[DeadLetter]:
    """Take every message currently on ``url`` off it."""
    taken: list[DeadLetter] = []
    for message in queue_helpers.drain(sqs, url, attributes=True):
        try:
            body = json.loads(message["Body"])
        except ValueError:
            body = {"unparsed": message["Body"]}
        taken.append(
            DeadLetter(
                body=body if isinstance(body, dict) else {"unparsed": body},
                receive_count=int(message["Attributes"]["ApproximateReceiveCount"]),
                attributes=message.get("MessageAttributes") or {},
            )
        )
    return taken


def _order_of(letter: DeadLetter) -> str | None:
    data = letter.body.get("data")
    return data.get("order_id") if isinstance(data, dict) else None


@dataclass
class Run:
    """What one run with email refused produced."""

    refused_order: str
    refused_phone: str
    other_order: str
    other_phone: str
    dead_letters: list[DeadLetter] = field(default_factory=list)
    refused_sms: list[str] = field(default_factory=list)
    other_sms: list[str] = field(default_factory=list)

    def dead_lettered(self, order_id: str) -> list[DeadLetter]:
        return [letter for letter in self.dead_letters if _order_of(letter) == order_id]

    def complete(self) -> bool:
        """Every refused event dead-lettered and the other customer's SMS in.

        The refused customer's SMS are not waited for: each is sent during one of its event's
        receives, and all of them precede the move to the DLQ.
        """
        dead = {str(d.body.get("type")) for d in self.dead_lettered(self.refused_order)}
        return dead >= ORDER_EVENTS and len(self.other_sms) >= len(ORDER_EVENTS)


@pytest.fixture(scope="module")
def run(stack: StackProcess) -> Iterator[Run]:
    """Both orders placed and their notifications worked through while SES refuses mail."""
    sku = _product(stack)
    refused_phone, other_phone = _phone(), _phone()
    refused = _customer(stack, ["email", "sms"], refused_phone)
    other = _customer(stack, ["sms"], other_phone)

    ses = _ses(stack)
    sqs = _sqs(stack)
    queue = stack.info["queues"]["NotificationsQueue"]
    dlq = stack.info["queues"]["NotificationsDLQ"]
    identities = ses.list_identities()["Identities"]
    assert identities, "the stack verified no SES sender identity"
    timeout = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])[
        "Attributes"
    ]["VisibilityTimeout"]
    _drain(sqs, dlq)  # only what this run dead-letters counts
    try:
        sqs.set_queue_attributes(
            QueueUrl=queue, Attributes={"VisibilityTimeout": FAST_VISIBILITY_TIMEOUT}
        )
        for identity in identities:
            ses.delete_identity(Identity=identity)
        assert ses.list_identities()["Identities"] == []

        # Both orders are placed and paid at once: each waits on the payments queue.
        with ThreadPoolExecutor(max_workers=2) as pool:
            refused_order, other_order = pool.map(
                lambda headers: _paid_order(stack, sku, headers), (refused, other)
            )
        result = Run(
            refused_order=refused_order,
            refused_phone=refused_phone,
            other_order=other_order,
            other_phone=other_phone,
        )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not result.complete() and time.monotonic() < deadline:
            time.sleep(0.5)
            result.dead_letters.extend(_drain(sqs, dlq))
            result.other_sms = _sms_to(stack, other_phone)
        result.refused_sms = _sms_to(stack, refused_phone)
        yield result
    finally:
        for identity in identities:
            if "@" in identity:
                ses.verify_email_identity(EmailAddress=identity)
            else:
                ses.verify_domain_identity(Domain=identity)
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": timeout})


def test_a_refused_send_is_retried_then_dead_lettered_with_its_event(run: Run) -> None:
    letters = run.dead_lettered(run.refused_order)
    types = sorted(str(letter.body.get("type")) for letter in letters)
    assert types == sorted(ORDER_EVENTS), (
        f"NotificationsDLQ holds {types} for order {run.refused_order} after "
        f"{DEADLINE_SECONDS} s, expected each of {sorted(ORDER_EVENTS)} once"
    )
    for letter in letters:
        # Redriven by the queue after its receive limit, not dead-lettered at once by the
        # consumer (which adds an error attribute): the refusal was treated as transient.
        assert letter.receive_count >= MAX_RECEIVES, letter
        assert "error" not in letter.attributes, letter
        assert letter.body["data"]["order_id"] == run.refused_order
        assert letter.body["event_id"]
    assert len({letter.body["event_id"] for letter in letters}) == len(letters)
    assert run.dead_lettered(run.other_order) == []


def test_the_other_channel_is_sent_once_despite_the_retries(run: Run) -> None:
    ref = run.refused_order[-8:]
    assert len(run.refused_sms) == len(ORDER_EVENTS), (
        f"{len(run.refused_sms)} SMS to the customer whose email is refused, expected one per "
        f"event ({len(ORDER_EVENTS)}) across {MAX_RECEIVES} receives: {run.refused_sms}"
    )
    assert len(set(run.refused_sms)) == len(ORDER_EVENTS), run.refused_sms
    assert all(ref in body for body in run.refused_sms), run.refused_sms


def test_the_rest_of_the_traffic_is_delivered_once(run: Run) -> None:
    ref = run.other_order[-8:]
    assert len(run.other_sms) == len(ORDER_EVENTS), (
        f"{len(run.other_sms)} SMS to the customer on SMS only, expected one per event "
        f"({len(ORDER_EVENTS)}): {run.other_sms}"
    )
    assert len(set(run.other_sms)) == len(ORDER_EVENTS), run.other_sms
    assert all(ref in body for body in run.other_sms), run.other_sms
