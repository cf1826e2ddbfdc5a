"""Orders and returns as clients see them (API.md shapes; charge ids and tokens stay inside)."""

from __future__ import annotations

from commerce.clock import iso
from commerce.domain.orders import Payment, RefundRecord
from commerce.http.schemas import address_out, money_out, totals_out
from commerce.orders.schemas import (
    HistoryEntryOut,
    NextActionOut,
    OrderLineOut,
    OrderOut,
    PaymentOut,
    RefundOut,
    ReturnLineOut,
    ReturnOut,
    ShipmentOut,
    TrackingEventOut,
)
from commerce.store.orders import StoredOrder, StoredReturn


def order_view(stored: StoredOrder, *, private: bool) -> OrderOut:
    """The order; ``private`` (staff, the signed-in owner) adds ``created_at`` and ``email``."""
    order = stored.order
    shipment = (
        ShipmentOut(carrier=stored.carrier, tracking_number=stored.tracking_number)
        if stored.carrier and stored.tracking_number
        else None
    )
    return OrderOut(
        order_id=order.order_id,
        status=order.status.value,
        lines=[
            OrderLineOut(
                sku=line.sku, quantity=line.quantity, unit_price=money_out(line.unit_price)
            )
            for line in order.lines
        ],
        totals=totals_out(order.totals),
        payment=payment_view(order.payment),
        shipping_address=address_out(order.shipping_address),
        history=[HistoryEntryOut(status=e.status.value, at=iso(e.at)) for e in order.history],
        refunds=[refund_view(refund) for refund in order.refunds],
        created_at=iso(order.created_at) if private else None,
        email=order.email if private else None,
        shipment=shipment,
        tracking=[TrackingEventOut.model_validate(e.to_dict()) for e in stored.tracking],
    )


def payment_view(payment: Payment) -> PaymentOut:
    action = payment.next_action
    return PaymentOut(
        status=payment.status.value,
        method=payment.method,
        next_action=(
            NextActionOut(type=action.type.value, url=action.url, code_url=action.code_url)
            if action is not None
            else None
        ),
    )


def refund_view(refund: RefundRecord) -> RefundOut:
    return RefundOut(
        refund_id=refund.refund_id,
        amount=money_out(refund.amount),
        status=refund.status.value,
        at=iso(refund.at),
    )


def return_view(stored: StoredReturn) -> ReturnOut:
    value = stored.value
    return ReturnOut(
        return_id=value.return_id,
        order_id=stored.order_id,
        status=stored.status,
        lines=[ReturnLineOut(sku=line.sku, quantity=line.quantity) for line in value.lines],
        reason=value.reason,
        refund=money_out(value.refund),
    )
