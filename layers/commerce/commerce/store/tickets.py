"""Ticket storage (Customers table, one partition per ticket).

- ``pk=TICKET#{id}, sk=TICKET``: the ticket (``TicketModel``): customer, their email?, subject,
  order?,
  status, ``messages`` (how many), ``awaiting_since``?, times, ``version`` (+1 per write; every
  write is conditioned on it). gsi1 ``TICKETS#{sub}`` / ``{created_at}#{id}`` (the customer's
  tickets), gsi2 ``TICKETS#{status}`` / ``{updated_at}#{id}`` (support's queue by status).
- ``pk=TICKET#{id}, sk=MESSAGE#{seq:05d}``: the messages, numbered from 1.
- ``pk=TICKET#{id}, sk=AWAITING``: present exactly while the ticket awaits support; gsi2
  ``TICKETS_AWAITING`` / ``{since:012d}#{id}``, so the sweeper reads only the waits it counts.

A message is one transaction: the ticket (conditioned on its version, which also makes the
message number unique), the message (put only if its number is new), and the awaiting marker
put or deleted as the wait starts or ends. Erasure deletes a customer's tickets whole
(``delete_customer_tickets``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.update import Action

from commerce.domain.tickets import Author, Message, Standing, TicketStatus
from commerce.store import keys
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.customers import TicketAwaitingModel, TicketMessageModel, TicketModel
from commerce.store.transactions import LabelledTransaction

TICKET_LABEL: Final = "ticket"
#: The attributes DynamoDB returns as the last key of a gsi1 / gsi2 query (for page tokens).
CUSTOMER_TICKETS_PAGE_KEYS: Final = ("pk", "sk", "gsi1pk", "gsi1sk")
STATUS_TICKETS_PAGE_KEYS: Final = ("pk", "sk", "gsi2pk", "gsi2sk")


@dataclass(frozen=True)
class StoredTicket:
    """A ticket as stored (its messages are read apart: ``messages_of``)."""

    ticket_id: str
    customer_id: str
    subject: str
    order_id: str | None
    standing: Standing
    messages: int
    created_at: str
    updated_at: str
    version: int
    email: str | None = None

    @property
    def status(self) -> TicketStatus:
        return self.standing.status


@dataclass(frozen=True)
class TicketPage:
    tickets: tuple[StoredTicket, ...]
    last_key: dict[str, Any] | None


def _ticket(row: TicketModel) -> StoredTicket:
    since = row.awaiting_since
    return StoredTicket(
        ticket_id=row.ticket_id,
        customer_id=row.customer_id,
        subject=row.subject,
        order_id=row.order_id,
        standing=Standing(TicketStatus(row.status), int(since) if since is not None else None),
        messages=int(row.messages),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=int(row.version),
        email=row.email,
    )


def load_ticket(ticket_id: str) -> StoredTicket | None:
    try:
        row = TicketModel.get(keys.ticket_pk(ticket_id), keys.TICKET_SK, consistent_read=True)
    except TicketModel.DoesNotExist:
        return None
    return _ticket(row)


def messages_of(ticket_id: str) -> list[Message]:
    """The ticket's messages in the order written."""
    rows = TicketMessageModel.query(
        keys.ticket_pk(ticket_id),
        TicketMessageModel.sk.startswith(keys.TICKET_MESSAGE_SK_PREFIX),
        consistent_read=True,
    )
    return [Message(Author(r.author), r.text, int(r.at)) for r in rows]


def _message_row(
    ticket: StoredTicket, seq: int, message: Message, staff_id: str | None
) -> TicketMessageModel:
    return TicketMessageModel(
        keys.ticket_pk(ticket.ticket_id),
        keys.ticket_message_sk(seq),
        ticket_id=ticket.ticket_id,
        customer_id=ticket.customer_id,
        author=message.author.value,
        text=message.text,
        at=message.at,
        staff_id=staff_id,
    )


def _awaiting(
    tx: LabelledTransaction, ticket: StoredTicket, before: Standing | None, after: Standing
) -> None:
    """Put the awaiting marker when the wait starts, delete it when the wait ends."""
    started = after.awaiting_since is not None and (before is None or before.awaiting_since is None)
    ended = (
        before is not None and before.awaiting_since is not None and after.awaiting_since is None
    )
    pk = keys.ticket_pk(ticket.ticket_id)
    if started and after.awaiting_since is not None:
        marker = TicketAwaitingModel(
            pk,
            keys.TICKET_AWAITING_SK,
            ticket_id=ticket.ticket_id,
            customer_id=ticket.customer_id,
            since=after.awaiting_since,
            gsi2pk=keys.TICKETS_AWAITING_GSI2PK,
            gsi2sk=keys.awaiting_gsi2sk(after.awaiting_since, ticket.ticket_id),
        )
        tx.put("awaiting", marker)
    elif ended:
        tx.delete("awaiting", TicketAwaitingModel(pk, keys.TICKET_AWAITING_SK))


def _header(ticket: StoredTicket) -> TicketModel:
    """The full ticket item (what ``create`` puts)."""
    return TicketModel(
        keys.ticket_pk(ticket.ticket_id),
        keys.TICKET_SK,
        ticket_id=ticket.ticket_id,
        customer_id=ticket.customer_id,
        email=ticket.email,
        subject=ticket.subject,
        order_id=ticket.order_id,
        status=ticket.status.value,
        messages=ticket.messages,
        awaiting_since=ticket.standing.awaiting_since,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        version=ticket.version,
        gsi1pk=keys.customer_tickets_gsi1pk(ticket.customer_id),
        gsi1sk=keys.ticket_activity_sk(ticket.created_at, ticket.ticket_id),
        gsi2pk=keys.tickets_by_status_gsi2pk(ticket.status.value),
        gsi2sk=keys.ticket_activity_sk(ticket.updated_at, ticket.ticket_id),
    )


