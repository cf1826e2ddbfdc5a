"""GET /_local/outbox: every notification the stack really sent, read from moto's backends.

moto runs in this process, so its SES and SNS backends are plain objects: what a handler sent
through boto3 is exactly what is listed here. moto keeps no send time, so `at` is when the outbox
first saw the message (it is polled on every read and by the stack's ticker).
"""

from __future__ import annotations

import email
import json
import logging
import threading
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message as MimeMessage
from typing import Any

from infra.local.template import ACCOUNT_ID, REGION

log = logging.getLogger("infra.local.outbox")

TEMPLATE_HEADERS = ("X-Template", "X-Commerce-Template")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mime_text(message: MimeMessage) -> str:
    if message.is_multipart():
        for part in message.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return payload.decode(part.get_content_charset() or "utf-8", "replace")
        return ""
    payload = message.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(message.get_content_charset() or "utf-8", "replace")
    return str(message.get_payload())


def _header_text(value: str | None) -> str | None:
    """A header as its reader sees it: RFC 2047 words (a Chinese subject) decoded."""
    if value is None:
        return None
    return str(make_header(decode_header(value)))


def _email_item(message: Any) -> dict[str, Any]:
    kind = type(message).__name__
    destinations = getattr(message, "destinations", {}) or {}
    if isinstance(destinations, dict):
        recipients = list(destinations.get("ToAddresses") or [])
    else:
        recipients = list(destinations)
    if kind == "RawMessage":
        mime = email.message_from_string(str(message.raw_data))
        template = next((mime[h] for h in TEMPLATE_HEADERS if mime[h]), None)
        return {
            "channel": "email",
            "to": ", ".join(recipients) or str(mime["To"] or ""),
            "template": template,
            "subject": _header_text(mime["Subject"]),
            "body": _mime_text(mime),
        }
    if kind in ("TemplateMessage", "BulkTemplateMessage"):
        return {
            "channel": "email",
            "to": ", ".join(str(r) for r in recipients),
            "template": message.template,
            "subject": None,
            "body": str(message.template_data),
        }
    return {
        "channel": "email",
        "to": ", ".join(recipients),
        "template": None,
        "subject": getattr(message, "subject", None),
        "body": str(getattr(message, "body", "")),
    }


def _push_parts(published: str) -> dict[str, Any]:
    """A push as the device shows it: the title as ``subject``, the text as ``body``, and the
    template from the app data, out of SNS's per-platform JSON (any other text as it is)."""
    try:
        document = json.loads(published)
        fcm = json.loads(document["GCM"])
        notification, data = fcm["notification"], fcm.get("data") or {}
        return {
            "template": data.get("template"),
            "subject": notification.get("title"),
            "body": notification.get("body", document.get("default", "")),
        }
    except (ValueError, KeyError, TypeError):
        return {"template": None, "body": published}


class Outbox:
    """Collects sent mail, SMS and push messages from moto, in the order they were sent."""

    def __init__(self, account_id: str = ACCOUNT_ID, region: str = REGION) -> None:
        self.account_id = account_id
        self.region = region
        self._seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def start_polling(self, interval: float = 0.5) -> None:
        """Look at moto every interval so `at` is close to the send time, not the read time."""
        self._stop = threading.Event()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.items()
                except Exception:  # a poll racing a moto reset is simply retried
                    log.debug("outbox poll failed", exc_info=True)

        threading.Thread(target=run, name="outbox", daemon=True).start()

    def stop(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()

    def _stamp(self, key: str) -> str:
        if key not in self._seen:
            self._seen[key] = _now()
        return self._seen[key]

    def items(self) -> list[dict[str, Any]]:
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        found: list[dict[str, Any]] = []
        with self._lock:
            ses = ses_backends[self.account_id][self.region]
            for message in list(ses.sent_messages):
                key = (
                    f"ses:{getattr(message, 'id', None) or getattr(message, 'ids', [id(message)])}"
                )
                found.append({**_email_item(message), "at": self._stamp(key)})
            sns = sns_backends[self.account_id][self.region]
            for message_id, (phone, text) in list(sns.sms_messages.items()):
                found.append(
                    {
                        "channel": "sms",
                        "to": phone,
                        "template": None,
                        "body": text,
                        "at": self._stamp(f"sms:{message_id}"),
                    }
                )
            for endpoint in list(sns.platform_endpoints.values()):
                for message_id, text in list(endpoint.messages.items()):
                    found.append(
                        {
                            "channel": "push",
                            "to": endpoint.arn,
                            **_push_parts(text),
                            "at": self._stamp(f"push:{message_id}"),
                        }
                    )
        found.sort(key=lambda item: str(item["at"]))  # stable: send order within one stamp
        for item in found:
            if item.get("subject") is None:
                item.pop("subject", None)
        return found
