"""Stripe's webhook events, verified by Stripe's own library and read into a ``PaymentNotice``.

``stripe.Webhook.construct_event`` checks the ``Stripe-Signature`` header (HMAC-SHA256 over the
timestamp and the exact raw body, keyed by the endpoint's signing secret ``whsec_...``) and that
the timestamp is within 5 minutes; no signature code of ours stands in for it. Events acted on:

| event                            | notice                                            |
|----------------------------------|---------------------------------------------------|
| ``payment_intent.succeeded``     | paid (the PaymentIntent's ``metadata.order_id``)   |
| ``payment_intent.payment_failed``| failed, with the decline code                      |
| ``charge.refunded``              | refunded: each refund of the charge               |
| ``refund.created`` / ``.updated``| refunded, once the refund succeeded               |

A refund names only its PaymentIntent, so the order is read from the PaymentIntent's metadata
(one retrieve at the provider). Everything else is answered ``ignored``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe as stripe_library

from commerce.domain.money import Money
from commerce.errors import FieldError, ValidationFailed
from commerce.payments.credentials import CredentialsError, credentials
from commerce.webhooks.notices import NoticeKind, PaymentNotice, ReportedRefund, dated
from commerce.webhooks.signatures import Rejection, SignatureInvalid

SIGNATURE_HEADER = "Stripe-Signature"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by name, in any case (API Gateway keeps the sender's)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def signing_secret() -> str | None:
    """The endpoint's signing secret; None when Stripe is not configured (the sender is then
    unknown: 404)."""
    try:
        return str(credentials("stripe", ("webhook_secret",))["webhook_secret"])
    except CredentialsError:
        return None


def _get(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


def _money(obj: Any, field: str = "amount") -> Money:
    return Money(int(_get(obj, field) or 0), str(_get(obj, "currency") or "cny").upper())


def verify(raw_body: bytes, headers: Mapping[str, str], secret: str) -> PaymentNotice:
    """The event, if Stripe signed it; ``SignatureInvalid`` (401) or 400 otherwise."""
    signature = header(headers, SIGNATURE_HEADER)
    if not signature:
        raise SignatureInvalid(Rejection.MISSING)
    try:
        event = stripe_library.Webhook.construct_event(raw_body.decode("utf-8"), signature, secret)
    except stripe_library.SignatureVerificationError as error:
        stale = "tolerance" in str(error).lower()
        raise SignatureInvalid(Rejection.STALE if stale else Rejection.MISMATCH) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed([FieldError("body", "Malformed JSON")]) from error
    return read(event)


def read(event: Any) -> PaymentNotice:
    """The notice an event (already verified) carries, dated by the event's ``created``."""
    created = _get(event, "created")
    at = created if isinstance(created, int) and not isinstance(created, bool) else None
    return dated(_read(event), at, "created")


def _read(event: Any) -> PaymentNotice:
    event_id = str(_get(event, "id") or "")
    if not event_id:
        raise ValidationFailed([FieldError("id", "id is required")])
    kind = str(_get(event, "type") or "")
    obj = _get(_get(event, "data"), "object")
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        order_id = _get(_get(obj, "metadata"), "order_id")
        error = _get(obj, "last_payment_error")
        return PaymentNotice(
            event_id,
            NoticeKind.PAID if kind.endswith("succeeded") else NoticeKind.FAILED,
            order_id=str(order_id) if order_id else None,
            charge_id=str(_get(obj, "id")),
            amount=_money(obj),
            decline_code=str(_get(error, "decline_code") or _get(error, "code") or "card_declined"),
        )
    if kind == "charge.refunded":
        refunds = _get(_get(obj, "refunds"), "data") or []
        reported = tuple(_reported(r) for r in refunds if _get(r, "status") == "succeeded")
        return PaymentNotice(
            event_id,
            NoticeKind.REFUNDED,
            charge_id=str(_get(obj, "payment_intent") or ""),
            refunds=reported,
        )
    if kind in ("refund.created", "refund.updated") and _get(obj, "status") == "succeeded":
        return PaymentNotice(
            event_id,
            NoticeKind.REFUNDED,
            charge_id=str(_get(obj, "payment_intent") or ""),
            refunds=(_reported(obj),),
        )
    return PaymentNotice(event_id, NoticeKind.IGNORED)


def _reported(refund: Any) -> ReportedRefund:
    reference = _get(_get(refund, "metadata"), "refund_id")
    return ReportedRefund(
        reference=str(reference) if reference else None,
        provider_refund_id=str(_get(refund, "id")),
        amount=_money(refund),
    )
