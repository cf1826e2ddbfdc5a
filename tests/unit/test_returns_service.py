"""Receiving a return over the in-memory books: retried and concurrent receipts refund once.

The in-memory order book writes a move only if the order is still as read, as DynamoDB does;
its ``before_write`` hook lands a whole second receipt between the first one's read and write,
the interleaving four concurrent requests produced over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import OrderEvent, OrderStatus, PaymentStatus, advance
from commerce.http.auth import Caller
from commerce.http.gate import admit
from commerce.orders import charging, returns
from commerce.orders.book import NO_EFFECTS
from commerce.orders.schemas import ReturnIn
from commerce.payments.provider import charge_key
from order_builders import GUEST_TOKEN
from order_fakes import World, world

pytestmark = pytest.mark.unit

OPS = admit(
    "POST",
    "/admin/orders/{order_id}/returns/{return_id}/receive",
    Caller(sub="ops-1", groups=frozenset({"ops"})),
)
GUEST = Caller()


@pytest.fixture
def fakes() -> Iterator[World]:
    with world() as fakes:
        fakes.book.stock("A", 10)
        yield fakes


def _delivered(fakes: World, quantity: int = 2) -> str:
    """A guest's order of ``quantity`` units of A, paid, shipped and delivered just now."""
    order = fakes.place({"A": quantity}, owner=None)
    charging.pay(order.order_id)
    for event in (OrderEvent.SHIP, OrderEvent.DELIVER):
        current = fakes.order(order.order_id)
        moved = advance(current.order, event, 1_893_456_500)
        assert fakes.book.write(current, moved, NO_EFFECTS, at="2030-01-01T00:08:20.000000Z")
    return order.order_id


def _request(order_id: str, quantity: int = 1) -> str:
    body = ReturnIn.model_validate({"lines": [{"sku": "A", "quantity": quantity}], "reason": ""})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("commerce.clock.now", lambda: 1_893_457_000)
        return returns.request_return(order_id, body, GUEST, (GUEST_TOKEN,)).return_id


def _refunds_at_provider(fakes: World, order_id: str) -> int:
    charge = fakes.provider.find_charge(order_id, charge_key(order_id))
    assert charge is not None
    return fakes.provider.refunded_total(charge.charge_id).amount


def test_a_receipt_refunds_restocks_and_refunds_the_order(fakes: World) -> None:
    order_id = _delivered(fakes)
    return_id = _request(order_id)
    answer = returns.receive_return(order_id, return_id, OPS)
    assert answer.status == OrderStatus.REFUNDED.value
    assert _refunds_at_provider(fakes, order_id) == 1000
    assert fakes.order(order_id).order.payment.refunded == Money(1000)
    assert fakes.book.shelf("A").on_hand == 9  # 2 deducted when paid, 1 back


def test_a_receipt_that_lands_between_another_receipts_read_and_write_answers_alike(
    fakes: World,
) -> None:
    order_id = _delivered(fakes)
    return_id = _request(order_id, quantity=2)  # the whole order: a second count would exceed it
    second: list[object] = []
    fakes.book.before_write = lambda _: second.append(
        returns.receive_return(order_id, return_id, OPS)
    )
    first = returns.receive_return(order_id, return_id, OPS)
    assert second == [first]
    stored = fakes.order(order_id)
    assert stored.status is OrderStatus.REFUNDED
    assert stored.order.payment.status is PaymentStatus.REFUNDED
    assert stored.order.payment.refunded == Money(2000)
    assert _refunds_at_provider(fakes, order_id) == 2000
    assert fakes.book.shelf("A").on_hand == 10


def test_a_plain_retry_of_a_receipt_answers_as_the_first_and_moves_nothing(fakes: World) -> None:
    order_id = _delivered(fakes)
    return_id = _request(order_id)
    first = returns.receive_return(order_id, return_id, OPS)
    writes = fakes.book.writes
    assert returns.receive_return(order_id, return_id, OPS) == first
    assert fakes.book.writes == writes
    assert _refunds_at_provider(fakes, order_id) == 1000
