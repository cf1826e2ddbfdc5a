"""WeChat Pay's callbacks, verified and decrypted by its SDK (wechatpayv3).

The SDK checks the ``Wechatpay-Signature`` header (RSA-SHA256 by the platform certificate named
in ``Wechatpay-Serial``, over the timestamp, nonce and exact body) and decrypts the resource
with the APIv3 key (AEAD_AES_256_GCM): a callback that fails either is not believed. We also
refuse a ``Wechatpay-Timestamp`` more than 5 minutes off; the callback's ``id`` is the event
id replays are refused by. WeChat Pay takes a 2xx as received.

| ``event_type``          | notice                                                        |
|-------------------------|---------------------------------------------------------------|
| ``TRANSACTION.SUCCESS`` | paid (``out_trade_no`` = our order, ``transaction_id``)       |
| ``REFUND.SUCCESS``      | refunded (``out_refund_no`` = our reference if we made it)    |
| anything else           | ignored                                                       |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from commerce.domain.money import Money
from commerce.errors import FieldError, ValidationFailed
from commerce.payments.wechat_pay_provider import WechatPayProvider
from commerce.webhooks.notices import NoticeKind, PaymentNotice, ReportedRefund, dated
from commerce.webhooks.signatures import TOLERANCE_SECONDS, Rejection, SignatureInvalid
from commerce.webhooks.stripe import header

HEADERS: Final = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)


def verify(
    raw_body: bytes, headers: Mapping[str, str], provider: WechatPayProvider, *, now: int
) -> PaymentNotice:
    """The callback, if WeChat Pay signed it just now and it decrypts; 401 or 400 otherwise."""
    canonical = {name: header(headers, name) or "" for name in HEADERS}
    if not canonical["Wechatpay-Signature"]:
        raise SignatureInvalid(Rejection.MISSING)
    timestamp = canonical["Wechatpay-Timestamp"]
    if not timestamp.isdigit():
        raise SignatureInvalid(Rejection.MALFORMED)
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureInvalid(Rejection.STALE)
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SignatureInvalid(Rejection.MALFORMED) from error
    result = provider.callback(canonical, text)
    if result is None:
        raise SignatureInvalid(Rejection.MISMATCH)
    return read(result)


def _amount(resource: Mapping[str, Any], field: str) -> Money | None:
    amount = resource.get("amount")
    if not isinstance(amount, dict) or not isinstance(amount.get(field), int):
        return None
    return Money(int(amount[field]), str(amount.get("currency") or "CNY"))


def _rfc3339(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationFailed([FieldError(name, f"{name} is not an RFC 3339 time")])
    return int(parsed.timestamp())


def read(callback: Mapping[str, Any]) -> PaymentNotice:
    """The notice a decrypted callback carries, dated by the resource's ``success_time``,
    else by the callback's ``create_time``."""
    notice = _read(callback)
    resource = callback.get("resource")
    success = resource.get("success_time") if isinstance(resource, dict) else None
    if success:
        return dated(notice, _rfc3339(success, "success_time"), "success_time")
    return dated(notice, _rfc3339(callback.get("create_time"), "create_time"), "create_time")


def _read(callback: Mapping[str, Any]) -> PaymentNotice:
    event_id = str(callback.get("id") or "")
    if not event_id:
        raise ValidationFailed([FieldError("id", "id is required")])
    resource = callback.get("resource")
    if not isinstance(resource, dict):
        raise ValidationFailed([FieldError("resource", "resource is required")])
    kind = str(callback.get("event_type") or "")
    order_id = resource.get("out_trade_no") or None
    transaction = resource.get("transaction_id") or None
    if kind == "TRANSACTION.SUCCESS" and resource.get("trade_state", "SUCCESS") == "SUCCESS":
        return PaymentNotice(
            event_id,
            NoticeKind.PAID,
            order_id=order_id,
            charge_id=transaction,
            amount=_amount(resource, "total"),
        )
    if kind == "REFUND.SUCCESS":
        refund = ReportedRefund(
            reference=resource.get("out_refund_no") or None,
            provider_refund_id=str(resource.get("refund_id") or event_id),
            amount=_amount(resource, "refund"),
        )
        return PaymentNotice(
            event_id,
            NoticeKind.REFUNDED,
            order_id=order_id,
            charge_id=transaction,
            refunds=(refund,),
        )
    return PaymentNotice(event_id, NoticeKind.IGNORED, order_id=order_id)
