"""What a payment provider's verified notification says, whichever provider sent it.

Each provider signs and shapes its notifications its own way (``webhooks.stripe``,
``webhooks.alipay``, ``webhooks.wechat_pay``); once verified, each is read into one
``PaymentNotice`` that the webhook use case applies the same way: paid settles the order as an
approval, failed as a decline, refunded lists the refunds on the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from commerce.domain.money import Money


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
