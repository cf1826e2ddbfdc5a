"""Refunds of an order's charge: how much may still go back, and how each refund is recorded.

Every refund of an order is listed in ``order.refunds`` (API.md: ``refunds: [{refund_id,
amount, status, at}]``), whoever made it: staff (``POST /admin/orders/{id}/refunds``), the
provider's own dashboard (its refund notification), a cancel of a paid order, a late payment
refunded, a return received. Their sum never exceeds what was charged:

- ``payment.refunded`` counts the refunds that succeeded;
- a staff refund is first **reserved** (a ``pending`` record) by a write conditioned on the
  order's version, so two refunds racing for the same remainder cannot both be reserved; only
  then is the provider asked, and the record becomes ``succeeded`` (counted in
  ``payment.refunded``) or ``failed`` (its amount freed);
- ``refundable`` is what was charged less the succeeded and the pending refunds.

A refund's id is derived from its idempotency key (``refund_id_for``), and it is also the
reference the provider is given (Alipay's ``out_request_no``, WeChat Pay's ``out_refund_no``,
Stripe's refund metadata), so the provider's refund notification for a refund we made names a
record that already exists and is not counted twice. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Final

from commerce.domain.money import Money
from commerce.domain.orders import (
    Order,
    OrderStatus,
    PaymentStatus,
    RefundRecord,
    RefundStatus,
)
from commerce.errors import Conflict

#: The longest reason a refund may give.
MAX_REASON_CHARS: Final = 500
#: Statuses of an order whose charge staff may refund (paid, and not cancelled: a cancel
#: refunds everything left itself).
REFUNDABLE_STATUSES: Final = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.RETURN_REQUESTED,
        OrderStatus.REFUNDED,
    }
)
#: Providers accept request references of at most 64 characters (Alipay, WeChat Pay).
_REFERENCE_HEX: Final = 24


def refund_id_for(idempotency_key: str) -> str:
    """The refund id (and provider reference) of the money movement keyed ``idempotency_key``:
    ``rf_`` and 24 hex digits, within every provider's limit, the same on every retry."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:_REFERENCE_HEX]
    return f"rf_{digest}"


def request_id_for(client_key: str) -> str:
    """A client's Idempotency-Key as a fixed-length id fit for a provider key (no colons)."""
    return hashlib.sha256(client_key.encode()).hexdigest()[:32]


def find(order: Order, refund_id: str) -> RefundRecord | None:
    return next((r for r in order.refunds if r.refund_id == refund_id), None)


def find_by_provider_id(order: Order, provider_refund_id: str) -> RefundRecord | None:
    return next((r for r in order.refunds if r.provider_refund_id == provider_refund_id), None)


def charged(order: Order) -> Money:
    """What the customer paid: the total, once a charge was approved (nothing before)."""
    if order.payment.charge_id is None:
        return Money.zero(order.totals.total.currency)
    return order.totals.total


def pending_total(order: Order) -> Money:
    currency = order.totals.total.currency
    return sum(
        (r.amount for r in order.refunds if r.status is RefundStatus.PENDING),
        Money.zero(currency),
    )


def refundable(order: Order) -> Money:
    """What may still be refunded: charged, less refunds succeeded and refunds pending."""
    left = charged(order).amount - order.payment.refunded.amount - pending_total(order).amount
    return Money(max(0, left), order.totals.total.currency)


def _replace_record(order: Order, record: RefundRecord) -> Order:
    refunds = tuple(record if r.refund_id == record.refund_id else r for r in order.refunds)
    return replace(order, refunds=refunds)


def open_refund(order: Order, refund_id: str, amount: Money, reason: str, at: int) -> Order:
    """The order with a staff refund of ``amount`` reserved (``pending``).

    409 ``conflict`` when the order was never paid or is cancelled, when the amount is not a
    positive sum in the order's currency, or when it is more than may still be refunded.
    """
    if order.status not in REFUNDABLE_STATUSES or order.payment.charge_id is None:
        raise Conflict(
            f"An order in status {order.status.value} has no payment to refund",
            order_status=order.status.value,
        )
    if amount.currency != order.totals.total.currency:
        raise Conflict(f"Refunds of this order are in {order.totals.total.currency}")
    if amount.amount <= 0:
        raise Conflict("A refund is a positive amount")
    if find(order, refund_id) is not None:
        raise Conflict(f"Refund {refund_id} exists already")
    left = refundable(order)
    if amount.amount > left.amount:
        raise Conflict(
            f"Refunds of this order cannot exceed what was paid: {left.amount} left to refund",
            refundable=left.to_dict(),
        )
    record = RefundRecord(refund_id, amount, RefundStatus.PENDING, at, reason=reason)
    return replace(order, refunds=(*order.refunds, record))


def settle_refund(
    order: Order, refund_id: str, provider_refund_id: str | None, points_due: int = 0
) -> Order:
    """A pending refund the provider made: ``succeeded`` and counted in ``payment.refunded``.
    A refund already settled is returned as it is. What is counted never takes
    ``payment.refunded`` past the charge (a refund reported meanwhile from the provider's
    dashboard may have taken the room this one had reserved)."""
    record = find(order, refund_id)
    if record is None:
        raise KeyError(refund_id)
    if record.status is not RefundStatus.PENDING:
        return order
    room = max(0, charged(order).amount - order.payment.refunded.amount)
    counted = Money(min(record.amount.amount, room), record.amount.currency)
    done = replace(
        record,
        amount=counted,
        status=RefundStatus.SUCCEEDED,
        provider_refund_id=provider_refund_id,
        points_due=points_due,
    )
    paid = order.payment.refund(counted, order.totals.total)
    return replace(_replace_record(order, done), payment=paid)


def fail_refund(order: Order, refund_id: str) -> Order:
    """A pending refund the provider refused: ``failed``, its amount free again."""
    record = find(order, refund_id)
    if record is None or record.status is not RefundStatus.PENDING:
        return order
    return _replace_record(order, replace(record, status=RefundStatus.FAILED))


def record_made(
    order: Order,
    refund_id: str,
    amount: Money,
    at: int,
    *,
    provider_refund_id: str | None = None,
    reason: str = "",
) -> Order:
    """The order with a refund the provider already made (a cancel, a late payment, a return
    received, or one reported by the provider) listed as ``succeeded`` and counted.

    Idempotent: a refund already listed under ``refund_id`` or ``provider_refund_id`` is not
    counted again (a pending one is settled). The amount counted never takes
    ``payment.refunded`` past what was charged: the provider does not refund more than its
    charge, so the excess can only be a report of money already counted.
    """
    known = find(order, refund_id) or (
        find_by_provider_id(order, provider_refund_id) if provider_refund_id else None
    )
    if known is not None:
        if known.status is RefundStatus.PENDING:
            return settle_refund(order, known.refund_id, provider_refund_id)
        return order
    room = max(0, charged(order).amount - order.payment.refunded.amount)
    counted = Money(min(amount.amount, room), order.totals.total.currency)
    record = RefundRecord(
        refund_id,
        counted,
        RefundStatus.SUCCEEDED,
        at,
        reason=reason,
        provider_refund_id=provider_refund_id,
    )
    payment = order.payment
    if counted.amount:
        payment = payment.refund(counted, charged(order))
    return replace(order, refunds=(*order.refunds, record), payment=payment)


def fully_refunded(order: Order) -> bool:
    return order.payment.status is PaymentStatus.REFUNDED
