"""Charging an order: the payments queue's one job, at most one charge per order.

Per message ``{"order_id"}`` (docs/orders.md, "Payments"):

1. Mark the charge attempt on the order, conditioned on PENDING_PAYMENT (the order book's
   ``begin_charge``). If that fails the order has moved on: PAID or PAYMENT_FAILED is a
   redelivery (acknowledged; the sale is counted, once per order, and its event announced again
   under the same id, in case the delivery that wrote it failed after the write); CANCELLED is
   never charged. If an earlier delivery marked an attempt, the provider is asked what became
   of ``charge_key(order_id)`` (``find_charge``, which never charges): an approved charge is
   refunded, no charge means nothing to undo. Asking ``charge`` again instead would make the
   charge now if the earlier delivery died before reaching the provider.
2. Charge through the provider of the order's method (``factory.provider_for``) with
   ``charge_key(order_id)``: a redelivery, a retry after a crash or a concurrent consumer reach
   the provider with the same key and get the first answer back, so the customer is charged
   once. Alipay and WeChat Pay (and a card that needs authentication) answer that the customer
   must act: the ``next_action`` is kept on the order, which stays PENDING_PAYMENT until the
   provider's signed notification (the payment webhooks) or the reconciler settles it.
3. Settle the answer (``orders.settlement``): approved is PAID with the stock deducted, declined
   is PAYMENT_FAILED with it released. If a cancel won the race, the PAID write fails its
   condition and the approved charge is refunded (``refund_key(order_id)``), never kept. This is
   also what makes the lookup of step 1 safe while an earlier delivery is still alive: if that
   delivery charges after the lookup found nothing, its own PAID write meets CANCELLED and it
   refunds; if both refund, the one ``refund_key`` makes it one refund.

The queue's ``POLICY`` (``commerce.queue_policy``): a record is not started with less than 1.5 s
of the invocation left; ``TransientProviderError`` (and anything unexpected) fails the record,
which comes back after an exponential, jittered backoff; ``PoisonMessage`` (not JSON, no order
id, no such order) comes back at once and reaches the DLQ after maxReceiveCount receives,
without delaying the rest of its batch. The test-only ``PAYMENTS_CRASH_AFTER_CHARGE_RATE`` raises
``InjectedCrash`` after an approval and before the PAID write (never in prod).
"""

from __future__ import annotations

import json
import random
import re
from typing import Final

from commerce import clock
from commerce.catalog.sales import count_payment
from commerce.domain.orders import NextAction, OrderStatus, PaymentStatus
from commerce.observability import logger
from commerce.orders import settlement
from commerce.orders.book import OrderBook, order_book
from commerce.orders.events import announce
from commerce.orders.settlement import Outcome, Result
from commerce.payments import factory
from commerce.payments.provider import ChargeResult, PaymentProvider, charge_key
from commerce.queue_policy import PoisonMessage, QueuePolicy
from commerce.settings import get_settings
from commerce.store.orders import StoredOrder

#: A record is not started with less than this left of the invocation: it is deferred instead.
DEADLINE_MARGIN_MS: Final = 1500
_ORDER_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class InjectedCrash(RuntimeError):
    """The test-only fault: the consumer dies after the provider approved, before PAID."""


def order_id_of(body: str | None) -> str:
    """The order id a payments message names; ``PoisonMessage`` when it names none."""
    try:
        data = json.loads(body or "")
    except (TypeError, ValueError) as error:
        raise PoisonMessage("the message body is not JSON") from error
    order_id = data.get("order_id") if isinstance(data, dict) else None
    if not isinstance(order_id, str) or not _ORDER_ID_RE.fullmatch(order_id):
        raise PoisonMessage("the message names no valid order_id")
    return order_id


def pay(
    order_id: str,
    *,
    provider: PaymentProvider | None = None,
    now: int | None = None,
    book: OrderBook | None = None,
) -> Outcome:
    """Take the payment of one order, at most once, whatever has happened to it before."""
    books = book or order_book()
    now = clock.now() if now is None else now
    pending = books.begin_charge(order_id, now)
    if pending is None:
        return _not_pending(order_id, provider, now, books)
    provider = provider or factory.provider_for(pending.order.payment.method)
    total = pending.order.totals.total
    if total.amount <= 0:
        # Fully paid by points: nothing to charge, the order is paid as it stands.
        return settlement.approve(pending, None, total, provider=provider, now=now, book=books)
    charge = provider.charge(
        order_id,
        total,
        pending.payment_token or "",
        charge_key(order_id),
        expires_at=payment_deadline(pending),
    )
    if charge.awaiting_customer:
        return settlement.await_customer(pending, charge, book=books)
    _maybe_crash(order_id)
    if charge.approved:
        return settlement.approve(
            pending, charge.charge_id, charge.amount, provider=provider, now=now, book=books
        )
    return settlement.decline(pending, charge.decline_code, now=now, book=books)


