"""What a payment provider's verified notification says, whichever provider sent it.

Each provider signs and shapes its notifications its own way (``webhooks.stripe``,
``webhooks.alipay``, ``webhooks.wechat_pay``); once verified, each is read into one
``PaymentNotice`` that the webhook use case applies the same way: paid settles the order as an
approval, failed as a decline, refunded lists the refunds on the order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from commerce.domain.event_times import check_time, payment_not_before, refund_not_before
from commerce.domain.money import Money
from commerce.domain.orders import Order


class NoticeKind(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    IGNORED = "ignored"


@dataclass(frozen=True)
class ReportedRefund:
    """One refund the provider reports: our reference if we made it, the provider's own id,
    and its amount (None: the provider reports only the charge's refunded total)."""

    reference: str | None
    provider_refund_id: str
    amount: Money | None = None


@dataclass(frozen=True)
class PaymentNotice:
    """A verified notification: its id (replays are refused by it) and what it reports."""

    event_id: str
    kind: NoticeKind
    order_id: str | None = None
    charge_id: str | None = None
    amount: Money | None = None
    decline_code: str | None = None
    refunds: tuple[ReportedRefund, ...] = ()
    #: The charge's refunded total, for providers that report only that (Alipay).
    refunded_total: Money | None = None
    #: When the provider says it happened (epoch s): the payment's or the refund's time where
    #: the notification has one, else when it was sent. Held to ``domain.event_times``.
    at: int | None = None
    #: The notification's field ``at`` was read from, to name it when it is refused.
    at_field: str = "at"


def dated(notice: PaymentNotice, at: int | None, field: str) -> PaymentNotice:
    """``notice`` with the time its provider gives it, read from ``field``."""
    return replace(notice, at=at, at_field=field)


def check_notice_time(notice: PaymentNotice, order: Order, now: int) -> None:
    """400 when the notice's time is too far ahead, or before the step it follows."""
    if notice.at is None:
        return
    refund = notice.kind is NoticeKind.REFUNDED
    check_time(
        notice.at,
        now=now,
        not_before=refund_not_before(order) if refund else payment_not_before(order),
        step="PAID" if refund else "placing",
        field=notice.at_field,
    )
