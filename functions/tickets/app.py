"""TicketsFunction: customers' support tickets and support's queue (API.md, "Members, support and
delivery")."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, PageLimit, PageToken
from commerce.tickets import service
from commerce.tickets.schemas import (
    MessageIn,
    StatusName,
    TicketIn,
    TicketListOut,
    TicketOut,
    TicketStatusIn,
)

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["tickets"]
_STAFF_TAGS = ["tickets", "support"]
TicketId = Annotated[str, Path(description="Ticket id, as POST /tickets returned it")]


@app.post(
    "/tickets",
    status_code=201,
    summary="Open a ticket",
    description=(
        "A question or a problem for customer service, optionally about one of the caller's "
        "orders (another order id: 404). The ticket starts open, awaiting support. An empty "
        "subject or message, or one over its length (200 and 5,000 characters): 400."
    ),
    tags=_TAGS,
    responses=responses(201, TicketOut, "The ticket", 400, 401, 404),
)
def open_ticket(body: TicketIn, caller: Authorized) -> TicketOut:
    return service.open_ticket(caller, body)


@app.get(
    "/tickets",
    summary="List my tickets",
    description="The caller's own tickets, newest first, a page at a time (without messages).",
    tags=_TAGS,
    responses=responses(200, TicketListOut, "A page of tickets", 400, 401),
)
def list_tickets(
    caller: Authorized, limit: PageLimit = None, next_token: PageToken = None
) -> TicketListOut:
    return service.list_mine(caller, limit, next_token)


@app.get(
    "/tickets/<ticket_id>",
    summary="Get a ticket",
    description=(
        "The ticket and its messages, oldest first. Its owner and staff (support, ops, admin) "
        "may read it; anyone else gets 404. Staff also see the customer and how long the "
        "ticket has awaited an answer."
    ),
    tags=_TAGS,
    responses=responses(200, TicketOut, "The ticket", 401, 404),
)
def get_ticket(ticket_id: TicketId, caller: Authorized) -> TicketOut:
    return service.get_ticket(caller, ticket_id)


@app.post(
    "/tickets/<ticket_id>/messages",
    status_code=201,
    summary="Add a message",
    description=(
        "The owner writes as the customer (a pending or resolved ticket is open again); support "
        "replies, and the customer is notified on their channels. Other staff: 403; anyone "
        "else: 404. An empty message or one over 5,000 characters: 400."
    ),
    tags=_TAGS,
    responses=responses(201, TicketOut, "The ticket with the message", 400, 401, 403, 404, 409),
)
def add_message(ticket_id: TicketId, body: MessageIn, caller: Authorized) -> TicketOut:
    return service.add_message(caller, ticket_id, body)


@app.get(
    "/admin/tickets",
    summary="Tickets by status",
    description=(
        "Support's queue: the tickets in one status (default open), latest activity first. "
        "Roles: support, ops, admin."
    ),
    tags=_STAFF_TAGS,
    responses=responses(200, TicketListOut, "A page of tickets", 400, 401, 403),
)
def list_by_status(
    caller: Authorized,
    status: Annotated[StatusName, Query(description="open, pending or resolved")] = "open",
    limit: PageLimit = None,
    next_token: PageToken = None,
) -> TicketListOut:
    return service.list_by_status(caller, status, limit, next_token)


@app.patch(
    "/admin/tickets/<ticket_id>",
    summary="Set a ticket's status",
    description=(
        "open, pending (answered, waiting for the customer) or resolved; anything else: 400. "
        "Roles: support, admin."
    ),
    tags=_STAFF_TAGS,
    responses=responses(200, TicketOut, "The ticket", 400, 401, 403, 404, 409),
)
def set_status(ticket_id: TicketId, body: TicketStatusIn, caller: Authorized) -> TicketOut:
    return service.set_status(caller, ticket_id, body.status)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
