"""Channel adapters: an ``OutgoingMessage`` handed to SES (email) or SNS (SMS, push).

Thin on purpose: what to say and to whom is decided in ``messages.py``; whether to send at all
(the dedupe claim) in ``delivery.py``. An adapter raises ``SendError`` when the provider did not
accept the message, and the consumer retries it through the queue.

Email goes out with ``SendRawEmail`` as multipart/alternative (plain text, then HTML) carrying
the template id in an ``X-Template`` header, so the mail itself says which template made it
(the local outbox lists it as ``template``). SMS is an SNS ``Publish`` to a phone number, marked
Transactional (or Promotional for marketing); push is a ``Publish`` to a platform endpoint, and
an endpoint SNS reports disabled or missing raises ``EndpointGone``, which no retry can help.

boto3 clients are made on first use, never at import, and reach the emulators through botocore's
``AWS_ENDPOINT_URL_*`` variables, so there is no local branch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import ClientError

from commerce.domain.consent import PURPOSES, Channel, Purpose
from commerce.notifications.messages import OutgoingMessage
from commerce.settings import get_settings
from commerce.store.endpoints import GONE_CODES

if TYPE_CHECKING:
    from mypy_boto3_ses.client import SESClient
    from mypy_boto3_sns.client import SNSClient

#: The header that names the template a mail was rendered from (read by the local outbox).
TEMPLATE_HEADER: Final = "X-Template"


class SendError(RuntimeError):
    """The provider did not accept the message; a retry may succeed."""


class EndpointGone(SendError):
    """The push endpoint is disabled or deleted (the push service reported the token dead, or
    the device was removed): no retry can deliver to it."""


class ChannelSender(Protocol):
    """Hands one message to one provider; returns once it was accepted."""

    def send(self, message: OutgoingMessage) -> None: ...


@lru_cache(maxsize=1)
def _ses() -> SESClient:
    import boto3  # deferred: only the notifications function sends mail

    return boto3.client("ses", region_name=get_settings().region)


@lru_cache(maxsize=1)
def _sns() -> SNSClient:
    import boto3  # deferred: only the notifications function publishes

    return boto3.client("sns", region_name=get_settings().region)


def mime_message(message: OutgoingMessage, sender: str, sender_name: str | None) -> EmailMessage:
    """The mail of ``message``: plain text and, when rendered, HTML as its alternative."""
    rendered = message.rendered
    mail = EmailMessage()
    mail["Subject"] = rendered.subject or ""
    mail["From"] = formataddr((sender_name, sender)) if sender_name else sender
    mail["To"] = message.to
    mail[TEMPLATE_HEADER] = message.template
    mail["Content-Language"] = message.locale.value
    mail.set_content(rendered.text)
    if rendered.html:
        mail.add_alternative(rendered.html, subtype="html")
    return mail


class SesEmailSender:
    """Email through SES ``SendRawEmail`` from the configured (verified) sender identity."""

    def __init__(
        self,
        sender: str,
        sender_name: str | None = None,
        client: Callable[[], SESClient] = _ses,
    ) -> None:
        if not sender:
            raise ValueError("SENDER_EMAIL is not configured")
        Address(addr_spec=sender)  # a malformed identity fails at start, not per message
        self.sender = sender
        self.sender_name = sender_name
        self._client = client

    def send(self, message: OutgoingMessage) -> None:
        mail = mime_message(message, self.sender, self.sender_name)
        try:
            # No Destinations: SES takes the one recipient from the To header it is sent to.
            self._client().send_raw_email(Source=self.sender, RawMessage={"Data": mail.as_bytes()})
        except Exception as error:  # botocore's errors share no useful base with ours
            raise SendError(f"SES refused {message.template}") from error


def e164(phone: str) -> str:
    """A phone number as SNS takes it (``+8613800138000``): without spaces, dashes or brackets,
    the same normalisation the dedupe key applies."""
    return "".join(c for c in phone if c not in " -()")


class SnsSmsSender:
    """SMS through SNS ``Publish`` to a phone number (one part; the templates make it fit).

    Publishing to a phone number names no topic, so its IAM resource is ``*``.
    """

    def __init__(self, client: Callable[[], SNSClient] = _sns) -> None:
        self._client = client

    def send(self, message: OutgoingMessage) -> None:
        marketing = PURPOSES[message.event_type] is Purpose.MARKETING
        kind = "Promotional" if marketing else "Transactional"
        try:
            self._client().publish(
                PhoneNumber=e164(message.to),
                Message=message.rendered.text,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": kind}
                },
            )
        except Exception as error:  # botocore's errors share no useful base with ours
            raise SendError(f"SNS refused {message.template}") from error


def push_payload(message: OutgoingMessage) -> str:
    """SNS's per-platform JSON: the same title and body for FCM and APNs (production and
    sandbox), with the template and the order, cart or SKU it is about as data for the app."""
    title, body = message.rendered.title or "", message.rendered.text
    data = {"template": message.template, "ref": message.ref or ""}
    apns = {"aps": {"alert": {"title": title, "body": body}}, **data}
    platforms: Mapping[str, Any] = {
        "GCM": {"notification": {"title": title, "body": body}, "data": data},
        "APNS": apns,
        "APNS_SANDBOX": apns,
    }
    document = {
        "default": body,
        **{k: json.dumps(v, ensure_ascii=False) for k, v in platforms.items()},
    }
    return json.dumps(document, ensure_ascii=False)


class SnsPushSender:
    """App push through SNS ``Publish`` to a device's platform endpoint."""

    def __init__(self, client: Callable[[], SNSClient] = _sns) -> None:
        self._client = client

    def send(self, message: OutgoingMessage) -> None:
        try:
            self._client().publish(
                TargetArn=message.to, Message=push_payload(message), MessageStructure="json"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in GONE_CODES:
                raise EndpointGone(f"push endpoint gone for {message.template}") from error
            raise SendError(f"SNS refused {message.template}") from error
        except Exception as error:  # botocore's other errors share no useful base with ours
            raise SendError(f"SNS refused {message.template}") from error


def default_senders() -> dict[Channel, ChannelSender]:
    """One adapter per channel, configured from settings."""
    settings = get_settings()
    return {
        Channel.EMAIL: SesEmailSender(settings.sender_email, settings.store_name or None),
        Channel.SMS: SnsSmsSender(),
        Channel.PUSH: SnsPushSender(),
    }
