"""WebhooksFunction: carriers' and payment providers' signed callbacks (issue 5).

Both routes are open at API Gateway (senders have no Cognito token); each request is believed
only once its X-Signature verifies over the exact raw body, which is why no body model is
declared here: the resolver must not parse, validate or answer on a body before the signature
has been checked (commerce.webhooks.service).
"""

from __future__ import annotations

from commerce.cold_start import init_done

import base64
import binascii
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from commerce.errors import FieldError, ValidationFailed
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.webhooks import service
from commerce.webhooks.schemas import WebhookOut

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["webhooks"]
_SIGNATURE_DOC = (
    '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the sender\'s secret>`; '
    "the timestamp must be within 5 minutes of ours"
)
Signature = Annotated[
    str | None, Header(alias="X-Signature", max_length=1024, description=_SIGNATURE_DOC)
]
_OUTCOMES = (
    "Answers 200 `processed` (or `ignored` for an event type this API does not act on), 200 "
    "`duplicate` for an event id already acted on (nothing is done again), 401 for a missing, "
    "stale or wrong signature, 404 for a sender without secrets."
)


def _raw_body() -> bytes:
    """The exact bytes the sender signed (API Gateway base64-encodes bodies it cannot pass
    as text)."""
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise ValidationFailed([FieldError("body", "Malformed body encoding")]) from error
    return body.encode("utf-8")


@app.post(
    "/webhooks/carriers/<carrier>",
    summary="Carrier delivery report",
    description=(
        'Body: `{"event_id", "type": "delivered", "order_id", "at"}` (`at`: epoch seconds or '
        "ISO 8601). A delivery moves a SHIPPED order to DELIVERED; other types are ignored. "
        + _OUTCOMES
        + " 409 when the order is not SHIPPED."
    ),
    tags=_TAGS,
    responses=responses(200, WebhookOut, "The event's outcome", 400, 401, 404, 409),
)
def carrier_webhook(
    carrier: Annotated[str, Path(max_length=64, description="Carrier id, e.g. sf-express")],
    signature: Signature = None,
) -> dict[str, Any]:
    return service.receive("carriers", carrier, _raw_body(), signature)


@app.post(
    "/webhooks/payments/<provider>",
    summary="Payment provider event",
    description=(
        "`sandbox` (and other senders of the shared scheme) sign with X-Signature: body "
        '`{"event_id", "type": "charge.succeeded" | "charge.failed" | "refund.succeeded", '
        '"order_id", "charge_id", "refund_id"?, "amount"?}`. `stripe` is verified with '
        "Stripe-Signature by Stripe's library (payment_intent.succeeded, "
        "payment_intent.payment_failed, charge.refunded, refund.*); `alipay` by Alipay's RSA2 "
        "signature over its form fields (answered `success` as plain text); `wechat_pay` by "
        "WeChat Pay's Wechatpay-* headers, its resource decrypted (TRANSACTION.SUCCESS, "
        "REFUND.SUCCESS). Applied idempotently: a success pays a pending order (a paid order is "
        "unchanged, a cancelled one is refunded), a failure fails a pending order and releases "
        "its stock, a refund is listed on the order once. A notified amount other than the "
        "order's total is 409. " + _OUTCOMES
    ),
    tags=_TAGS,
    responses=responses(200, WebhookOut, "The event's outcome", 400, 401, 404, 409),
)
def payment_webhook(
    provider: Annotated[
        str,
        Path(max_length=64, description="Provider id: sandbox, stripe, alipay or wechat_pay"),
    ],
    signature: Signature = None,
) -> Response[Any]:
    headers = dict(app.current_event.headers or {})
    result = service.receive("payments", provider, _raw_body(), signature, headers=headers)
    reply = service.plain_reply(provider)
    if reply is not None:  # Alipay wants its plain "success", or it notifies again
        return Response(status_code=200, content_type="text/plain", body=reply)
    return Response(status_code=200, content_type="application/json", body=result)


install(app)
# Senders sign raw bodies of their own media types (Alipay: a form): the signature decides.
lambda_handler = lambda_entrypoint(app, json_only=False)


init_done()
