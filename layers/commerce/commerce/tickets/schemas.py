"""Request and response bodies of the ticket routes (API.md, "Members, support and delivery").

Lengths are the domain's (``commerce.domain.tickets``): the schema refuses what is too long
before any rule runs, and the rules refuse what is blank or holds control characters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictStr

from commerce.domain.tickets import MAX_MESSAGE_CHARS, MAX_SUBJECT_CHARS
from commerce.http.model import Schema

_FORBID = ConfigDict(extra="forbid")
StatusName = Literal["open", "pending", "resolved"]


class TicketIn(Schema):
    """Body of ``POST /tickets``."""

    model_config = _FORBID

    subject: Annotated[StrictStr, Field(min_length=1, max_length=MAX_SUBJECT_CHARS)]
    message: Annotated[StrictStr, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    order_id: Annotated[
        StrictStr | None,
        Field(
            default=None,
            max_length=64,
            description="One of the caller's orders this ticket is about (404 for any other)",
        ),
    ] = None


class MessageIn(Schema):
    """Body of ``POST /tickets/{ticket_id}/messages``."""

    model_config = _FORBID

    message: Annotated[StrictStr, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class TicketStatusIn(Schema):
    """Body of ``PATCH /admin/tickets/{ticket_id}``."""

    model_config = _FORBID

    status: StatusName


class TicketMessageOut(Schema):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    author: Literal["customer", "support"] = Field(alias="from")
    message: str
    at: str


class TicketOut(Schema):
    ticket_id: str
    status: StatusName
    subject: str
    order_id: str | None = Field(description="The order the ticket is about, if any")
    messages: list[TicketMessageOut] = Field(description="Oldest first")
    created_at: str
    updated_at: str
    customer_id: str | None = Field(
        default=None, exclude_if=lambda value: value is None, description="Staff only"
    )
    awaiting_support_since: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Staff only: since when the customer waits for an answer",
    )


class TicketSummaryOut(Schema):
    """A ticket in a list: everything but its messages."""

    ticket_id: str
    status: StatusName
    subject: str
    order_id: str | None
    message_count: int
    created_at: str
    updated_at: str
    customer_id: str | None = Field(
        default=None, exclude_if=lambda value: value is None, description="Staff only"
    )
    awaiting_support_since: str | None = Field(
        default=None, exclude_if=lambda value: value is None, description="Staff only"
    )


class TicketListOut(Schema):
    items: list[TicketSummaryOut]
    next_token: str | None = Field(default=None, exclude_if=lambda value: value is None)
