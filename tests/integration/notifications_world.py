"""Shared helpers of the notifications tests (imported by test_notifications_* and test_push_*).

The consumer is NotificationsFunction's handler fed SQS records; what it sends lands in moto's
SES and SNS and is read back through the local outbox. Orders are written straight to the Orders
table, so no stock or checkout is needed. The ``notifier`` fixture (conftest) wires the queues, a
verified sender and the settings naming them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
from commerce import queue_policy
from commerce.domain.money import Money
from commerce.domain.orders import OrderLine, new_order
from commerce.domain.pricing import Totals
from commerce.events import DomainEvent, stable_event_id
from commerce.notifications import delivery, sender
from commerce.orders.events import order_event
from commerce.store import keys
from commerce.store.orders import StoredOrder, put_new_order
from commerce.store.tables.orders import OrderModel
from commerce.store.transactions import LabelledTransaction
from orders_world import Context
from payment_orders import sqs_event

SENDER = "no-reply@shop.example"
OPS = "ops@shop.example"
BUYER = "buyer@example.com"
CREATED_AT = "2030-01-01T00:00:00.000000Z"
CREATED_EPOCH = 1_893_456_000
#: 2 x 12.50 + 9.90 = 34.90 CNY.
LINES = (OrderLine("NTF-A", 2, Money(1250, "CNY")), OrderLine("NTF-B", 1, Money(990, "CNY")))


@dataclass
class Notifier:
    """The notifications handler as deployed: SQS records in, its dead-letter queue beside it."""

    module: ModuleType
    dlq_url: str

    def deliver(self, *bodies: str, receive_count: int = 1) -> dict[str, Any]:
        """One batch of records (one per body) to the handler; its partial-failure response."""
        event = sqs_event(*bodies, receive_count=receive_count)
        return dict(self.module.lambda_handler(event, Context()))

    def dead_letters(self) -> list[dict[str, Any]]:
        got = boto3.client("sqs", region_name="us-east-1").receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return list(got.get("Messages", []))


def clear_caches() -> None:
    """Forget senders and clients made under another test's settings."""
    delivery.use_senders(None)
    queue_policy._sqs = None
    for cached in (delivery.store_info, sender._ses, sender._sns):
        cached.cache_clear()


def write_order(
    email: str = BUYER,
    owner: str | None = None,
    *,
    locale: str | None = None,
    order_id: str | None = None,
) -> StoredOrder:
    """A PENDING_PAYMENT order of ``LINES`` for ``owner`` (None: a guest), written straight to
    the Orders table with a carrier and tracking number, so every order event can be rendered."""
    order_id = order_id or f"ord-{uuid.uuid4().hex[:20]}"
    subtotal = Money(sum(line.amount.amount for line in LINES), "CNY")
    zero = Money.zero("CNY")
    order = new_order(
        order_id,
        email=email,
        lines=LINES,
        totals=Totals(subtotal, zero, zero, zero, subtotal),
        created_at=CREATED_EPOCH,
        owner=owner,
        cart_token_hash=None if owner else "a" * 64,
    )
    stored = StoredOrder(order=order, cart_id=f"cart-{order_id}", created_at=CREATED_AT)
    tx = LabelledTransaction()
    put_new_order(tx, stored, updated_at=CREATED_AT)
    assert not tx.commit()
    actions = [OrderModel.carrier.set("sf"), OrderModel.tracking_number.set("SF1234567890")]
    if locale is not None:
        actions.append(OrderModel.locale.set(locale))
    OrderModel(keys.order_pk(order_id), keys.ORDER_SK).update(actions=actions)
    return stored


def order_body(stored: StoredOrder, event_type: str) -> str:
    """The order's event as the orders service publishes it, under ``event_type``."""
    if event_type == "order.pending_payment":
        return order_event(stored).to_json()
    base = order_event(stored)
    return DomainEvent(
        event_id=stable_event_id(stored.order_id, event_type),
        type=event_type,
        occurred_at=base.occurred_at,
        data=base.data,
    ).to_json()
