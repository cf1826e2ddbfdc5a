"""Ticket use cases, one per route; who may do what, then the rules, then one write.

- A signed-in customer opens a ticket, optionally about one of their own orders (any other
  order id is 404), and lists and reads their own.
- Staff read any ticket and list them by status; support (and admin) reply and set the status,
  as far as each route's declared access lets their role reach (``commerce.http.access``: ops
  read a ticket but may not write in it, 403). A customer who is neither the owner nor staff
  gets 404 for a ticket; the admin routes answer customers 403 before the handler runs.
- Every change reads the ticket and writes it conditioned on the version read
  (``store/tickets.py``), deciding again on a fresh read when another write came first.
- A support reply sends ``ticket.replied`` to the customer (transactional: their channels,
  no marketing consent needed); a lost event is logged, the reply stays written and shown.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.clock import now_iso
from commerce.domain.access import Reach
from commerce.domain.tickets import (
    MAX_MESSAGES,
    Author,
    Message,
    TicketStatus,
    after_message,
    after_status,
    message_errors,
    opened,
    subject_errors,
)
from commerce.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from commerce.events import DomainEvent, EventPublishError, publisher, stable_event_id
from commerce.http.auth import Caller
from commerce.http.pagination import encode_page_token, page_request
from commerce.observability import logger, metrics
from commerce.store import keys, kit
from commerce.store import tickets as store
from commerce.store.orders import load_order
from commerce.store.tickets import StoredTicket
from commerce.tickets.schemas import (
    MessageIn,
    StatusName,
    TicketIn,
    TicketListOut,
    TicketOut,
)
from commerce.tickets.views import summary_view, ticket_view

_TICKET_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
_ORDER_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
_ATTEMPTS: Final = 5


def _signed_in(caller: Caller) -> str:
    """Every ticket route is behind the authorizer; a caller without a sub never got here."""
    if caller.sub is None:
        raise Unauthorized("A valid bearer token is required")
    return caller.sub


def _checked(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def _readable(ticket_id: str, caller: Caller) -> StoredTicket:
    """The ticket if it is the caller's or their staff role sees it on this route; 404
    otherwise (missing or not theirs)."""
    _signed_in(caller)
    found = store.load_ticket(ticket_id) if _TICKET_ID_RE.fullmatch(ticket_id) else None
    if found is None or not (found.customer_id == caller.sub or caller.reach.sees):
        raise NotFound("No such ticket")
    return found


def _kept_changing() -> Conflict:
    return Conflict("The ticket kept changing; try again")


#: One change of a ticket as read: the ticket as written, or None when it changed meanwhile.
Change = Callable[[StoredTicket], StoredTicket | None]


def _changed(first: StoredTicket, caller: Caller, change: Change) -> StoredTicket:
    """Apply ``change`` to the ticket read as ``first``, then to fresh reads while another
    write keeps coming first (a few attempts with jitter, then 409)."""
    unread = [first]

    def attempt(_: int) -> StoredTicket | kit.Retry:
        current = unread.pop() if unread else _readable(first.ticket_id, caller)
        written = change(current)
        return kit.RETRY if written is None else written

    return kit.retry_on_conflict(attempt, give_up=_kept_changing, attempts=_ATTEMPTS)


def _view(ticket: StoredTicket, caller: Caller) -> TicketOut:
    return ticket_view(ticket, store.messages_of(ticket.ticket_id), staff=caller.is_staff)


# --- Customers ------------------------------------------------------------------------------


def open_ticket(caller: Caller, body: TicketIn) -> TicketOut:
    """A new ticket, open and awaiting support, with the caller's first message."""
    sub = _signed_in(caller)
    _checked(subject_errors(body.subject) + message_errors(body.message))
    if body.order_id is not None:
        order = load_order(body.order_id) if _ORDER_ID_RE.fullmatch(body.order_id) else None
        if order is None or order.order.owner != sub:
            raise NotFound("No such order")
    now, at = clock.now(), now_iso()
    ticket = StoredTicket(
        ticket_id=uuid.uuid4().hex,
        customer_id=sub,
        subject=body.subject.strip(),
        order_id=body.order_id,
        standing=opened(now),
        messages=1,
        created_at=at,
        updated_at=at,
        version=1,
        email=caller.email,
    )
    store.create(ticket, Message(Author.CUSTOMER, body.message, now))
    metrics.add_metric(name="TicketsOpened", unit=MetricUnit.Count, value=1)
    logger.info("ticket opened", extra={"ticket_id": ticket.ticket_id})
    return _view(ticket, caller)


