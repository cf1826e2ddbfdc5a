"""WeChat Pay through its SDK (wechatpayv3, API v3): Native QR codes, queries, refunds.

- ``charge`` places the Native order (``out_trade_no`` = the order id, ``time_expire`` = when the
  order stops waiting, ``notify_url`` = our webhook); its ``code_url`` is the ``next_action`` the
  customer scans. WeChat Pay keeps one transaction per ``out_trade_no``, so a retry gets the
  same code, never a second transaction; an order already paid answers ``ORDERPAID``, after
  which the query tells the charge.
- The callback (``commerce.webhooks.wechat_pay``) is verified against WeChat Pay's platform
  certificate and its resource decrypted with the APIv3 key, both by the SDK (``callback``).
- ``find_charge`` queries the transaction by ``out_trade_no``; ``refund`` posts
  ``out_refund_no`` = the refund's reference (``domain.refunds.refund_id_for(key)``), which WeChat
  Pay treats as the refund's idempotency key.

Every answer the SDK receives is signature-checked by the SDK against the platform
certificate. The certificates come with the keys (``platform_certificates``) and are written,
once per process, to a private directory the SDK reads (its ``cert_dir``), so starting needs no
call to WeChat Pay. ``WECHATPAY_API_BASE`` (empty: WeChat Pay's API) points the SDK at the local
stack's provider edge, which answers in WeChat Pay's documented shapes and signs like it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

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
)
from commerce.settings import Settings

BEIJING: Final = timezone(timedelta(hours=8))
#: (connect, read) seconds before a call counts as a transient failure.
TIMEOUT: Final = (3, 8)
PAID_STATES: Final = frozenset({"SUCCESS", "REFUND"})
FAILED_STATES: Final = frozenset({"CLOSED", "REVOKED", "PAYERROR"})


def rfc3339(epoch: int) -> str:
    """WeChat Pay's time format: ``2026-12-07T08:00:00+08:00``."""
    return datetime.fromtimestamp(epoch, BEIJING).isoformat(timespec="seconds")


@dataclass(frozen=True)
class WechatPayKeys:
    """The merchant's ids and keys, and WeChat Pay's platform certificates (PEM)."""

    mchid: str
    appid: str
    private_key: str
    cert_serial_no: str
    apiv3_key: str
    platform_certificates: tuple[str, ...]

    @classmethod
    def load(cls) -> WechatPayKeys:
        keys = credentials(
            "wechat_pay",
            (
                "mchid",
                "appid",
                "private_key",
                "cert_serial_no",
                "apiv3_key",
                "platform_certificates",
            ),
        )
        certificates = keys["platform_certificates"]
        if isinstance(certificates, str):
            certificates = [certificates]
        return cls(
            mchid=str(keys["mchid"]),
            appid=str(keys["appid"]),
            private_key=str(keys["private_key"]),
            cert_serial_no=str(keys["cert_serial_no"]),
            apiv3_key=str(keys["apiv3_key"]),
            platform_certificates=tuple(str(c) for c in certificates),
        )


def _certificate_dir(certificates: tuple[str, ...]) -> str:
    """A fresh private directory holding the platform certificates, as the SDK reads them."""
    directory = Path(tempfile.mkdtemp(prefix="wechatpay-certs-"))
    for number, pem in enumerate(certificates):
        (directory / f"platform-{number}.pem").write_text(pem, encoding="utf-8")
    return str(directory)