def create(ticket: StoredTicket, first: Message) -> None:
    """The new ticket with its first message (and its wait), all or nothing."""
    tx = LabelledTransaction()
    tx.put(TICKET_LABEL, _header(ticket), TicketModel.pk.does_not_exist())
    tx.put("message", _message_row(ticket, 1, first, None))
    _awaiting(tx, ticket, None, ticket.standing)
    failures = tx.commit()
    if failures:
        raise RuntimeError(f"ticket refused: {[(f.label, f.code) for f in failures]}")


def _changed(
    before: StoredTicket, after: Standing, *, messages: int, updated_at: str
) -> StoredTicket:
    return StoredTicket(
        ticket_id=before.ticket_id,
        customer_id=before.customer_id,
        subject=before.subject,
        order_id=before.order_id,
        standing=after,
        messages=messages,
        created_at=before.created_at,
        updated_at=updated_at,
        version=before.version + 1,
        email=before.email,
    )


def _update(tx: LabelledTransaction, before: StoredTicket, after: StoredTicket) -> None:
    since = after.standing.awaiting_since
    actions: list[Action] = [
        TicketModel.status.set(after.status.value),
        TicketModel.messages.set(after.messages),
        TicketModel.updated_at.set(after.updated_at),
        TicketModel.version.set(after.version),
        TicketModel.gsi2pk.set(keys.tickets_by_status_gsi2pk(after.status.value)),
        TicketModel.gsi2sk.set(keys.ticket_activity_sk(after.updated_at, after.ticket_id)),
        (
            TicketModel.awaiting_since.set(since)
            if since is not None
            else TicketModel.awaiting_since.remove()
        ),
    ]
    row = TicketModel(keys.ticket_pk(before.ticket_id), keys.TICKET_SK)
    tx.update(TICKET_LABEL, row, actions, TicketModel.version == before.version)


def _commit(tx: LabelledTransaction) -> bool:
    failures = tx.commit()
    if not failures:
        return True
    if any(f.label == TICKET_LABEL and f.code == CONDITION_FAILED for f in failures):
        return False
    raise RuntimeError(f"ticket change refused: {[(f.label, f.code) for f in failures]}")


def add_message(
    before: StoredTicket,
    message: Message,
    after: Standing,
    *,
    updated_at: str,
    staff_id: str | None = None,
) -> StoredTicket | None:
    """Append ``message`` to the ticket read as ``before`` and move it to ``after``: the ticket
    as written, or None when it changed since it was read."""
    written = _changed(before, after, messages=before.messages + 1, updated_at=updated_at)
    tx = LabelledTransaction()
    _update(tx, before, written)
    tx.put(
        "message",
        _message_row(written, written.messages, message, staff_id),
        TicketMessageModel.sk.does_not_exist(),
    )
    _awaiting(tx, written, before.standing, after)
    return written if _commit(tx) else None


def set_standing(before: StoredTicket, after: Standing, *, updated_at: str) -> StoredTicket | None:
    """Move the ticket read as ``before`` to ``after`` (support set its status)."""
    written = _changed(before, after, messages=before.messages, updated_at=updated_at)
    tx = LabelledTransaction()
    _update(tx, before, written)
    _awaiting(tx, written, before.standing, after)
    return written if _commit(tx) else None


# --- Lists ------------------------------------------------------------------------------------


def _page(index: Any, key: str, limit: int, start: dict[str, Any] | None) -> TicketPage:
    result = index.query(
        key, scan_index_forward=False, limit=limit, last_evaluated_key=start, page_size=limit
    )
    return TicketPage(tuple(_ticket(row) for row in result), result.last_evaluated_key)


def customer_tickets(sub: str, limit: int, start: dict[str, Any] | None) -> TicketPage:
    """A page of the customer's tickets, newest first (gsi1)."""
    return _page(TicketModel.gsi1, keys.customer_tickets_gsi1pk(sub), limit, start)


def tickets_with_status(status: str, limit: int, start: dict[str, Any] | None) -> TicketPage:
    """A page of the tickets in ``status``, latest activity first (gsi2)."""
    return _page(TicketModel.gsi2, keys.tickets_by_status_gsi2pk(status), limit, start)


def awaiting_since_before(cutoff: int, page_size: int = 100) -> Iterator[tuple[str, int]]:
    """(ticket id, since) of every ticket awaiting support since before ``cutoff`` (epoch s).
    The index is eventually consistent: a wait that just ended may still show."""
    rows = TicketAwaitingModel.gsi2.query(
        keys.TICKETS_AWAITING_GSI2PK,
        TicketAwaitingModel.gsi2sk < f"{cutoff:012d}",
        page_size=page_size,
    )
    for row in rows:
        yield row.ticket_id, int(row.since)


# --- Erasure ----------------------------------------------------------------------------------


def delete_customer_tickets(sub: str) -> int:
    """Delete every ticket of the customer, messages and wait included; how many tickets.

    The ticket item goes last, so an erasure that fails half way finds the rest on its retry
    (the customer index still lists the ticket until then).
    """
    found = [row.ticket_id for row in TicketModel.gsi1.query(keys.customer_tickets_gsi1pk(sub))]
    for ticket_id in found:
        pk = keys.ticket_pk(ticket_id)
        for row in TicketMessageModel.query(
            pk, TicketMessageModel.sk.startswith(keys.TICKET_MESSAGE_SK_PREFIX)
        ):
            row.delete()
        TicketAwaitingModel(pk, keys.TICKET_AWAITING_SK).delete()
        TicketModel(pk, keys.TICKET_SK).delete()
    return len(found)