def list_mine(caller: Caller, limit: int | None, next_token: str | None) -> TicketListOut:
    """The caller's own tickets, newest first, a page at a time."""
    sub = _signed_in(caller)
    size, start = page_request(
        limit,
        next_token,
        store.CUSTOMER_TICKETS_PAGE_KEYS,
        partition=("gsi1pk", keys.customer_tickets_gsi1pk(sub)),
    )
    page = store.customer_tickets(sub, size, start)
    return TicketListOut(
        items=[summary_view(t, staff=False) for t in page.tickets],
        next_token=encode_page_token(page.last_key),
    )


def get_ticket(caller: Caller, ticket_id: str) -> TicketOut:
    return _view(_readable(ticket_id, caller), caller)


def add_message(caller: Caller, ticket_id: str, body: MessageIn) -> TicketOut:
    """The owner writes as the customer (the ticket is open again); support replies (the
    customer is told). Other staff: 403; anyone else: 404."""
    _checked(message_errors(body.message))
    first = _readable(ticket_id, caller)
    if first.customer_id == caller.sub:
        author = Author.CUSTOMER
    elif caller.reach is Reach.ACT:
        author = Author.SUPPORT
    else:
        raise Forbidden("Only the customer and support write in a ticket")
    staff_id = caller.sub if author is Author.SUPPORT else None

    def write(current: StoredTicket) -> StoredTicket | None:
        if current.messages >= MAX_MESSAGES:
            raise Conflict(f"A ticket holds at most {MAX_MESSAGES} messages; open a new one")
        now = clock.now()
        after = after_message(current.standing, author, now)
        message = Message(author, body.message, now)
        return store.add_message(current, message, after, updated_at=now_iso(), staff_id=staff_id)

    written = _changed(first, caller, write)
    if author is Author.SUPPORT:
        metrics.add_metric(name="TicketReplies", unit=MetricUnit.Count, value=1)
        _announce_reply(written, body.message)
    logger.info("ticket message", extra={"ticket_id": ticket_id, "from": author.value})
    return _view(written, caller)


def _announce_reply(ticket: StoredTicket, reply: str) -> None:
    """``ticket.replied`` for the customer; its id is stable per message, so a resend is
    deduplicated by the consumer."""
    event = DomainEvent(
        event_id=stable_event_id(ticket.ticket_id, "reply", str(ticket.messages)),
        type="ticket.replied",
        occurred_at=ticket.updated_at,
        data={
            "ticket_id": ticket.ticket_id,
            "owner_sub": ticket.customer_id,
            "email": ticket.email,
            "ticket_subject": ticket.subject,
            "message": reply,
            "order_id": ticket.order_id,
        },
    )
    try:
        publisher().publish(event)
    except EventPublishError:
        logger.exception("ticket reply not announced", extra={"ticket_id": ticket.ticket_id})


# --- Staff ----------------------------------------------------------------------------------


def list_by_status(
    caller: Caller, status: StatusName, limit: int | None, next_token: str | None
) -> TicketListOut:
    """Tickets in ``status``, latest activity first (support's queue)."""
    del caller
    size, start = page_request(
        limit,
        next_token,
        store.STATUS_TICKETS_PAGE_KEYS,
        partition=("gsi2pk", keys.tickets_by_status_gsi2pk(status)),
    )
    page = store.tickets_with_status(status, size, start)
    return TicketListOut(
        items=[summary_view(t, staff=True) for t in page.tickets],
        next_token=encode_page_token(page.last_key),
    )


def set_status(caller: Caller, ticket_id: str, status: StatusName) -> TicketOut:
    """Support sets the status; setting the status it has changes nothing."""
    wanted = TicketStatus(status)

    def write(current: StoredTicket) -> StoredTicket | None:
        after = after_status(current.standing, wanted)
        if after == current.standing:
            return current
        return store.set_standing(current, after, updated_at=now_iso())

    written = _changed(_readable(ticket_id, caller), caller, write)
    logger.info("ticket status", extra={"ticket_id": ticket_id, "status": status})
    return _view(written, caller)
