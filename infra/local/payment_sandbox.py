"""``POST /_local/payments/{order_id}``: the local sandbox plays the order's payment provider.

``{"outcome": "paid" | "failed" | "refunded"}``: the sandbox does at the provider what a
customer or the shop's staff would (pays at the cashier or scans the QR code, lets the payment
fail, refunds in the provider's dashboard), then sends **that provider's** signed notification
through the real webhook route, where the production verification code believes it or not:

| method         | played by         | notification sent to ``/webhooks/payments/<provider>`` |
|----------------|-------------------|--------------------------------------------------------|
| card (sandbox) | the sandbox       | ``sandbox``: X-Signature HMAC with the dev secret      |
| card (stripe)  | localstripe       | ``stripe``: a Stripe event, Stripe-Signature           |
| alipay         | the provider edge | ``alipay``: the RSA2-signed form (verified by the SDK) |
| wechat_pay     | the provider edge | ``wechat_pay``: the signed, encrypted callback         |

WeChat Pay sends no notification for a failed payment: ``failed`` closes its transaction and
the reconciler (the sweeper) settles the order from the query. Answers 202 with what the
webhook answered; 400 for another outcome; 404 for an unknown order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final

import requests
from commerce.payments.provider import charge_key
from commerce.payments.sandbox import charge_id_for
from commerce.webhooks.signatures import sign
from werkzeug.wrappers import Request, Response

from infra.local.problems import problem
from infra.local.provider_edge import ProviderEdge, Trade

PREFIX: Final = "/_local/payments/"
OUTCOMES: Final = ("paid", "failed", "refunded")


def _json(payload: Any, status: int = 202) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


@dataclass
class PaymentSandbox:
    """What the route needs: the edge, the Orders table, where the API and localstripe are."""

    edge: ProviderEdge
    dynamodb: Any
    orders_table: str
    api_base: str
    card_provider: str
    webhook_secret: str
    stripe_base: str = ""

    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return problem(405, "method-not-allowed", "Use POST.", headers={"Allow": "POST"})
        order_id = request.path[len(PREFIX) :].strip("/")
        try:
            body = json.loads(request.get_data(cache=False) or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        outcome = body.get("outcome") if isinstance(body, dict) else None
        if outcome not in OUTCOMES:
            return problem(
                400,
                "validation-error",
                "The request is invalid.",
                errors=[{"field": "outcome", "message": "one of paid, failed, refunded"}],
            )
        order = self._order(order_id) if order_id else None
        if order is None:
            return problem(404, "not-found", "No such order.")
        method = order["payment"].get("method", "card")
        total = int(order["totals"]["total"]["amount"])
        if method == "alipay":
            return self._alipay(order_id, total, outcome)
        if method == "wechat_pay":
            return self._wechat(order_id, total, outcome)
        if self.card_provider == "stripe":
            return self._stripe(order, total, outcome)
        return self._sandbox(order, total, outcome)

    def _order(self, order_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        found = self.dynamodb.get_item(
            TableName=self.orders_table,
            Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return None
        reader = TypeDeserializer()
        return {name: reader.deserialize(value) for name, value in found.items()}

    def _post(self, provider: str, body: bytes, headers: dict[str, str]) -> Response:
        sent = requests.post(
            f"{self.api_base}/webhooks/payments/{provider}", data=body, headers=headers, timeout=30
        )
        try:
            answer: Any = sent.json()
        except ValueError:
            answer = sent.text
        return _json({"provider": provider, "webhook_status": sent.status_code, "webhook": answer})

    # -- the providers -----------------------------------------------------------------------

    def _refund_at(self, trade: Trade) -> str | None:
        """A refund of what is left, made in the provider's dashboard; why not, if refused."""
        left = trade.total - trade.refunded
        outcome = self.edge.refund(trade, f"dashboard{uuid.uuid4().hex[:20]}", left)
        return outcome if isinstance(outcome, str) else None

    def _trade(self, provider: str, order_id: str, total: int, outcome: str) -> Trade | str:
        """The provider's trade after the customer paid, the payment failed, or the dashboard
        refunded what was left; why not, for a refund of a trade never paid."""
        if outcome == "paid":
            return self.edge.pay(provider, order_id, total)
        if outcome == "failed":
            return self.edge.close(provider, order_id, total)
        found = self.edge.trade(provider, order_id)
        refused = self._refund_at(found) if found is not None else "the trade is not paid"
        return refused if found is None or refused is not None else found

    def _alipay(self, order_id: str, total: int, outcome: str) -> Response:
        trade = self._trade("alipay", order_id, total, outcome)
        if isinstance(trade, str):
            return problem(409, "conflict", f"Nothing to refund: {trade}.")
        body = self.edge.alipay_notification(trade, outcome)
        return self._post(
            "alipay", body, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        )

    def _wechat(self, order_id: str, total: int, outcome: str) -> Response:
        if outcome == "failed":
            self.edge.close("wechat_pay", order_id, total)
            return _json(
                {
                    "provider": "wechat_pay",
                    "webhook_status": None,
                    "webhook": "WeChat Pay notifies no failed payment: the transaction is "
                    "closed, and the reconciler settles the order from its query",
                }
            )
        trade = self._trade("wechat_pay", order_id, total, outcome)
        if isinstance(trade, str):
            return problem(409, "conflict", f"Nothing to refund: {trade}.")
        body, headers = self.edge.wechat_notification(trade, outcome)
        return self._post("wechat_pay", body, headers)

    def _sandbox(self, order: dict[str, Any], total: int, outcome: str) -> Response:
        order_id = str(order["order_id"])
        # The id the sandbox gives (or will give) the order's charge, so a refund finds it.
        charge_id = order["payment"].get("charge_id") or charge_id_for(
            order_id, charge_key(order_id)
        )
        event: dict[str, Any] = {
            "event_id": f"evt_local_{uuid.uuid4().hex[:16]}",
            "order_id": order_id,
            "charge_id": charge_id,
        }
        if outcome == "paid":
            event["type"] = "charge.succeeded"
        elif outcome == "failed":
            event["type"] = "charge.failed"
            event["decline_code"] = "card_declined"
        else:
            refunded = int(order["payment"].get("refunded", {}).get("amount", 0))
            event.update(
                type="refund.succeeded",
                refund_id=f"re_local_{uuid.uuid4().hex[:16]}",
                amount=max(0, total - refunded),
            )
        raw = json.dumps(event).encode()
        signature = sign(self.webhook_secret, int(time.time()), raw)
        return self._post(
            "sandbox", raw, {"Content-Type": "application/json", "X-Signature": signature}
        )

    def _stripe(self, order: dict[str, Any], total: int, outcome: str) -> Response:
        order_id = str(order["order_id"])
        intent_id = order.get("payment_ref") or order["payment"].get("charge_id")
        intent = {"id": intent_id or f"pi_local_{order_id[:16]}", "object": "payment_intent"}
        if outcome == "refunded":
            if not intent_id:
                return problem(409, "conflict", "Nothing to refund: the order was never charged.")
            refund = requests.post(
                f"{self.stripe_base}/v1/refunds",
                data={"payment_intent": intent_id},
                headers={"Authorization": f"Bearer {self.edge.keys.stripe_api_key}"},
                timeout=30,
            )
            if refund.status_code != 200:
                return problem(409, "conflict", f"Nothing to refund: {refund.text}")
            made = refund.json()
            kind = "charge.refunded"
            obj: dict[str, Any] = {
                "object": "charge",
                "id": made.get("charge"),
                "payment_intent": intent_id,
                "refunds": {"object": "list", "data": [made]},
            }
        else:
            kind = f"payment_intent.{'succeeded' if outcome == 'paid' else 'payment_failed'}"
            obj = {
                **intent,
                "amount": total,
                "currency": "cny",
                "status": "succeeded" if outcome == "paid" else "requires_payment_method",
                "metadata": {"order_id": order_id},
                "last_payment_error": None if outcome == "paid" else {"code": "card_declined"},
            }
        timestamp = int(time.time())
        event = {
            "id": f"evt_local_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": kind,
            "created": timestamp,
            "data": {"object": obj},
        }
        payload = json.dumps(event)
        digest = hmac.new(
            self.edge.keys.stripe_webhook_secret.encode(),
            f"{timestamp}.{payload}".encode(),
            hashlib.sha256,
        ).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={timestamp},v1={digest}",
        }
        return self._post("stripe", payload.encode(), headers)
