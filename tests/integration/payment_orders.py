"""Orders placed straight through the store, for the payments and webhooks tests.

Charging starts where checkout ends: an order PENDING_PAYMENT whose units are
reserved on the stock shards. ``place_order`` writes exactly that in one transaction (the order
plus a take on each SKU's shard 0), so these tests do not depend on the checkout's HTTP flow.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from commerce.store import keys, stock_moves
from commerce.store.orders import StoredOrder, put_new_order, stock_label
from commerce.store.tables.inventory import StockShardModel
from commerce.store.transactions import LabelledTransaction
from order_builders import CREATED_EPOCH, pending_order


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
    created: int = CREATED_EPOCH,
) -> StoredOrder:
    """A PENDING_PAYMENT order of ``lines`` (sku -> quantity) with its units reserved, placed
    at ``created`` (a fixed time by default; a provider's or carrier's event about it may not
    be dated before it, so the webhook tests place theirs just now)."""
    stored = pending_order(
        lines,
        token=token,
        unit_price=unit_price,
        order_id=order_id or f"ord-{uuid.uuid4().hex[:20]}",
        created=created,
    )
    tx = LabelledTransaction()
    put_new_order(tx, stored, updated_at=stored.created_at)
    for sku, qty in sorted(lines.items()):
        stock_moves.take(tx, sku, 0, qty, label=stock_label(sku, 0))
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
