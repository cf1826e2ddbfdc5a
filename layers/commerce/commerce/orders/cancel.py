"""Cancelling an order before it ships (docs/orders.md, "The state machine").

- PENDING_PAYMENT: CANCELLED with the reservation released in the same transaction. A charge
  already in flight that still succeeds is refunded when it is settled
  (``orders.settlement``: CANCELLED, payment_approved).
- PAID: the charge is refunded through the provider first (``refund_key(order_id)``, so a retry
  never refunds twice), then CANCELLED and the deducted units back to ``on_hand`` in one
  transaction.
- Either way the order's coupon uses and redeemed points go back in the same transaction.
- SHIPPED and later: 409 ``conflict`` (``IllegalTransition``).

Who: the owner (a guest: the holder of the cart or order token), ops and admin; support may read
but not cancel (403); anyone else 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.catalog.sales import count_cancellation
from commerce.domain.orders import Advance, OrderEvent, OrderStatus
from commerce.domain.refunds import record_made, refund_id_for
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.orders import moves
from commerce.orders.book import Effects
from commerce.orders.reading import is_private_reader, load_within_reach
from commerce.orders.schemas import OrderOut
from commerce.orders.views import order_view
from commerce.payments.factory import provider_for
from commerce.payments.provider import refund_key
from commerce.store.orders import StoredOrder


def _release(stored: StoredOrder, adv: Advance) -> Effects:
    if adv.previous is OrderStatus.PENDING_PAYMENT:
        return Effects(release_stock=stored.reservation, return_perks=True)
    return Effects(restock=stored.reservation, return_perks=True)


def _refund_if_paid(stored: StoredOrder) -> StoredOrder:
    """A paid order: refund what is left of its charge (idempotent by ``refund_key``, so a
    retry refunds nothing more) and return the order with its payment updated."""
    order = stored.order
    if order.status is not OrderStatus.PAID:
        return stored
    payment = order.payment
    owed = order.totals.total - payment.refunded
    if payment.charge_id is None or owed.amount <= 0:
        return stored
    key = refund_key(order.order_id)
    made = provider_for(payment.method).refund(payment.charge_id, owed, key)
    refunded = record_made(
        order,
        refund_id_for(key),
        owed,
        clock.now(),
        provider_refund_id=made.refund_id,
        reason="order cancelled",
    )
    return replace(stored, order=refunded)


def cancel_order(order_id: str, caller: Caller, tokens: Sequence[str | None]) -> OrderOut:
    stored = load_within_reach(
        order_id, caller, tokens, refused="Support may read orders but not cancel them"
    )
    count_cancellation(stored)  # a retried cancel (409 below) still catches a lost count
    written = moves.move(
        order_id, OrderEvent.CANCEL, effects=_release, prepare=_refund_if_paid, first=stored
    )
    count_cancellation(written)
    logger.info("order cancelled", extra={"order_id": order_id, "from": stored.status.value})
    metrics.add_metric(name="OrdersCancelled", unit=MetricUnit.Count, value=1)
    return order_view(written, private=is_private_reader(written, caller))
