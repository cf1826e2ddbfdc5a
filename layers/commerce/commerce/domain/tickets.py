"""Support tickets: what a message may say, and where a ticket stands after each step.

A customer opens a ticket with a subject and a first message, optionally about one of their
orders. Both sides then add messages; support sets the status:

- ``open``: support owes an answer (every ticket starts here);
- ``pending``: support answered and waits for the customer;
- ``resolved``: done.

A customer's message always leaves the ticket ``open`` (it reopens a pending or resolved
one: the customer is waiting again). A support reply leaves the status as support set it. A
ticket **awaits support** from the first customer message nobody answered yet until a support
reply, or until support moves it out of ``open``; one awaiting longer than
``UNANSWERED_AFTER_SECONDS`` is unanswered, and the sweeper counts those (``TicketsUnanswered``).
docs/tickets.md states the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from commerce.clock import iso
from commerce.errors import FieldError

MAX_MESSAGE_CHARS: Final = 5_000
MAX_SUBJECT_CHARS: Final = 200
#: A ticket takes at most this many messages; past it the customer opens a new one (409).
MAX_MESSAGES: Final = 200
#: A ticket awaiting support longer than this is unanswered (one day).
UNANSWERED_AFTER_SECONDS: Final = 24 * 60 * 60
#: Control characters other than tab and line breaks, which messages keep.
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class Author(StrEnum):
    """Who wrote a message; the value is the wire form (``from``)."""

    CUSTOMER = "customer"
    SUPPORT = "support"


def text_errors(field: str, text: str, limit: int) -> list[FieldError]:
    """Why ``text`` cannot be a subject or message: empty (or only spaces), longer than
    ``limit`` characters, or holding control characters other than tab and line breaks."""
    if not text.strip():
        return [FieldError(field, "must not be empty")]
    if len(text) > limit:
        return [FieldError(field, f"must be at most {limit} characters")]
    if _CONTROL_RE.search(text):
        return [FieldError(field, "must not contain control characters")]
    return []


def message_errors(message: str) -> list[FieldError]:
    return text_errors("message", message, MAX_MESSAGE_CHARS)


def subject_errors(subject: str) -> list[FieldError]:
    return text_errors("subject", subject, MAX_SUBJECT_CHARS)


@dataclass(frozen=True)
class Message:
    """One message of a ticket: who wrote it, what, when (epoch s)."""

    author: Author
    text: str
    at: int

    def to_dict(self) -> dict[str, str]:
        return {"from": self.author.value, "message": self.text, "at": iso(self.at)}


@dataclass(frozen=True)
class Standing:
    """Where a ticket stands: its status and since when it awaits support (None: it does not)."""

    status: TicketStatus
    awaiting_since: int | None


def opened(at: int) -> Standing:
    """A new ticket: open, awaiting support since its first message."""
    return Standing(TicketStatus.OPEN, at)


def after_message(current: Standing, author: Author, at: int) -> Standing:
    """The ticket after a message by ``author`` at ``at``.

    A customer's message reopens the ticket and, unless it already awaits support, starts the
    wait; a support reply ends the wait and leaves the status as support set it.
    """
    if author is Author.CUSTOMER:
        since = current.awaiting_since if current.awaiting_since is not None else at
        return Standing(TicketStatus.OPEN, since)
    return Standing(current.status, None)


def after_status(current: Standing, status: TicketStatus) -> Standing:
    """The ticket after support sets ``status``: anything but ``open`` ends the wait (support
    handled it, by a reply, a call or a fix); ``open`` keeps the wait as it was."""
    if status is TicketStatus.OPEN:
        return Standing(status, current.awaiting_since)
    return Standing(status, None)


def unanswered(awaiting_since: int | None, now: int) -> bool:
    """Awaiting support for more than ``UNANSWERED_AFTER_SECONDS``."""
    return awaiting_since is not None and now - awaiting_since > UNANSWERED_AFTER_SECONDS
