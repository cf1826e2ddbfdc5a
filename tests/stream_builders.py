"""Orders and carts as the writes that made them, and the stream records Lambda hands the
consumer for each write (the shape of ``sam local generate-event dynamodb update``).

An ``OrderStory`` is one order's life: placed, maybe paid, maybe refunded in parts or cancelled.
Each step is one write, and ``records()`` gives one stream record per write with the item
before and after it, in DynamoDB's JSON, as the Orders table's stream carries it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from commerce import clock
from commerce.domain.money import Money
from commerce.domain.orders import OrderEvent, OrderLine, advance, new_order
from commerce.domain.pricing import Totals
from commerce.store import keys
from commerce.store.campaigns import StoredCampaign
from commerce.store.orders import StoredOrder, new_order_item
from commerce.store.tables.carts import CartModel

CURRENCY = "CNY"
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2030-01-01T00:00:00.000"
_sequence = iter(range(10**20, 10**21))


def stream_record(
    table: str,
    event_name: str,
    key: dict[str, Any],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    at: int,
    view: str = "NEW_AND_OLD_IMAGES",
) -> dict[str, Any]:
    """One record of a Lambda DynamoDB stream event."""
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": at,
        "Keys": key,
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 100,
        "StreamViewType": view,
    }
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": STREAM_ARN.format(table=table),
    }


def order_image(stored: StoredOrder, written_at: int) -> dict[str, Any]:
    """The order item as stored after a write at ``written_at``, in DynamoDB's JSON."""
    item = new_order_item(stored, updated_at=clock.iso_us(written_at), dispatch_pending=False)
    image: dict[str, Any] = item.serialize()
    return image


@dataclass
class OrderStory:
    """One order's writes, oldest first: (the order after the write, when it was made)."""

    order_id: str
    owner: str | None
    email: str
    lines: tuple[tuple[str, int, int], ...]  # sku, quantity, unit price
    placed_at: int
    versions: list[tuple[StoredOrder, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        order_lines = tuple(
            OrderLine(sku, qty, Money(price, CURRENCY)) for sku, qty, price in self.lines
        )
        subtotal = Money(sum(line.amount.amount for line in order_lines), CURRENCY)
        nothing = Money.zero(CURRENCY)
        order = new_order(
            self.order_id,
            email=self.email,
            lines=order_lines,
            totals=Totals(subtotal, nothing, nothing, nothing, subtotal),
            created_at=self.placed_at,
            owner=self.owner,
            cart_token_hash=None if self.owner else "0" * 64,
        )
        stored = StoredOrder(order=order, created_at=clock.iso_us(self.placed_at))
        self.versions.append((stored, self.placed_at))

    @property
    def current(self) -> StoredOrder:
        return self.versions[-1][0]

    @property
    def total(self) -> int:
        return self.current.order.totals.total.amount

    def _write(self, stored: StoredOrder, at: int) -> None:
        self.versions.append((stored, at))

    def pay(self, at: int) -> OrderStory:
        order = self.current.order
        moved = advance(order, OrderEvent.PAYMENT_APPROVED, at).order
        moved = replace(moved, payment=moved.payment.approved(f"ch_{self.order_id}"))
        self._write(replace(self.current, order=moved), at)
        return self

    def refund(self, amount: int, at: int) -> OrderStory:
        """Some of the money goes back (a return received, a staff refund): the order's
        ``payment.refunded`` grows in one write, its status as it is."""
        order = self.current.order
        payment = order.payment.refund(Money(amount, CURRENCY), order.totals.total)
        moved = replace(order, payment=payment, version=order.version + 1)
        self._write(replace(self.current, order=moved), at)
        return self

    def cancel(self, at: int) -> OrderStory:
        """Cancelled: a paid order's remaining money goes back in the same write."""
        order = self.current.order
        moved = advance(order, OrderEvent.CANCEL, at).order
        left = order.totals.total - order.payment.refunded
        if order.payment.charge_id is not None and left.amount > 0:
            moved = replace(moved, payment=moved.payment.refund(left, order.totals.total))
        self._write(replace(self.current, order=moved), at)
        return self

    def records(self) -> list[dict[str, Any]]:
        """One stream record per write, in the order they were made."""
        key = {"pk": {"S": keys.order_pk(self.order_id)}, "sk": {"S": keys.ORDER_SK}}
        found: list[dict[str, Any]] = []
        before: dict[str, Any] | None = None
        for stored, at in self.versions:
            after = order_image(stored, at)
            name = "INSERT" if before is None else "MODIFY"
            found.append(stream_record("Orders", name, key, before, after, at))
            before = after
        return found


def cart_record(cart_id: str, created_at: int, *, owner: str | None = None) -> dict[str, Any]:
    """The record of a cart header's creation, as the Carts table's stream carries it."""
    stamp = clock.iso_us(created_at)
    header = CartModel(
        keys.cart_pk(cart_id),
        keys.CART_SK,
        cart_id=cart_id,
        owner_sub=owner,
        token_hash=None if owner else "0" * 64,
        version=1,
        created_at=stamp,
        updated_at=stamp,
        ttl=created_at + 30 * 86400,
    )
    key = {"pk": {"S": keys.cart_pk(cart_id)}, "sk": {"S": keys.CART_SK}}
    return stream_record("Carts", "INSERT", key, None, header.serialize(), created_at, "NEW_IMAGE")


def line_record(cart_id: str, sku: str, at: int) -> dict[str, Any]:
    """A cart line's record: the consumer must ignore it (only headers are carts)."""
    key = {"pk": {"S": keys.cart_pk(cart_id)}, "sk": {"S": keys.line_sk(sku)}}
    image = {**key, "cart_id": {"S": cart_id}, "sku": {"S": sku}, "quantity": {"N": "1"}}
    return stream_record("Carts", "INSERT", key, None, image, at, "NEW_IMAGE")


def pk_sk_table(client: Any, name: str, *, stream: str | None = None) -> dict[str, Any]:
    """A pay-per-request table keyed ``pk``/``sk`` (with a stream of view ``stream``); its
    description."""
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream is not None:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    client.create_table(**request)
    description: dict[str, Any] = client.describe_table(TableName=name)["Table"]
    return description


def a_campaign(**changes: Any) -> StoredCampaign:
    """A campaign as POST /admin/campaigns stores it (to a segment of all buyers, by email)."""
    fields: dict[str, Any] = {
        "campaign_id": "4b7e1c9d2a3f4e5b8c6d0a1f2e3b4c5d",
        "name": "Spring",
        "segment_id": "9d2f4c1a7b3e4d5f8a6c0b1e2d3f4a5b",
        "channels": ("email",),
        "subject": "Spring sale",
        "body": "This week only.",
        "request_digest": "d",
        "created_at": "2030-01-01T00:00:00.000000Z",
        "created_by": "ops-1",
    }
    return StoredCampaign(**{**fields, **changes})
