"""Settling an order's payment: what a provider's answer does to the order, at most once.

The answer comes from the charging path (``orders.charging``, the payments queue) or from the
provider's signed notification (the payment webhooks). Either way it is one move of the order
(``moves.move_if_needed``), decided on the order as it stands, so the same answer arriving twice,
late, or after a cancel does the right thing once:

| order is        | approved                                     | declined                        |
|-----------------|----------------------------------------------|---------------------------------|
| PENDING_PAYMENT | PAID, the reservation deducted from stock    | PAYMENT_FAILED, stock released, |
|                 | (one transaction)                            | coupons and points returned     |
| CANCELLED       | the charge refunded (``refund_key``) and     | nothing                         |
|                 | recorded; the status stays                   |                                 |
| PAYMENT_FAILED  | the charge refunded; nothing written         | nothing                         |
| PAID or later   | nothing (another charge id is logged)        | nothing                         |

A refund goes to the provider before it is recorded and is idempotent by key, so a retry of the
record on a fresh read refunds nothing more. The status change is announced strictly
(``events.announce``): if the event cannot be sent, the caller fails and its retry finds the
move written and announces it again under the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.sales import count_payment
from commerce.domain.money import Money
from commerce.domain.orders import Advance, OrderEvent, OrderStatus, Payment, PaymentStatus
from commerce.domain.refunds import record_made, refund_id_for
from commerce.observability import logger, metrics
from commerce.orders import moves
from commerce.orders.book import NO_EFFECTS, Effects, OrderBook
from commerce.orders.events import announce
from commerce.payments.provider import (
    ChargeResult,
    PaymentProvider,
    TransientProviderError,
    refund_key,
)
from commerce.store.orders import StoredOrder


class Result(StrEnum):
    """What one answer did to its order (for logs, the queue's record result and tests)."""

    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    ALREADY_SETTLED = "already_settled"
    CANCELLED_NOT_CHARGED = "cancelled_not_charged"
    CANCELLED_REFUNDED = "cancelled_refunded"
    REFUNDED_UNPAYABLE = "refunded_unpayable"
    #: The customer must act at the provider; the order keeps its ``next_action`` meanwhile.
    AWAITING_CUSTOMER = "awaiting_customer"


@dataclass(frozen=True)
class Outcome:
    order_id: str
    result: Result


def _with_payment(stored: StoredOrder, payment: Payment) -> StoredOrder:
    return replace(stored, order=replace(stored.order, payment=payment))


def _settle(
    stored: StoredOrder,
    event: OrderEvent,
    prepare: moves.Prepare,
    effects: moves.Plan,
    now: int,
    book: OrderBook | None,
) -> moves.Moved:
    """One answer's move, decided on ``stored`` first and on fresh reads after; announced
    strictly, so a lost event fails the caller and its retry announces it again."""
    return moves.move_if_needed(
        stored.order_id,
        event,
        effects=effects,
        prepare=prepare,
        first=stored,
        at=now,
        publish=announce,
        book=book,
    )


def approve(
    stored: StoredOrder,
    charge_id: str | None,
    charged: Money,
    *,
    provider: PaymentProvider,
    now: int,
    book: OrderBook | None = None,
) -> Outcome:
    """An approved charge (``charge_id``; None when nothing was charged: a total paid in full
    by points) meets the order ``stored`` (as last read; it is read again if it moved)."""
    order_id = stored.order_id

    def prepare(current: StoredOrder) -> StoredOrder | None:
        order = current.order
        if order.status is OrderStatus.PENDING_PAYMENT:
            if charge_id is None:
                return _with_payment(current, replace(order.payment, status=PaymentStatus.APPROVED))
            return _with_payment(current, order.payment.approved(charge_id))
        if order.status is OrderStatus.CANCELLED and charge_id is not None:
            # Cancelled while the charge was in flight: the money goes back. Asking again when
            # the refund is already recorded is harmless (same key) and proves it exists.
            key = refund_key(order_id)
            made = provider.refund(charge_id, charged, key)
            if order.payment.status is PaymentStatus.REFUNDED:
                return None
            approved = replace(order, payment=order.payment.approved(charge_id))
            refunded = record_made(
                approved,
                refund_id_for(key),
                charged,
                now,
                provider_refund_id=made.refund_id,
                reason="paid after the order was cancelled",
            )
            return replace(current, order=refunded)
        return None

    def effects(current: StoredOrder, adv: Advance) -> Effects:
        if adv.previous is OrderStatus.PENDING_PAYMENT:
            return Effects(deduct_stock=current.reservation)
        return NO_EFFECTS

    moved = _settle(stored, OrderEvent.PAYMENT_APPROVED, prepare, effects, now, book)
    after = moved.stored
    count_payment(after)  # every time: once per order, so a redelivery catches a lost count
    if after.status is OrderStatus.PAID and moved.written:
        metrics.add_metric(name="PaymentsApproved", unit=MetricUnit.Count, value=1)
        logger.info("order paid", extra={"order_id": order_id, "charge_id": charge_id})
        return Outcome(order_id, Result.PAID)
    if after.status is OrderStatus.CANCELLED:
        if after.order.payment.status is PaymentStatus.REFUNDED:
            if moved.written:
                logger.info("late approval refunded", extra={"order_id": order_id})
            return Outcome(order_id, Result.CANCELLED_REFUNDED)
        return Outcome(order_id, Result.CANCELLED_NOT_CHARGED)
    if after.status is OrderStatus.PAYMENT_FAILED:
        # Settled as failed (stock released) and yet approved: the money goes back.
        if charge_id is not None:
            provider.refund(charge_id, charged, refund_key(order_id))
            logger.warning(
                "approved charge on a failed order refunded", extra={"order_id": order_id}
            )
        return Outcome(order_id, Result.REFUNDED_UNPAYABLE)
    if after.order.payment.charge_id not in (None, charge_id):
        logger.error(
            "a paid order reported another approved charge",
            extra={"order_id": order_id, "charge_id": charge_id},
        )
    return Outcome(order_id, Result.ALREADY_SETTLED)


def await_customer(
    stored: StoredOrder, charge: ChargeResult, *, book: OrderBook | None = None
) -> Outcome:
    """The provider waits for the customer (a redirect, a QR code): the order keeps the
    first ``next_action`` it was given and stays PENDING_PAYMENT until the provider's
    notification, the reconciler or the payment timeout settles it. The action is written once:
    a retry, or the payments queue after checkout began the payment, may get the same trade
    signed anew (Alipay's URL carries the second it was signed), and the action the client
    already holds must stay the one a GET of the order shows."""
    action = charge.next_action
    if action is None:
        raise TransientProviderError("the provider began the payment without an action")

    def prepare(current: StoredOrder) -> StoredOrder | None:
        payment = current.order.payment
        if current.status is not OrderStatus.PENDING_PAYMENT or payment.next_action is not None:
            return None
        return _with_payment(current, replace(payment, next_action=action))

    moved = moves.amend_if_needed(stored.order_id, prepare, first=stored, book=book)
    if moved.stored.status is OrderStatus.PENDING_PAYMENT:
        return Outcome(stored.order_id, Result.AWAITING_CUSTOMER)
    return Outcome(stored.order_id, Result.ALREADY_SETTLED)


def decline(
    stored: StoredOrder, decline_code: str | None, *, now: int, book: OrderBook | None = None
) -> Outcome:
    """A declined charge meets the order: PENDING_PAYMENT becomes PAYMENT_FAILED with its
    reservation released and its perks returned, in one transaction; any other status stays."""
    order_id = stored.order_id

    def prepare(current: StoredOrder) -> StoredOrder | None:
        if current.status is not OrderStatus.PENDING_PAYMENT:
            return None  # already failed, or cancelled meanwhile: a late decline changes nothing
        return _with_payment(current, current.order.payment.declined(decline_code))

    def effects(current: StoredOrder, adv: Advance) -> Effects:
        del adv
        return Effects(release_stock=current.reservation, return_perks=True)

    moved = _settle(stored, OrderEvent.PAYMENT_DECLINED, prepare, effects, now, book)
    if not moved.written:
        return Outcome(order_id, Result.ALREADY_SETTLED)
    metrics.add_metric(name="PaymentsDeclined", unit=MetricUnit.Count, value=1)
    logger.info("payment declined", extra={"order_id": order_id, "code": decline_code})
    return Outcome(order_id, Result.PAYMENT_FAILED)
