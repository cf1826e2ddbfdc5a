"""Support's view of a customer: profile, tier, points, the newest orders and their RFM. Read
only."""

from __future__ import annotations

import re
from typing import Final

from commerce import clock
from commerce.customers.rfm import rfm_record
from commerce.customers.schemas import CustomerAdminOut, RfmOut
from commerce.customers.views import profile_view
from commerce.errors import NotFound
from commerce.loyalty.tiers import member_tier
from commerce.orders.views import order_view
from commerce.store import customers as store
from commerce.store import orders as order_store
from commerce.store import points as points_store

RECENT_ORDERS: Final = 5
_CUSTOMER_ID_RE: Final = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def customer_view(customer_id: str) -> CustomerAdminOut:
    profile = store.load_profile(customer_id) if _CUSTOMER_ID_RE.fullmatch(customer_id) else None
    if profile is None:
        raise NotFound("No such customer")
    page = order_store.customer_orders(customer_id, RECENT_ORDERS, None)
    now = clock.now()
    return CustomerAdminOut(
        profile=profile_view(profile),
        tier=member_tier(customer_id, now).name,
        points=points_store.balance_of(customer_id),
        recent_orders=[order_view(stored, private=True) for stored in page.orders],
        rfm=RfmOut.model_validate(rfm_record(customer_id, now)),
    )
