"""Alipay through its SDK (python-alipay-sdk, RSA2): the cashier page, trade queries, refunds.

- ``charge`` begins the payment: the signed ``alipay.trade.page.pay`` URL of the order
  (``out_trade_no`` = the order id, ``time_expire`` = when the order stops waiting for its
  payment, ``notify_url`` = our webhook) is the ``next_action`` the customer is redirected to.
  Building it calls nothing, and the trade is Alipay's by ``out_trade_no``, so a retry begins
  the same trade, never a second one.
- Alipay then posts its asynchronous notification (``commerce.webhooks.alipay``), signed with
  Alipay's key and verified here with Alipay's public key (``verify``).
- ``find_charge`` asks ``alipay.trade.query`` (reconciliation of a lost notification, and the
  payment timeout): paid is approved, waiting or unknown is None, closed is declined.
- ``refund`` is ``alipay.trade.refund`` with ``out_request_no`` = the refund's reference
  (``domain.refunds.refund_id_for(key)``), which Alipay itself treats as the refund's
  idempotency key.

Every request's ``timestamp`` is Beijing time from the one clock (``_BeijingTimedAliPay``): the
SDK would write the host's local time, which on Lambda is UTC.

``ALIPAY_GATEWAY_URL`` (empty: Alipay's production gateway) points the SDK elsewhere: the local
stack's provider edge, which answers in Alipay's documented shapes and signs like Alipay.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from commerce import clock
from commerce.domain.money import Money
from commerce.domain.orders import NextAction, NextActionType
from commerce.domain.refunds import refund_id_for
from commerce.payments.credentials import credentials
from commerce.payments.provider import (
    ChargeResult,
    ChargeStatus,
    PermanentProviderError,
    RefundResult,
    TransientProviderError,
    VoidResult,
    fen,
    yuan,
)
from commerce.settings import Settings

#: Alipay's times are Beijing time, written without a zone.
BEIJING: Final = timezone(timedelta(hours=8))
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
SUCCESS_CODE: Final = "10000"
PAID_STATUSES: Final = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
TIMEOUT_SECONDS: Final = 8


def beijing_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, BEIJING).strftime(TIME_FORMAT)


def epoch_of_beijing(text: str) -> int:
    """``"2026-12-07 08:00:00"`` (Beijing) as epoch seconds; ``ValueError`` if malformed."""
    return int(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING).timestamp())


@dataclass(frozen=True)
class AlipayKeys:
    """The app's id and RSA2 private key, and Alipay's public key (PEM)."""

    app_id: str
    app_private_key: str
    alipay_public_key: str

    @classmethod
    def load(cls) -> AlipayKeys:
        keys = credentials("alipay", ("app_id", "app_private_key", "alipay_public_key"))
        return cls(
            str(keys["app_id"]), str(keys["app_private_key"]), str(keys["alipay_public_key"])
        )


class _BeijingTimedAliPay(AliPay):  # type: ignore[misc]  # the SDK ships no types
    """The SDK stamps each request's ``timestamp`` with the host's local time, but Alipay reads
    it as Beijing time, and Lambda's clock is UTC: every request would claim to be eight hours
    old. The stamp is the one clock's now, written in Beijing time like ``time_expire``."""

    def build_body(
        self, method: str, biz_content: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = super().build_body(method, biz_content, **kwargs)
        body["timestamp"] = beijing_time(clock.now())
        return body


class AlipayProvider:
    """A ``PaymentProvider`` for Alipay's computer-website payments."""

    name: Final = "alipay"

    def __init__(self, keys: AlipayKeys, settings: Settings) -> None:
        self.app_id = keys.app_id
        self._client = _BeijingTimedAliPay(
            appid=keys.app_id,
            app_notify_url=None,
            app_private_key_string=keys.app_private_key,
            alipay_public_key_string=keys.alipay_public_key,
            sign_type="RSA2",
        )
        self._client._config.timeout = TIMEOUT_SECONDS
        if settings.alipay_gateway_url:
            self._client._gateway = settings.alipay_gateway_url
        self._notify_url = (
            f"{settings.payment_notify_base_url}/webhooks/payments/{self.name}"
            if settings.payment_notify_base_url
            else None
        )

    @property
    def gateway(self) -> str:
        return str(self._client._gateway)

    # --- charges ---------------------------------------------------------------------------

    def charge(
        self,
        order_id: str,
        amount: Money,
        token: str,
        idempotency_key: str,
        *,
        expires_at: int | None = None,
    ) -> ChargeResult:
        del token, idempotency_key  # the trade is Alipay's by out_trade_no (the order id)
        if amount.amount <= 0:
            raise PermanentProviderError("a charge is for a positive amount")
        if self._notify_url is None:
            raise PermanentProviderError("alipay: PAYMENT_NOTIFY_BASE_URL is not set")
        extra: dict[str, Any] = {}
        if expires_at is not None:
            extra["time_expire"] = beijing_time(expires_at)
        signed = self._client.api_alipay_trade_page_pay(
            subject=f"Order {order_id}",
            out_trade_no=order_id,
            total_amount=yuan(amount),
            notify_url=self._notify_url,
            **extra,
        )
        action = NextAction(NextActionType.REDIRECT, url=f"{self.gateway}?{signed}")
        return ChargeResult(ChargeStatus.ACTION_REQUIRED, order_id, amount, next_action=action)

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        del idempotency_key
        answer = self._server(lambda: self._client.api_alipay_trade_query(out_trade_no=order_id))
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise _refusal("trade.query", answer)
        status = str(answer.get("trade_status", ""))
        amount = Money(fen(str(answer.get("total_amount", "0"))))
        trade_no = str(answer.get("trade_no") or order_id)
        if status in PAID_STATUSES:
            return ChargeResult(ChargeStatus.APPROVED, trade_no, amount)
        if status == "TRADE_CLOSED":
            return ChargeResult(ChargeStatus.DECLINED, trade_no, amount, "trade_closed")
        return None  # WAIT_BUYER_PAY: nothing taken yet

    # --- refunds ---------------------------------------------------------------------------

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        if amount.amount <= 0:
            raise PermanentProviderError("a refund is a positive amount")
        reference = refund_id_for(idempotency_key)
        answer = self._server(
            lambda: self._client.api_alipay_trade_refund(
                refund_amount=yuan(amount), trade_no=charge_id, out_request_no=reference
            )
        )
        if answer.get("code") != SUCCESS_CODE:
            raise _refusal("trade.refund", answer)
        total = fen(str(answer.get("refund_fee") or yuan(amount)))
        return RefundResult(
            refund_id=reference,
            charge_id=charge_id,
            amount=amount,
            refunded_total=Money(total, amount.currency),
        )

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult:
        del idempotency_key
        answer = self._server(lambda: self._client.api_alipay_trade_close(trade_no=charge_id))
        if answer.get("code") != SUCCESS_CODE:
            raise _refusal("trade.close", answer)
        return VoidResult(charge_id)

    # --- notifications ---------------------------------------------------------------------

    def verify(self, fields: Mapping[str, str]) -> bool:
        """Whether an asynchronous notification's fields carry Alipay's RSA2 signature over
        the others (``sign`` and ``sign_type`` excluded, as Alipay signs)."""
        data = dict(fields)
        signature = data.pop("sign", "")
        if not signature or data.get("sign_type", "RSA2") != "RSA2":
            return False
        try:
            return bool(self._client.verify(data, signature))
        except (AliPayException, ValueError, TypeError):
            return False

    @staticmethod
    def _server(call: Any) -> dict[str, Any]:
        try:
            answer = call()
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            raise TransientProviderError(f"alipay: {type(error).__name__}") from error
        except AliPayValidationError as error:
            raise TransientProviderError("alipay: the answer's signature did not verify") from error
        except AliPayException as error:
            raise PermanentProviderError(f"alipay: code {error.code}") from error
        return dict(answer)


def _refusal(api: str, answer: Mapping[str, Any]) -> Exception:
    code = str(answer.get("code", ""))
    reason = f"alipay {api}: {code} {answer.get('sub_code', '')}".strip()
    if code in ("20000", "40004") and str(answer.get("sub_code", "")).endswith("SYSTEM_ERROR"):
        return TransientProviderError(reason)
    if code == "20000":  # service unavailable
        return TransientProviderError(reason)
    return PermanentProviderError(reason)


def now_beijing() -> str:
    return datetime.now(UTC).astimezone(BEIJING).strftime(TIME_FORMAT)
