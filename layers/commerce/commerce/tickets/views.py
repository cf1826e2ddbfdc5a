"""Tickets as clients see them; staff also see whose ticket it is and how long it has waited."""

from __future__ import annotations

from collections.abc import Sequence

from commerce.clock import iso
from commerce.domain.tickets import Message
from commerce.store.tickets import StoredTicket
from commerce.tickets.schemas import TicketMessageOut, TicketOut, TicketSummaryOut


def _since(ticket: StoredTicket, staff: bool) -> str | None:
    since = ticket.standing.awaiting_since
    return iso(since) if staff and since is not None else None


def ticket_view(ticket: StoredTicket, messages: Sequence[Message], *, staff: bool) -> TicketOut:
    return TicketOut(
        ticket_id=ticket.ticket_id,
        status=ticket.status.value,
        subject=ticket.subject,
        order_id=ticket.order_id,
        messages=[TicketMessageOut.model_validate(m.to_dict(), by_alias=True) for m in messages],
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        customer_id=ticket.customer_id if staff else None,
        awaiting_support_since=_since(ticket, staff),
    )


def summary_view(ticket: StoredTicket, *, staff: bool) -> TicketSummaryOut:
    return TicketSummaryOut(
        ticket_id=ticket.ticket_id,
        status=ticket.status.value,
        subject=ticket.subject,
        order_id=ticket.order_id,
        message_count=ticket.messages,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        customer_id=ticket.customer_id if staff else None,
        awaiting_support_since=_since(ticket, staff),
    )
