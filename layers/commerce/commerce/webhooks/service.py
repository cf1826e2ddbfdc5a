"""Carrier and payment-provider webhooks: believed only when signed, acted upon once.

``receive`` is the whole use case, in the order that keeps an unsigned request from touching
anything:

1. the sender (``carriers/<carrier>`` or ``payments/<provider>``) must have secrets, else 404;
2. the signature must verify over the raw body and a timestamp within 5 minutes
   (``commerce.webhooks.signatures``), else 401 and nothing else is even parsed;
3. the body must be a JSON object with an event id and the fields of its type, else 400;
4. the event id is recorded once (``store/webhook_events.py``); a replay answers
   ``{"status": "duplicate"}`` and does nothing;
5. the event is applied: a carrier's ``in_transit``, ``out_for_delivery``, ``delivered`` or
   ``exception`` goes on the order's tracking trail, ``delivered`` moving SHIPPED -> DELIVERED
   (``commerce.orders.tracking``); a provider's ``charge.succeeded`` is settled
   as an approval (``commerce.orders.settlement``: PENDING_PAYMENT -> PAID with the stock
   deducted, a PAID order unchanged, a cancelled one refunded), ``charge.failed`` as a decline, and
   ``refund.succeeded`` is noted (refunds are recorded when this system makes them). If applying
   fails, the event's guard is dropped again so the sender's retry is judged afresh.

Secrets: on AWS, the SSM SecureString named by ``WEBHOOK_SECRETS_PARAMETER``, JSON
``{"<sender>": ["<secret>", ...]}`` (several while a secret rotates), fetched through Powertools
parameters and cached for 5 minutes; locally, the same JSON in ``WEBHOOK_SECRETS_JSON``, which
is never honoured in prod.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, Final, Literal

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.domain.money import Money
from commerce.domain.tracking import TrackingEvent, TrackingStatus, location_error
from commerce.errors import Conflict, FieldError, NotFound, ValidationFailed
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import webhook_events
from commerce.webhooks.notices import NoticeKind, PaymentNotice, check_notice_time
from commerce.webhooks.signatures import event_id_of, verify

#: How long fetched secrets are trusted before SSM is asked again (seconds).
SECRETS_MAX_AGE: Final = 300
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ORDER_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_CHARGE_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")

Kind = Literal["carriers", "payments"]
#: Payment providers whose notifications are verified by their own libraries.
PROVIDER_SENDERS: Final = ("stripe", "alipay", "wechat_pay")


class SecretsConfigurationError(RuntimeError):
    """The secrets parameter is missing or not ``{sender: [secret, ...]}``: a deployment
    mistake, answered 500 and logged."""


class Status(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


# --- Secrets -----------------------------------------------------------------------------------


def _parse_secrets(raw: Any) -> dict[str, list[str]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise SecretsConfigurationError("webhook secrets are not JSON") from error
    if not isinstance(raw, dict):
        raise SecretsConfigurationError("webhook secrets must be a JSON object by sender")
    parsed: dict[str, list[str]] = {}
    for sender, value in raw.items():
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values:
            raise SecretsConfigurationError(f"sender {sender!r} has no secrets")
        if not all(isinstance(v, str) and v for v in values):
            raise SecretsConfigurationError(f"sender {sender!r} has an empty or non-text secret")
        parsed[str(sender)] = list(values)
    return parsed


def all_secrets() -> dict[str, list[str]]:
    """Every sender's secrets: the environment's JSON outside prod if set, else SSM."""
    settings = get_settings()
    if settings.webhook_secrets_json and settings.stage != "prod":
        return _parse_secrets(settings.webhook_secrets_json)
    if not settings.webhook_secrets_parameter:
        raise SecretsConfigurationError("WEBHOOK_SECRETS_PARAMETER is not set")
    from aws_lambda_powertools.utilities import parameters  # deferred: AWS path only

    try:
        raw = parameters.get_parameter(
            settings.webhook_secrets_parameter,
            decrypt=True,
            transform="json",
            max_age=SECRETS_MAX_AGE,
        )
    except parameters.exceptions.GetParameterError as error:
        raise SecretsConfigurationError("webhook secrets parameter not readable") from error
    except parameters.exceptions.TransformParameterError as error:
        raise SecretsConfigurationError("webhook secrets parameter is not JSON") from error
    return _parse_secrets(raw)


def clear_secrets_cache() -> None:
    """Forget fetched secrets (after a rotation in tests; Lambda refreshes every 5 minutes)."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]


def plain_reply(provider: str) -> str | None:
    """The plain-text body a provider expects for a notification it need not send again
    (Alipay: ``success``); None where a JSON answer does."""
    if provider == "alipay":
        from commerce.webhooks.alipay import REPLY

        return REPLY
    return None


def sender_name(kind: Kind, name: str) -> str:
    """The key of a sender in the secrets and in the replay guard: ``carriers/sf-express``."""
    return f"{kind}/{name}"


# --- Parsing a believed body ------------------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])


