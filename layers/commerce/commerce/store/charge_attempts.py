"""The charge-attempt mark on an order: written before the provider is ever asked for money.

Charging must never charge a cancelled order, yet a charge it made just before a
crash must be found and refunded if the order was cancelled meanwhile. The order itself records
that a charge may exist: ``charge_attempted_at`` is set (once, with ``if_not_exists``) by a write
conditioned on the order still being PENDING_PAYMENT, and only after that write succeeds is the
provider called.

- A cancel that wins the race: the mark's condition fails, the order is never charged and the
  provider is never even asked.
- A cancelled order that carries the mark: a charge may exist, or the delivery that marked may
  have died before reaching the provider. The provider is asked what became of the charge key
  (``find_charge``, which never charges); an approved charge is refunded.

The mark leaves ``version`` alone, so it never fails a concurrent transition's condition.
"""

from __future__ import annotations

from dataclasses import dataclass

from commerce.domain.orders import OrderStatus
from commerce.store import keys, kit
from commerce.store.orders import StoredOrder, from_model
from commerce.store.tables.orders import OrderModel


@dataclass(frozen=True)
class OrderForPayment:
    """An order as charging reads it: with whether a charge was ever attempted."""

    stored: StoredOrder
    charge_attempted: bool


def begin_charge(order_id: str, at: int) -> StoredOrder | None:
    """Mark the order's charge attempt; the order as it now is, or None if not PENDING_PAYMENT
    (or absent). The first attempt's time is kept on retries."""
    row = OrderModel(keys.order_pk(order_id), keys.ORDER_SK)
    marked = kit.applied(
        lambda: row.update(
            [OrderModel.charge_attempted_at.set(OrderModel.charge_attempted_at | at)],
            condition=OrderModel.status == OrderStatus.PENDING_PAYMENT.value,
        )
    )
    return from_model(row) if marked else None


def load_for_payment(order_id: str) -> OrderForPayment | None:
    """The order (strongly consistent) and its attempt mark; None when there is no such order."""
    try:
        row = OrderModel.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=True)
    except OrderModel.DoesNotExist:
        return None
    return OrderForPayment(from_model(row), row.charge_attempted_at is not None)


class DynamoPaymentRefs:
    """The provider's reference of each order's payment, kept on the order item (``payment_ref``).

    Written once (``attribute_not_exists``) and only on an existing order, before the payment
    can take money (Stripe: the PaymentIntent is created unconfirmed, its id kept here, then
    confirmed), so every later attempt continues that payment instead of beginning another.
    """

    def get(self, order_id: str) -> str | None:
        try:
            row = OrderModel.get(
                keys.order_pk(order_id),
                keys.ORDER_SK,
                consistent_read=True,
                attributes_to_get=["payment_ref"],
            )
        except OrderModel.DoesNotExist:
            return None
        return row.payment_ref

    def put_if_absent(self, order_id: str, ref: str) -> bool:
        row = OrderModel(keys.order_pk(order_id), keys.ORDER_SK)
        return kit.applied(
            lambda: row.update(
                [OrderModel.payment_ref.set(ref)],
                condition=OrderModel.pk.exists() & OrderModel.payment_ref.does_not_exist(),
            )
        )
