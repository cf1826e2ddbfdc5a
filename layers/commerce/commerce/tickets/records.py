"""A customer's tickets as their export lists them, and their erasure (customers/privacy.py).

Apart from ``service`` so that the paths that export and erase (the customers function and the
sweeper's erasure backstop) read the store alone, without the HTTP schemas of the ticket routes.
"""

from __future__ import annotations

from typing import Final

from commerce.store import tickets as store

_EXPORT_PAGE: Final = 100


def customer_records(sub: str) -> list[dict[str, object]]:
    """Every ticket of the customer with its messages, oldest first, as their export lists
    them (never who on the staff wrote a reply)."""
    records: list[dict[str, object]] = []
    start = None
    while True:
        page = store.customer_tickets(sub, _EXPORT_PAGE, start)
        for ticket in page.tickets:
            records.append(
                {
                    "ticket_id": ticket.ticket_id,
                    "customer_id": ticket.customer_id,
                    "email": ticket.email,
                    "subject": ticket.subject,
                    "order_id": ticket.order_id,
                    "status": ticket.status.value,
                    "created_at": ticket.created_at,
                    "updated_at": ticket.updated_at,
                    "messages": [m.to_dict() for m in store.messages_of(ticket.ticket_id)],
                }
            )
        if page.last_key is None:
            break
        start = page.last_key
    return list(reversed(records))


def erase_customer(sub: str) -> int:
    """Delete every ticket of the customer, messages included (erasure); how many."""
    return store.delete_customer_tickets(sub)
