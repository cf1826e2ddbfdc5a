"""The payment providers' edge, played locally: Alipay's gateway and WeChat Pay's API v3.

Alipay and WeChat Pay have no local server, so the local stack (and the tests) stand one up at
their edge, speaking their documented protocols with keys generated at start (never committed):

- **Alipay** (``/alipay/gateway.do``): ``alipay.trade.page.pay`` (the customer's cashier page),
  ``alipay.trade.query``, ``alipay.trade.refund`` (idempotent by ``out_request_no``) and
  ``alipay.trade.close``. Each request's RSA2 signature is verified with the app's public key;
  each answer is ``{"<method>_response": {...}, "sign": ...}`` signed with "Alipay's" key.
- **WeChat Pay** (``/wechatpay/v3/...``): Native orders (one per ``out_trade_no``), queries by
  ``out_trade_no`` or ``transaction_id``, close, refunds (idempotent by ``out_refund_no``) and
  the platform certificates. Each request's ``Authorization`` (WECHATPAY2-SHA256-RSA2048) is
  verified with the merchant's public key; each answer carries the ``Wechatpay-*`` signature
  headers of the platform key, whose self-signed certificate the merchant holds.

``notification`` builds what the provider would post to our webhook when a customer pays, a
payment fails or a refund is made at the provider: Alipay's RSA2-signed form, WeChat Pay's
signed callback with its resource encrypted under the APIv3 key (AEAD_AES_256_GCM). The
webhook verifies them with the production code (the SDKs), so the asynchronous path is the real
one end to end. ``credentials`` is the JSON the functions get as their provider keys, exactly the
shape of the Secrets Manager secret on AWS (``commerce/payments/credentials.py``).

Stripe is not played here: localstripe is (``infra/local/localstripe.py``); only the signing
secret of its webhook endpoint is generated here.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from commerce.domain.money import Money
from commerce.payments.provider import fen, yuan
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

BEIJING = dt.timezone(dt.timedelta(hours=8))
ALIPAY_PATH = "/alipay/gateway.do"
WECHAT_PREFIX = "/wechatpay"


# --- keys ----------------------------------------------------------------------------------------


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _certificate(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """A self-signed certificate, valid from yesterday for a year (WeChat Pay's platform)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def _sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _verifies(key: rsa.RSAPrivateKey, message: str, signature: str) -> bool:
    try:
        key.public_key().verify(
            base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class EdgeKeys:
    """Every key of the local providers, made fresh at start."""

    alipay_app_id: str = "2021000000000001"
    alipay_app_key: rsa.RSAPrivateKey = field(default_factory=_private_key)
    alipay_key: rsa.RSAPrivateKey = field(default_factory=_private_key)
    wechat_mchid: str = "1900000001"
    wechat_appid: str = "wx0000000000000001"
    wechat_merchant_key: rsa.RSAPrivateKey = field(default_factory=_private_key)
    wechat_merchant_serial: str = field(default_factory=lambda: secrets.token_hex(20).upper())
    wechat_platform_key: rsa.RSAPrivateKey = field(default_factory=_private_key)
    wechat_apiv3_key: str = field(default_factory=lambda: secrets.token_hex(16))
    stripe_api_key: str = "sk_test_local"
    stripe_webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(24))
    wechat_platform_cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.wechat_platform_cert = _certificate(self.wechat_platform_key, "Local WeChat Pay")

    @property
    def wechat_platform_serial(self) -> str:
        return format(self.wechat_platform_cert.serial_number, "X")

    def credentials(self) -> dict[str, Any]:
        """What the merchant holds, in the shape of the Secrets Manager secret."""
        certificate = self.wechat_platform_cert.public_bytes(serialization.Encoding.PEM).decode()
        return {
            "stripe": {
                "api_key": self.stripe_api_key,
                "webhook_secret": self.stripe_webhook_secret,
            },
            "alipay": {
                "app_id": self.alipay_app_id,
                "app_private_key": _pem(self.alipay_app_key),
                "alipay_public_key": _public_pem(self.alipay_key),
            },
            "wechat_pay": {
                "mchid": self.wechat_mchid,
                "appid": self.wechat_appid,
                "private_key": _pem(self.wechat_merchant_key),
                "cert_serial_no": self.wechat_merchant_serial,
                "apiv3_key": self.wechat_apiv3_key,
                "platform_certificates": [certificate],
            },
        }


# --- the providers' state -------------------------------------------------------------------


@dataclass
class Trade:
    """One payment at a provider, by the merchant's ``out_trade_no`` (our order id)."""

    provider: str
    out_trade_no: str
    total: int
    trade_no: str
    status: str
    refunds: dict[str, int] = field(default_factory=dict)
    refund_ids: dict[str, str] = field(default_factory=dict)

    @property
    def refunded(self) -> int:
        return sum(self.refunds.values())


def _yuan(amount: int) -> str:
    return yuan(Money(amount))


def _beijing_now() -> str:
    return dt.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class ProviderEdge:
    """Alipay's gateway and WeChat Pay's API as one WSGI application, with their state."""

    def __init__(self, keys: EdgeKeys | None = None) -> None:
        self.keys = keys or EdgeKeys()
        self.trades: dict[tuple[str, str], Trade] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    # -- the shared state ------------------------------------------------------------------------

    def trade(self, provider: str, out_trade_no: str) -> Trade | None:
        with self._lock:
            return self.trades.get((provider, out_trade_no))

    def _open(self, provider: str, out_trade_no: str, total: int) -> Trade:
        with self._lock:
            found = self.trades.get((provider, out_trade_no))
            if found is None:
                prefix = "2026" if provider == "alipay" else "4200"
                trade_no = prefix + uuid.uuid4().hex[:24]
                found = Trade(provider, out_trade_no, total, trade_no, "WAIT")
                self.trades[(provider, out_trade_no)] = found
            return found

    def pay(self, provider: str, out_trade_no: str, total: int) -> Trade:
        """The customer paid (the cashier page, the QR code)."""
        trade = self._open(provider, out_trade_no, total)
        with self._lock:
            if trade.status == "WAIT":
                trade.status = "PAID"
        return trade

    def close(self, provider: str, out_trade_no: str, total: int) -> Trade:
        """The payment failed or expired: the trade is closed unpaid."""
        trade = self._open(provider, out_trade_no, total)
        with self._lock:
            if trade.status == "WAIT":
                trade.status = "CLOSED"
        return trade

    def refund(self, trade: Trade, request_no: str, amount: int) -> tuple[int, str] | str:
        """Refund ``amount`` under ``request_no`` once; (refunded total, refund id) or why not."""
        with self._lock:
            if request_no in trade.refunds:
                if trade.refunds[request_no] != amount:
                    return "the same request number was used with another amount"
                return trade.refunded, trade.refund_ids[request_no]
            if trade.status != "PAID":
                return "the trade is not paid"
            if trade.refunded + amount > trade.total:
                return "the refund exceeds what was paid"
            trade.refunds[request_no] = amount
            trade.refund_ids[request_no] = "50" + uuid.uuid4().hex[:28]
            return trade.refunded, trade.refund_ids[request_no]

    # -- HTTP ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == ALIPAY_PATH:
            response = self._alipay(request)
        elif request.path.startswith(WECHAT_PREFIX + "/v3/"):
            response = self._wechat(request)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    # -- Alipay ----------------------------------------------------------------------------------

    def _alipay(self, request: Request) -> Response:
        params = dict(parse_qsl(request.query_string.decode(), keep_blank_values=True))
        signature = params.pop("sign", "")
        signed = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        method = params.get("method", "")
        self.requests.append(("alipay", method))
        if not _verifies(self.keys.alipay_app_key, signed, signature):
            return self._alipay_answer(
                method,
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        biz = json.loads(params.get("biz_content") or "{}")
        if method == "alipay.trade.page.pay":
            trade = self._open("alipay", biz["out_trade_no"], fen(biz["total_amount"]))
            page = (
                f"<h1>Local Alipay cashier</h1><p>Order {trade.out_trade_no}: "
                f"{biz['total_amount']} CNY. Pay with POST /_local/payments/{trade.out_trade_no}."
                "</p>"
            )
            return Response(page, content_type="text/html; charset=utf-8")
        trade = self.trade("alipay", biz.get("out_trade_no") or "") or next(
            (t for t in self.trades.values() if t.trade_no == biz.get("trade_no")), None
        )
        if trade is None:
            return self._alipay_answer(
                method,
                {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"},
            )
        if method == "alipay.trade.query":
            status = {"WAIT": "WAIT_BUYER_PAY", "PAID": "TRADE_SUCCESS", "CLOSED": "TRADE_CLOSED"}
            body = {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "trade_status": status[trade.status],
                "total_amount": _yuan(trade.total),
            }
            return self._alipay_answer(method, body)
        if method == "alipay.trade.refund":
            outcome = self.refund(trade, biz["out_request_no"], fen(biz["refund_amount"]))
            if isinstance(outcome, str):
                return self._alipay_answer(
                    method,
                    {"code": "40004", "msg": outcome, "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"},
                )
            body = {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "fund_change": "Y",
                "refund_fee": _yuan(outcome[0]),
            }
            return self._alipay_answer(method, body)
        if method == "alipay.trade.close":
            self.close("alipay", trade.out_trade_no, trade.total)
            return self._alipay_answer(method, {"code": "10000", "msg": "Success"})
        return self._alipay_answer(method, {"code": "40004", "msg": "Unknown method"})

    def _alipay_answer(self, method: str, body: dict[str, Any]) -> Response:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        name = method.replace(".", "_") + "_response"
        sign = _sign(self.keys.alipay_key, content)
        text = f'{{"{name}":{content},"sign":"{sign}"}}'
        return Response(text, content_type="application/json; charset=utf-8")

    def alipay_notification(
        self,
        trade: Trade,
        kind: str,
        *,
        notify_time: str | None = None,
        happened_at: str | None = None,
    ) -> bytes:
        """The form Alipay posts for a payment (``paid``), a closed trade (``failed``) or a
        refund (``refunded``: the last one made), signed RSA2 with Alipay's key. The payment's
        or refund's time (``gmt_payment``, ``gmt_refund``) is now unless ``happened_at``
        (Beijing time, ``YYYY-MM-DD HH:MM:SS``) says otherwise."""
        fields = {
            "notify_time": notify_time or _beijing_now(),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "app_id": self.keys.alipay_app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "total_amount": _yuan(trade.total),
            "trade_status": "TRADE_SUCCESS" if kind == "paid" else "TRADE_CLOSED",
        }
        if kind == "paid":
            fields["gmt_payment"] = happened_at or _beijing_now()
        if kind == "refunded":
            request_no = next(reversed(trade.refunds))
            fields["out_biz_no"] = request_no
            fields["refund_fee"] = _yuan(trade.refunded)
            fields["gmt_refund"] = happened_at or _beijing_now()
            if trade.refunded < trade.total:
                fields["trade_status"] = "TRADE_SUCCESS"
        signed = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        fields["sign"] = _sign(self.keys.alipay_key, signed)
        fields["sign_type"] = "RSA2"
        return urlencode(fields, quote_via=quote_plus).encode()

    # -- WeChat Pay ------------------------------------------------------------------------------

    def _wechat(self, request: Request) -> Response:
        path = request.full_path[len(WECHAT_PREFIX) :].rstrip("?")
        body = request.get_data(as_text=True)
        self.requests.append(("wechat_pay", f"{request.method} {request.path}"))
        if not self._wechat_authorized(request.method, path, body, request.headers):
            return self._wechat_answer(401, {"code": "SIGN_ERROR", "message": "bad signature"})
        route = path.split("?", 1)[0]
        data = json.loads(body) if body else {}
        if route == "/v3/certificates":
            return self._wechat_answer(200, {"data": [self._encrypted_certificate()]})
        if route == "/v3/pay/transactions/native" and request.method == "POST":
            trade = self._open("wechat_pay", data["out_trade_no"], int(data["amount"]["total"]))
            if trade.status == "PAID":
                return self._wechat_answer(400, {"code": "ORDERPAID", "message": "paid"})
            return self._wechat_answer(
                200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.trade_no[-10:]}"}
            )
        if route.startswith("/v3/pay/transactions/"):
            return self._wechat_transaction(route, request.method)
        if route == "/v3/refund/domestic/refunds" and request.method == "POST":
            trade = next(
                (t for t in self.trades.values() if t.trade_no == data.get("transaction_id")),
                None,
            )
            if trade is None:
                return self._wechat_answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "?"})
            amount = data["amount"]
            if int(amount["total"]) != trade.total:
                return self._wechat_answer(400, {"code": "PARAM_ERROR", "message": "total"})
            outcome = self.refund(trade, data["out_refund_no"], int(amount["refund"]))
            if isinstance(outcome, str):
                return self._wechat_answer(403, {"code": "NOT_ENOUGH", "message": outcome})
            return self._wechat_answer(
                200,
                {
                    "refund_id": outcome[1],
                    "out_refund_no": data["out_refund_no"],
                    "transaction_id": trade.trade_no,
                    "out_trade_no": trade.out_trade_no,
                    "status": "SUCCESS",
                    "amount": {
                        "refund": int(amount["refund"]),
                        "total": trade.total,
                        "currency": "CNY",
                    },
                },
            )
        return self._wechat_answer(404, {"code": "NOT_FOUND", "message": route})

    def _wechat_transaction(self, route: str, method: str) -> Response:
        parts = route.split("/")
        # /v3/pay/transactions/{out-trade-no|id}/{value}[/close]
        kind, value = parts[4], parts[5]
        if kind == "out-trade-no":
            trade = self.trade("wechat_pay", value)
        else:
            trade = next((t for t in self.trades.values() if t.trade_no == value), None)
        if trade is None:
            return self._wechat_answer(404, {"code": "ORDER_NOT_EXIST", "message": "none"})
        if route.endswith("/close") and method == "POST":
            self.close("wechat_pay", trade.out_trade_no, trade.total)
            return Response(status=204)
        return self._wechat_answer(200, self._transaction(trade))

    def _transaction(self, trade: Trade) -> dict[str, Any]:
        state = {"WAIT": "NOTPAY", "PAID": "SUCCESS", "CLOSED": "CLOSED"}[trade.status]
        if trade.status == "PAID" and trade.refunds:
            state = "REFUND"
        return {
            "appid": self.keys.wechat_appid,
            "mchid": self.keys.wechat_mchid,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.trade_no,
            "trade_type": "NATIVE",
            "trade_state": state,
            "amount": {"total": trade.total, "payer_total": trade.total, "currency": "CNY"},
        }

    def _wechat_authorized(self, method: str, path: str, body: str, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        scheme, _, rest = auth.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            return False
        parts = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
        values = {k.strip(): v.strip().strip('"') for k, v in parts.items()}
        if values.get("mchid") != self.keys.wechat_mchid:
            return False
        if values.get("serial_no") != self.keys.wechat_merchant_serial:
            return False
        message = (
            f"{method}\n{path}\n{values.get('timestamp')}\n{values.get('nonce_str')}\n{body}\n"
        )
        return _verifies(self.keys.wechat_merchant_key, message, values.get("signature", ""))

    def _signed_headers(self, body: str, at: int | None = None) -> dict[str, str]:
        timestamp = str(at if at is not None else int(time.time()))
        nonce = uuid.uuid4().hex
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.keys.wechat_platform_serial,
            "Wechatpay-Signature": _sign(
                self.keys.wechat_platform_key, f"{timestamp}\n{nonce}\n{body}\n"
            ),
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _wechat_answer(self, status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload, separators=(",", ":"))
        return Response(
            body, status=status, content_type="application/json", headers=self._signed_headers(body)
        )

    def _encrypt(self, plaintext: str, associated_data: str) -> dict[str, str]:
        nonce = secrets.token_hex(6)
        sealed = AESGCM(self.keys.wechat_apiv3_key.encode()).encrypt(
            nonce.encode(), plaintext.encode(), associated_data.encode()
        )
        return {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": associated_data,
            "ciphertext": base64.b64encode(sealed).decode(),
        }

    def _encrypted_certificate(self) -> dict[str, Any]:
        cert = self.keys.wechat_platform_cert
        return {
            "serial_no": self.keys.wechat_platform_serial,
            "effective_time": cert.not_valid_before_utc.isoformat(),
            "expire_time": cert.not_valid_after_utc.isoformat(),
            "encrypt_certificate": self._encrypt(
                cert.public_bytes(serialization.Encoding.PEM).decode(), "certificate"
            ),
        }

    def wechat_notification(
        self, trade: Trade, kind: str, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The callback WeChat Pay posts for a payment (``paid``) or the last refund
        (``refunded``): resource encrypted under the APIv3 key, body signed by the platform."""
        if kind == "paid":
            event_type, original = "TRANSACTION.SUCCESS", "transaction"
            resource = {**self._transaction(trade), "trade_state": "SUCCESS"}
        else:
            request_no = next(reversed(trade.refunds))
            event_type, original = "REFUND.SUCCESS", "refund"
            resource = {
                "mchid": self.keys.wechat_mchid,
                "out_trade_no": trade.out_trade_no,
                "transaction_id": trade.trade_no,
                "out_refund_no": request_no,
                "refund_id": trade.refund_ids[request_no],
                "refund_status": "SUCCESS",
                "amount": {
                    "total": trade.total,
                    "refund": trade.refunds[request_no],
                    "payer_total": trade.total,
                    "payer_refund": trade.refunds[request_no],
                },
            }
        callback = {
            "id": str(uuid.uuid4()),
            "create_time": dt.datetime.now(BEIJING).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": event_type,
            "resource": {
                **self._encrypt(json.dumps(resource, separators=(",", ":")), original),
                "original_type": original,
            },
        }
        body = json.dumps(callback, separators=(",", ":"))
        headers = self._signed_headers(body, timestamp)
        return body.encode(), {"Content-Type": "application/json", **headers}