def payment_deadline(stored: StoredOrder) -> int:
    """When the order stops waiting for its payment (epoch s): placed + the payment timeout."""
    return stored.order.created_at + get_settings().payment_timeout_seconds


def begin_payment(order_id: str) -> NextAction | None:
    """At checkout, for methods where the customer acts (Alipay, WeChat Pay): begin the payment
    now, so the 202 can carry its ``next_action``. Any failure is logged and left to the
    payments queue, whose message is already sent and which retries with backoff: the client
    never sees a provider's outage, and polls the order for the action instead."""
    try:
        pay(order_id)
    except Exception:  # a provider outage must never fail the checkout that placed the order
        logger.warning(
            "payment not begun at checkout; the queue retries", extra={"order_id": order_id}
        )
        return None
    stored = order_book().load(order_id)
    return stored.order.payment.next_action if stored is not None else None


def _maybe_crash(order_id: str) -> None:
    rate = get_settings().payments_crash_rate
    if rate and random.random() < rate:  # noqa: S311 - fault injection, not security
        logger.warning("injected crash after charge", extra={"order_id": order_id})
        raise InjectedCrash(f"injected crash after the charge of {order_id}")


def _not_pending(
    order_id: str, provider: PaymentProvider | None, now: int, book: OrderBook
) -> Outcome:
    found = book.load_for_payment(order_id)
    if found is None:
        raise PoisonMessage(f"no order {order_id}")
    stored = found.stored
    provider = provider or factory.provider_for(stored.order.payment.method)
    status = stored.status
    if status is OrderStatus.CANCELLED:
        if stored.order.payment.status is PaymentStatus.REFUNDED:
            return Outcome(order_id, Result.CANCELLED_REFUNDED)
        if stored.order.payment.charge_id is None and not found.charge_attempted:
            # Cancelled before any charge was attempted: the provider is never asked.
            return Outcome(order_id, Result.CANCELLED_NOT_CHARGED)
        # An earlier delivery marked an attempt before the cancel: it may have charged, or died
        # first. Look the charge up (never make it) and undo whatever exists.
        charge = _find_charge(stored, provider)
        if charge is None or not charge.approved:
            return Outcome(order_id, Result.CANCELLED_NOT_CHARGED)
        return settlement.approve(
            stored, charge.charge_id, charge.amount, provider=provider, now=now, book=book
        )
    if status is OrderStatus.PENDING_PAYMENT:  # pragma: no cover - status never returns here
        raise RuntimeError(f"order {order_id} is pending but refused the charge mark")
    if status in (OrderStatus.PAID, OrderStatus.PAYMENT_FAILED):
        # A redelivery: the result is written; make sure what follows it was done too, the
        # sale counted (once per order) and its event sent (same id), in case the delivery
        # that wrote it died or failed after the write.
        count_payment(stored)
        announce(stored)
    return Outcome(order_id, Result.ALREADY_SETTLED)


def _find_charge(stored: StoredOrder, provider: PaymentProvider) -> ChargeResult | None:
    """The charge an earlier delivery made for this order, if it made one (a zero total never
    reaches the provider)."""
    order = stored.order
    if order.totals.total.amount <= 0:
        return None
    return provider.find_charge(order.order_id, charge_key(order.order_id))


def handle_body(body: str | None) -> Outcome:
    """One record of the payments queue: its order charged at most once."""
    return pay(order_id_of(body))


def _queue_url() -> str:
    return get_settings().payments_queue_url


#: The payments queue: a deadline margin, exponential backoff of failed records, and poison
#: records back at once towards the DLQ.
POLICY: Final = QueuePolicy(
    retry_metric="PaymentRetries",
    poison_metric="PaymentPoisonMessages",
    queue_url=_queue_url,
    backoff=True,
    deadline_margin_ms=DEADLINE_MARGIN_MS,
)
