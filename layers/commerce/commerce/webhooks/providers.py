"""Payment providers' own notifications: verified by each provider's library, applied alike.

``verified`` believes a notification only as its provider signs it (``webhooks.stripe``,
``webhooks.alipay``, ``webhooks.wechat_pay``) and reads it into a ``PaymentNotice``; a provider
that is not configured here is an unknown sender (404). ``action`` checks what the notice names
before anything is remembered (an order id of the right shape), and applies it once the event
id is recorded (``service._once``):

- **paid**: the order must exist (404), be paid through this provider, and the amount must be
  its total (409 otherwise, and nothing changes); then ``settlement.approve`` (PENDING_PAYMENT
  -> PAID with its stock deducted; a cancelled order gets the payment refunded automatically).
- **failed**: ``settlement.decline`` (a pending order fails and its stock is released).
- **refunded**: each refund is listed on the order once (``orders.refunds``), whether we made
  it (the notification names our reference) or it was made in the provider's dashboard.

A notice dated more than five minutes ahead of our clock, or before the order's previous step
(a payment before the order was placed, a refund before it was paid), is 400 and changes
nothing (``domain.event_times``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from commerce.domain.money import Money
from commerce.errors import Conflict, FieldError, NotFound, ValidationFailed
from commerce.payments import factory
from commerce.payments.factory import ProviderConfigurationError
from commerce.payments.provider import PermanentProviderError
from commerce.webhooks.notices import NoticeKind, PaymentNotice, check_notice_time

_ORDER_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
Action = Callable[[int], dict[str, Any]]


def _configured(method: str) -> Any:
    try:
        return factory.provider_for(method)
    except ProviderConfigurationError as error:
        raise NotFound("No such webhook sender") from error


def verified(name: str, raw_body: bytes, headers: Mapping[str, str], *, now: int) -> PaymentNotice:
    """The notice of a notification its provider signed; 404, 401 or 400 otherwise."""
    if name == "stripe":
        from commerce.webhooks import stripe

        secret = stripe.signing_secret()
        if secret is None:
            raise NotFound("No such webhook sender")
        return stripe.verify(raw_body, headers, secret)
    if name == "alipay":
        from commerce.payments.alipay_provider import AlipayProvider
        from commerce.webhooks import alipay

        provider = _configured("alipay")
        if not isinstance(provider, AlipayProvider):
            raise NotFound("No such webhook sender")
        return alipay.verify(raw_body, provider, now=now)
    if name == "wechat_pay":
        from commerce.payments.wechat_pay_provider import WechatPayProvider
        from commerce.webhooks import wechat_pay

        provider = _configured("wechat_pay")
        if not isinstance(provider, WechatPayProvider):
            raise NotFound("No such webhook sender")
        return wechat_pay.verify(raw_body, headers, provider, now=now)
    raise NotFound("No such webhook sender")


def _order_id(notice: PaymentNotice) -> str | None:
    if notice.order_id is not None and not _ORDER_ID_RE.fullmatch(notice.order_id):
        raise ValidationFailed([FieldError("order_id", "not an order id of ours")])
    return notice.order_id


def action(name: str, notice: PaymentNotice) -> Action:
    """What applying ``notice`` does, checked as far as it can be before it is remembered."""
    if notice.kind is NoticeKind.IGNORED:
        return lambda now: {"result": "ignored"}
    order_id = _order_id(notice)
    if order_id is None and notice.kind is not NoticeKind.REFUNDED:
        raise ValidationFailed([FieldError("order_id", "the notification names no order")])

    def apply(now: int) -> dict[str, Any]:
        target = order_id or _order_of_charge(name, notice.charge_id)
        if notice.kind is NoticeKind.REFUNDED:
            return {"order_id": target, "result": _refunded(target, notice, now)}
        return {"order_id": target, "result": _settle(name, target, notice, now)}

    return apply


def _order_of_charge(name: str, charge_id: str | None) -> str:
    """The order a refund notification's charge belongs to (Stripe names only the
    PaymentIntent: its metadata names the order)."""
    from commerce.payments.stripe_provider import StripeProvider

    provider = factory.provider()
    if name != "stripe" or not charge_id or not isinstance(provider, StripeProvider):
        raise NotFound("No such order")
    found = provider.order_of(charge_id)
    if found is None:
        raise NotFound("No such order")
    return found


def _settle(name: str, order_id: str, notice: PaymentNotice, now: int) -> str:
    from commerce.orders import settlement
    from commerce.store.orders import load_order

    stored = load_order(order_id)
    if stored is None:
        raise NotFound("No such order")
    check_notice_time(notice, stored.order, now)
    method = stored.order.payment.method
    if factory.sender_of(method) != name:
        raise Conflict(f"This order is not paid through {name}")
    if notice.kind is NoticeKind.FAILED:
        return settlement.decline(stored, notice.decline_code, now=now).result.value
    total = stored.order.totals.total
    if notice.amount is not None and notice.amount != total:
        raise Conflict("The notified amount is not the order's total")
    if not notice.charge_id:
        raise ValidationFailed([FieldError("charge_id", "the notification names no payment")])
    try:
        outcome = settlement.approve(
            stored,
            notice.charge_id,
            total,
            provider=factory.provider_for(method),
            now=now,
        )
    except PermanentProviderError as error:
        raise Conflict(f"The payment provider refused: {error.reason}") from error
    return outcome.result.value


def _refunded(order_id: str, notice: PaymentNotice, now: int) -> str:
    from commerce.orders.refunds import record_provider_refund
    from commerce.store.orders import load_order

    stored = load_order(order_id)
    if stored is None:
        raise NotFound("No such order")
    check_notice_time(notice, stored.order, now)
    results = []
    for refund in notice.refunds:
        amount = refund.amount
        if amount is None and notice.refunded_total is not None:
            # Alipay reports the charge's refunded total: this refund is what it adds.
            left = notice.refunded_total.amount - stored.order.payment.refunded.amount
            amount = Money(left) if left > 0 else None
        results.append(
            record_provider_refund(
                order_id,
                reference=refund.reference,
                provider_refund_id=refund.provider_refund_id,
                amount=amount,
                at=now,
            )
        )
    if "recorded" in results:
        return "recorded"
    return results[0] if results else "noted"
