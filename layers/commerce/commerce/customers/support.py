"""Support's view of a customer, the agent's 360 degrees: profile, tier, points, the newest
orders, their tickets, the latest messages the shop sent them and their RFM value. Read only."""

from __future__ import annotations

import re
from typing import Final

from commerce import clock
from commerce.customers.rfm import rfm_record
from commerce.customers.schemas import ContactOut, CustomerAdminOut, RfmOut
from commerce.customers.views import profile_view
from commerce.errors import NotFound
from commerce.loyalty.tiers import member_tier
from commerce.orders.views import order_view
from commerce.store import customers as store
from commerce.store import notifications as sent_records
from commerce.store import orders as order_store
from commerce.store import points as points_store
from commerce.store import tickets as ticket_store
from commerce.tickets.views import summary_view

RECENT_ORDERS: Final = 5
RECENT_TICKETS: Final = 10
RECENT_CONTACTS: Final = 10
_CUSTOMER_ID_RE: Final = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def _contacts(customer_id: str) -> list[ContactOut]:
    sent = sent_records.customer_messages(customer_id)
    sent.sort(key=lambda m: m["sent_at"] or 0, reverse=True)
    return [
        ContactOut(
            channel=str(m["channel"]),
            template=m["template"],
            event_type=m["event_type"],
            ref=m["ref"],
            sent_at=clock.iso(int(m["sent_at"])) if m["sent_at"] is not None else None,
        )
        for m in sent[:RECENT_CONTACTS]
    ]


def customer_view(customer_id: str) -> CustomerAdminOut:
    profile = store.load_profile(customer_id) if _CUSTOMER_ID_RE.fullmatch(customer_id) else None
    if profile is None:
        raise NotFound("No such customer")
    page = order_store.customer_orders(customer_id, RECENT_ORDERS, None)
    tickets = ticket_store.customer_tickets(customer_id, RECENT_TICKETS, None)
    now = clock.now()
    return CustomerAdminOut(
        profile=profile_view(profile),
        tier=member_tier(customer_id, now).name,
        points=points_store.balance_of(customer_id),
        recent_orders=[order_view(stored, private=True) for stored in page.orders],
        tickets=[summary_view(t, staff=True) for t in tickets.tickets],
        recent_contacts=_contacts(customer_id),
        rfm=RfmOut.model_validate(rfm_record(customer_id, now)),
    )
