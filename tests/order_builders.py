"""A pending order as a checkout leaves it, built the same way for every layer of the suite."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from commerce.clock import iso_us
from commerce.domain.guest_tokens import hash_guest_token
from commerce.domain.money import Money
from commerce.domain.orders import OrderLine, new_order
from commerce.domain.pricing import Totals
from commerce.store.orders import StoredOrder

CURRENCY = "CNY"
OWNER = "c0000000-0000-4000-8000-000000000001"
CREATED_AT = "2030-01-01T00:00:00.000000Z"
CREATED_EPOCH = 1_893_456_000
#: The cart token a guest's order is placed with (its hash is on the order).
GUEST_TOKEN = "guest-" + "t" * 37


def pending_order(
    lines: Mapping[str, int],
    *,
    token: str = "tok_ok",  # noqa: S107 - a sandbox payment token
    unit_price: int = 1000,
    order_id: str | None = None,
    owner: str | None = OWNER,
    created: int = CREATED_EPOCH,
) -> StoredOrder:
    """A PENDING_PAYMENT order of ``lines`` (sku -> quantity) whose units are reserved on
    shard 0, placed at ``created`` (epoch s; a fixed time by default); a guest's
    (``owner=None``) is reached with ``GUEST_TOKEN`` instead of an owner."""
    order_id = order_id or uuid.uuid4().hex
    price = Money(unit_price, CURRENCY)
    order_lines = tuple(OrderLine(sku, qty, price) for sku, qty in sorted(lines.items()))
    subtotal = Money(sum(line.amount.amount for line in order_lines), CURRENCY)
    nothing = Money.zero(CURRENCY)
    order = new_order(
        order_id,
        email="buyer@example.com",
        lines=order_lines,
        totals=Totals(subtotal, nothing, nothing, nothing, subtotal),
        created_at=created,
        owner=owner,
        cart_token_hash=None if owner else hash_guest_token(GUEST_TOKEN),
    )
    return StoredOrder(
        order=order,
        reservation={sku: {0: qty} for sku, qty in lines.items()},
        payment_token=token,
        cart_id=f"cart-{order_id}",
        created_at=CREATED_AT if created == CREATED_EPOCH else iso_us(created),
    )


#: An address in a remote region (Xinjiang), which the shipping zone tests price on its own.
URUMQI = {
    "name": "Aylin",
    "line1": "8 Youhao Road",
    "city": "Urumqi",
    "region": "Xinjiang",
    "postal_code": "830000",
    "country": "CN",
    "phone": "+8613912345678",
}