def _payload(raw_body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _invalid("body", "Malformed JSON") from error
    if not isinstance(payload, dict):
        raise _invalid("body", "Expected a JSON object")
    return payload


def _text(payload: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _invalid(name, f"{name} is required and must be a valid identifier")
    return value


def _epoch(value: Any, default: int) -> int:
    """``at`` as epoch seconds: an integer, or an ISO 8601 time with a zone; absent: default."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**11:
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return int(parsed.astimezone(UTC).timestamp())
    raise _invalid("at", "at must be epoch seconds or an ISO 8601 time with a zone")


# --- The use case -----------------------------------------------------------------------------


def receive(
    kind: Kind,
    name: str,
    raw_body: bytes,
    signature: str | None,
    *,
    now: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Verify, de-duplicate and apply one webhook; the response body (200).

    Stripe, Alipay and WeChat Pay are verified their own way by their own libraries
    (``commerce.webhooks.providers``); every other sender by the shared HMAC scheme.
    """
    now = clock.now() if now is None else now
    sender = sender_name(kind, name)
    if kind == "payments" and name in PROVIDER_SENDERS:
        from commerce.webhooks import providers  # deferred: only payment webhooks need it

        notice = providers.verified(name, raw_body, headers or {}, now=now)
        action = providers.action(name, notice)
        return _once(sender, notice.event_id, notice.kind.value, action, now)
    secrets = all_secrets().get(sender) if _NAME_RE.fullmatch(name) else None
    if not secrets:
        raise NotFound("No such webhook sender")
    verified = verify(signature, raw_body, secrets, now=now)
    payload = _payload(raw_body)
    event_id = event_id_of(payload)
    if event_id is None:
        raise _invalid("event_id", "event_id is required (1..128 of A-Za-z0-9_.:-)")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise _invalid("type", "type is required")
    apply = partial(_carrier, name) if kind == "carriers" else _payment
    # Everything a request can get wrong is checked before the event is remembered.
    action = apply(payload, event_type, event_id, verified.timestamp)
    return _once(sender, event_id, event_type, action, now)


def _once(sender: str, event_id: str, event_type: str, action: Action, now: int) -> dict[str, Any]:
    """Remember the event, then apply it: a replay does nothing; a failure forgets it again
    so the sender's retry is judged afresh."""
    if not webhook_events.record_once(sender, event_id, now=now, received_at=clock.iso(now)):
        metrics.add_metric(name="WebhookReplays", unit=MetricUnit.Count, value=1)
        logger.info("webhook replay ignored", extra={"sender": sender, "event_id": event_id})
        return {"status": Status.DUPLICATE.value, "event_id": event_id}
    try:
        result = action(now)
    except BaseException:
        webhook_events.forget(sender, event_id)
        raise
    metrics.add_metric(name="WebhooksProcessed", unit=MetricUnit.Count, value=1)
    logger.info(
        "webhook applied",
        extra={"sender": sender, "event_id": event_id, "type": event_type, **result},
    )
    status = Status.IGNORED if result.get("result") == "ignored" else Status.PROCESSED
    return {"status": status.value, "event_id": event_id, **result}


#: Applies a parsed event at ``now``; returns what it did, for the response and the log.
Action = Callable[[int], dict[str, Any]]


_TRACKING_NUMBER_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
#: Carrier event types and what they record (docs/orders.md, "Tracking"); others are ignored.
_CARRIER_TYPES: Final = {status.value: status for status in TrackingStatus}


def _carrier(
    carrier: str, payload: Mapping[str, Any], event_type: str, event_id: str, sent_at: int
) -> Action:
    status = _CARRIER_TYPES.get(event_type)
    if status is None:
        return lambda now: {"result": "ignored"}
    order_id = _text(payload, "order_id", _ORDER_ID_RE)
    at = _epoch(payload.get("at"), sent_at)
    location = payload.get("location")
    problem = location_error(location)
    if problem is not None:
        raise _invalid("location", f"location {problem}")
    tracking_number = None
    if payload.get("tracking_number") is not None:
        tracking_number = _text(payload, "tracking_number", _TRACKING_NUMBER_RE)
    event = TrackingEvent(event_id, status, at, location.strip() if location else None)

    def record(now: int) -> dict[str, Any]:
        from commerce.orders.tracking import record_carrier_event

        written = record_carrier_event(order_id, carrier, event, tracking_number)
        return {"order_id": order_id, "order_status": written.status.value}

    return record


_PAYMENT_TYPES: Final = ("charge.succeeded", "charge.failed", "refund.succeeded")


def _payment(payload: Mapping[str, Any], event_type: str, event_id: str, sent_at: int) -> Action:
    if event_type not in _PAYMENT_TYPES:
        return lambda now: {"result": "ignored"}
    order_id = _text(payload, "order_id", _ORDER_ID_RE)
    charge_id = _text(payload, "charge_id", _CHARGE_ID_RE)
    code = payload.get("decline_code")
    decline_code = code if isinstance(code, str) and code else "provider_reported"
    kind = {"charge.succeeded": NoticeKind.PAID, "refund.succeeded": NoticeKind.REFUNDED}
    notice = PaymentNotice(
        event_id, kind.get(event_type, NoticeKind.FAILED), at=_epoch(payload.get("at"), sent_at)
    )

    def apply(now: int) -> dict[str, Any]:
        from commerce.orders import settlement
        from commerce.payments import factory
        from commerce.payments.provider import PermanentProviderError
        from commerce.store.orders import load_order

        stored = load_order(order_id)
        if stored is None:
            raise NotFound("No such order")
        check_notice_time(notice, stored.order, now)
        if event_type == "refund.succeeded":
            from commerce.orders.refunds import record_provider_refund

            reference = payload.get("refund_id")
            amount = payload.get("amount")
            result = record_provider_refund(
                order_id,
                reference=reference if isinstance(reference, str) and reference else None,
                provider_refund_id=str(reference or event_id),
                amount=Money(amount) if isinstance(amount, int) and amount > 0 else None,
                at=now,
            )
            return {"order_id": order_id, "result": result}
        try:
            if event_type == "charge.succeeded":
                outcome = settlement.approve(
                    stored,
                    charge_id,
                    stored.order.totals.total,
                    provider=factory.provider(),
                    now=now,
                )
            else:
                outcome = settlement.decline(stored, decline_code, now=now)
        except PermanentProviderError as error:
            raise Conflict(f"The payment provider refused: {error.reason}") from error
        return {"order_id": order_id, "result": outcome.result.value}

    return apply
