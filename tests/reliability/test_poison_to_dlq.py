"""A poison message lands in the payments DLQ while the rest of its batch completes.

Over the shared local stack: real orders are placed through checkout, then one batch of ten is
sent straight to the payments queue: two poison messages (not JSON; an order that does not
exist) and a message for each order. The consumer reports only the poison ones as failed, so
they are received again until their maxReceiveCount (5) sends them to PaymentsDLQ, while the
order messages are acknowledged the first time: the queue drains, the DLQ holds exactly the
two poison bodies, and every order is PAID with one charge.
"""

from __future__ import annotations

import json
import time

import pytest
from stack_helpers import (
    approved_charges,
    checkout,
    create_product,
    drain,
    order_item,
    queue_depth,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.reliability

ORDERS = 8
POISON = ["this is not json", json.dumps({"order_id": "no-such-order-0000"})]
DEADLINE_SECONDS = 60


def test_poison_goes_to_the_dlq_and_the_rest_of_its_batch_completes(
    stack: StackProcess,
) -> None:
    sku = create_product(stack, "REL-POISON", stock=50, price=500, name="Poison batch item")
    order_ids = [
        checkout(stack, sku, email="poison@example.com")["order_id"] for _ in range(ORDERS)
    ]

    drain(stack, "PaymentsDLQ")  # only what this test sends counts
    bodies = [*POISON, *(json.dumps({"order_id": o}) for o in order_ids)]
    sent = stack.client("sqs").send_message_batch(
        QueueUrl=stack.info["queues"]["PaymentsQueue"],
        Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)],
    )
    assert len(sent["Successful"]) == len(bodies)

    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        dead, waiting = queue_depth(stack, "PaymentsDLQ"), queue_depth(stack, "PaymentsQueue")
        if dead >= len(POISON) and waiting == 0:
            break
        time.sleep(0.5)
    assert queue_depth(stack, "PaymentsQueue") == 0, "the payments queue did not drain"
    assert sorted(drain(stack, "PaymentsDLQ")) == sorted(POISON)

    for order_id in order_ids:
        assert order_item(stack, order_id)["status"]["S"] == "PAID"
    charges = {order_id: approved_charges(stack, order_id) for order_id in order_ids}
    assert set(charges.values()) == {1}