class WechatPayProvider:
    """A ``PaymentProvider`` for WeChat Pay's Native (QR code) payments."""

    name: Final = "wechat_pay"

    def __init__(self, keys: WechatPayKeys, settings: Settings) -> None:
        notify = settings.payment_notify_base_url
        self._notify_url = f"{notify}/webhooks/payments/{self.name}" if notify else None
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=keys.mchid,
            private_key=keys.private_key,
            cert_serial_no=keys.cert_serial_no,
            appid=keys.appid,
            apiv3_key=keys.apiv3_key,
            notify_url=self._notify_url,
            cert_dir=_certificate_dir(keys.platform_certificates),
            timeout=TIMEOUT,
        )
        if settings.wechatpay_api_base:
            self._client._core._gate_way = settings.wechatpay_api_base.rstrip("/")

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
        del token, idempotency_key  # the transaction is WeChat Pay's by out_trade_no
        if amount.amount <= 0:
            raise PermanentProviderError("a charge is for a positive amount")
        if self._notify_url is None:
            raise PermanentProviderError("wechat_pay: PAYMENT_NOTIFY_BASE_URL is not set")
        code, body = self._request(
            lambda: self._client.pay(
                description=f"Order {order_id}",
                out_trade_no=order_id,
                amount={"total": amount.amount, "currency": amount.currency},
                time_expire=rfc3339(expires_at) if expires_at is not None else None,
            )
        )
        if code == 200 and body.get("code_url"):
            action = NextAction(NextActionType.QR_CODE, code_url=str(body["code_url"]))
            return ChargeResult(ChargeStatus.ACTION_REQUIRED, order_id, amount, next_action=action)
        if body.get("code") == "ORDERPAID":
            paid = self.find_charge(order_id, "")
            if paid is not None:
                return paid
        raise _refusal("pay", code, body)

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        del idempotency_key
        code, body = self._request(lambda: self._client.query(out_trade_no=order_id))
        if code == 404 or body.get("code") == "ORDER_NOT_EXIST":
            return None
        if code != 200:
            raise _refusal("query", code, body)
        state = str(body.get("trade_state", ""))
        total = int((body.get("amount") or {}).get("total") or 0)
        currency = str((body.get("amount") or {}).get("currency") or "CNY")
        transaction = str(body.get("transaction_id") or order_id)
        if state in PAID_STATES:
            return ChargeResult(ChargeStatus.APPROVED, transaction, Money(total, currency))
        if state in FAILED_STATES:
            return ChargeResult(
                ChargeStatus.DECLINED, transaction, Money(total, currency), state.lower()
            )
        return None  # NOTPAY, USERPAYING: nothing taken yet

    # --- refunds ---------------------------------------------------------------------------

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        if amount.amount <= 0:
            raise PermanentProviderError("a refund is a positive amount")
        code, paid = self._request(lambda: self._client.query(transaction_id=charge_id))
        if code != 200:
            raise _refusal("query", code, paid)
        total = int((paid.get("amount") or {}).get("total") or 0)
        reference = refund_id_for(idempotency_key)
        code, body = self._request(
            lambda: self._client.refund(
                out_refund_no=reference,
                amount={"refund": amount.amount, "total": total, "currency": amount.currency},
                transaction_id=charge_id,
            )
        )
        if code != 200:
            raise _refusal("refund", code, body)
        if body.get("status") in ("CLOSED", "ABNORMAL"):
            raise PermanentProviderError(f"wechat_pay refund: {body.get('status')}")
        refunded = int((body.get("amount") or {}).get("refund") or amount.amount)
        return RefundResult(
            refund_id=reference,
            charge_id=charge_id,
            amount=Money(refunded, amount.currency),
            refunded_total=Money(refunded, amount.currency),
        )

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult:
        del idempotency_key
        code, body = self._request(lambda: self._client.close(out_trade_no=charge_id))
        if code not in (200, 204):
            raise _refusal("close", code, body)
        return VoidResult(charge_id)

    # --- notifications ---------------------------------------------------------------------

    def callback(self, headers: Mapping[str, str], body: str) -> dict[str, Any] | None:
        """The callback with its resource decrypted, if WeChat Pay's signature verifies over
        the body and the resource decrypts under the APIv3 key; None otherwise."""
        try:
            result = self._client.callback(dict(headers), body)
        except Exception:  # the SDK raises bare Exception on an unknown scheme or algorithm
            return None
        return result if isinstance(result, dict) else None

    @staticmethod
    def _request(call: Any) -> tuple[int, dict[str, Any]]:
        try:
            code, message = call()
        except requests.RequestException as error:
            raise TransientProviderError(f"wechat_pay: {type(error).__name__}") from error
        except Exception as error:  # the SDK's answer-signature check raises bare Exception
            raise TransientProviderError("wechat_pay: the answer did not verify") from error
        try:
            body = json.loads(message) if message else {}
        except (TypeError, ValueError):
            body = {}
        return int(code), body if isinstance(body, dict) else {}


def _refusal(api: str, code: int, body: Mapping[str, Any]) -> Exception:
    reason = f"wechat_pay {api}: HTTP {code} {body.get('code', '')}".strip()
    if code >= 500 or code == 429 or body.get("code") in ("SYSTEM_ERROR", "FREQUENCY_LIMITED"):
        return TransientProviderError(reason)
    return PermanentProviderError(reason)
