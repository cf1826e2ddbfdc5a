"""Alipay's asynchronous notifications, verified with Alipay's public key by its SDK.

Alipay posts ``application/x-www-form-urlencoded`` fields signed RSA2 over the sorted others
(``AlipayProvider.verify``, python-alipay-sdk's ``verify``). Beyond the signature, a notification
is believed only for our ``app_id`` and within 5 minutes of its ``notify_time`` (Beijing time);
its ``notify_id`` is the event id replays are refused by. Alipay wants the plain text
``success`` back, or it sends the notification again (``REPLY``).

| fields                                           | notice                               |
|--------------------------------------------------|--------------------------------------|
| ``trade_status`` TRADE_SUCCESS / TRADE_FINISHED   | paid (``out_trade_no`` = our order)  |
| the same with ``refund_fee`` / ``out_biz_no``     | refunded (``out_biz_no`` = our       |
|                                                   | reference when we made the refund)   |
| ``TRADE_CLOSED`` without a refund                 | failed (the trade closed unpaid)     |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl

from commerce.domain.money import Money
from commerce.errors import FieldError, ValidationFailed
from commerce.payments.alipay_provider import AlipayProvider, epoch_of_beijing
from commerce.payments.provider import fen
from commerce.webhooks.notices import NoticeKind, PaymentNotice, ReportedRefund, dated
from commerce.webhooks.signatures import TOLERANCE_SECONDS, Rejection, SignatureInvalid

#: What Alipay expects as the body of a notification it need not send again.
REPLY: Final = "success"


def _fields(raw_body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as error:
        raise SignatureInvalid(Rejection.MALFORMED) from error
    return dict(pairs)


def _yuan(fields: Mapping[str, str], name: str) -> Money | None:
    value = fields.get(name)
    if not value:
        return None
    try:
        return Money(fen(value))
    except ValueError as error:
        raise ValidationFailed([FieldError(name, f"{name} is not an amount")]) from error


def verify(raw_body: bytes, provider: AlipayProvider, *, now: int) -> PaymentNotice:
    """The notification, if Alipay signed it for us just now; 401 or 400 otherwise."""
    fields = _fields(raw_body)
    if not fields.get("sign"):
        raise SignatureInvalid(Rejection.MISSING)
    if not provider.verify(fields) or fields.get("app_id") != provider.app_id:
        raise SignatureInvalid(Rejection.MISMATCH)
    try:
        sent = epoch_of_beijing(fields.get("notify_time", ""))
    except ValueError as error:
        raise SignatureInvalid(Rejection.MALFORMED) from error
    if abs(now - sent) > TOLERANCE_SECONDS:
        raise SignatureInvalid(Rejection.STALE)
    return read(fields)


#: The fields that date a notification, most specific first (``notify_time`` is always there).
_TIME_FIELDS: Final = ("gmt_refund", "gmt_payment", "gmt_close", "notify_time")


def read(fields: Mapping[str, str]) -> PaymentNotice:
    """The notice the fields carry, dated by the refund's, payment's or closing's time
    (Beijing time), else by ``notify_time``."""
    name = next((n for n in _TIME_FIELDS if fields.get(n)), None)
    at = None
    if name is not None:
        try:
            at = epoch_of_beijing(fields[name])
        except ValueError as error:
            raise ValidationFailed([FieldError(name, f"{name} is not a time")]) from error
    return dated(_read(fields), at, name or "notify_time")


def _read(fields: Mapping[str, str]) -> PaymentNotice:
    event_id = fields.get("notify_id", "")
    if not event_id:
        raise ValidationFailed([FieldError("notify_id", "notify_id is required")])
    order_id = fields.get("out_trade_no") or None
    trade_no = fields.get("trade_no") or None
    status = fields.get("trade_status", "")
    if fields.get("refund_fee") or fields.get("out_biz_no"):
        reference = fields.get("out_biz_no") or None
        refunded = _yuan(fields, "refund_fee")
        return PaymentNotice(
            event_id,
            NoticeKind.REFUNDED,
            order_id=order_id,
            charge_id=trade_no,
            refunds=(ReportedRefund(reference, f"{trade_no}:{reference or event_id}", None),),
            refunded_total=refunded,
        )
    if status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        return PaymentNotice(
            event_id,
            NoticeKind.PAID,
            order_id=order_id,
            charge_id=trade_no,
            amount=_yuan(fields, "total_amount"),
        )
    if status == "TRADE_CLOSED":
        return PaymentNotice(
            event_id, NoticeKind.FAILED, order_id=order_id, decline_code="trade_closed"
        )
    return PaymentNotice(event_id, NoticeKind.IGNORED, order_id=order_id)
