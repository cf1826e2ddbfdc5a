"""Orders placed straight through the store, for the payments and webhooks tests.

The payments consumer starts where checkout ends: an order PENDING_PAYMENT whose units are
reserved on the stock shards. ``place_order`` writes exactly that in one transaction (the order
plus a take on each SKU's shard 0), so these tests do not depend on the checkout's HTTP flow.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from commerce.domain.money import Money
from commerce.domain.orders import OrderLine, new_order
from commerce.domain.pricing import Totals
from commerce.store import holds, keys
from commerce.store.orders import StoredOrder, put_new_order, stock_label
from commerce.store.tables.inventory import StockShardModel
from commerce.store.transactions import LabelledTransaction

CURRENCY = "CNY"
OWNER = "c0000000-0000-4000-8000-000000000001"
CREATED_AT = "2030-01-01T00:00:00.000000Z"
CREATED_EPOCH = 1_893_456_000


class Level(NamedTuple):
    """One shard's stock figures."""

    on_hand: int
    reserved: int
    available: int


def level(sku: str, shard: int = 0) -> Level:
    row = StockShardModel.get(keys.stock_pk(sku, shard), keys.STOCK_SK, consistent_read=True)
    return Level(int(row.on_hand), int(row.reserved), int(row.available))


def place_order(
    lines: dict[str, int],
    *,
    token: str = "tok_ok",  # noqa: S107 - a sandbox payment token
    unit_price: int = 1000,
    order_id: str | None = None,
) -> StoredOrder:
    """A PENDING_PAYMENT order of ``lines`` (sku -> quantity) with its units reserved."""
    order_id = order_id or f"ord-{uuid.uuid4().hex[:20]}"
    price = Money(unit_price, CURRENCY)
    order_lines = tuple(OrderLine(sku, qty, price) for sku, qty in sorted(lines.items()))
    subtotal = Money(sum(line.amount.amount for line in order_lines), CURRENCY)
    nothing = Money.zero(CURRENCY)
    order = new_order(
        order_id,
        email="buyer@example.com",
        lines=order_lines,
        totals=Totals(subtotal, nothing, nothing, nothing, subtotal),
        created_at=CREATED_EPOCH,
        owner=OWNER,
    )
    stored = StoredOrder(
        order=order,
        reservation={sku: {0: qty} for sku, qty in lines.items()},
        payment_token=token,
        cart_id=f"cart-{order_id}",
        created_at=CREATED_AT,
    )
    tx = LabelledTransaction()
    put_new_order(tx, stored, updated_at=CREATED_AT)
    for sku, qty in sorted(lines.items()):
        holds.take(tx, sku, 0, qty, label=stock_label(sku, 0))
    failures = tx.commit()
    assert not failures, failures
    return stored


def sqs_event(*bodies: str, receive_count: int = 1) -> dict[str, Any]:
    """Lambda's SQS event with one record per body (fake receipt handles)."""
    records = []
    for index, body in enumerate(bodies):
        records.append(
            {
                "messageId": f"m-{index}-{uuid.uuid4().hex[:8]}",
                "receiptHandle": f"rh-{index}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1893456000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1893456000000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:commerce-local-PaymentsQueue",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def cancel_pending(order_id: str) -> StoredOrder:
    """Cancel a PENDING_PAYMENT order as the orders service does: release + CANCELLED."""
    from commerce.domain.orders import OrderEvent, advance
    from commerce.store.orders import load_order, order_transition_update, release_stock

    stored = load_order(order_id)
    assert stored is not None
    step = advance(stored.order, OrderEvent.CANCEL, CREATED_EPOCH + 60)
    tx = LabelledTransaction()
    release_stock(tx, stored.reservation)
    order_transition_update(tx, stored, step)
    assert not tx.commit()
    after = load_order(order_id)
    assert after is not None
    return after
