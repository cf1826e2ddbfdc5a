"""The caller's points as ``GET /me/points`` shows them: the balance and the ledger, newest
first, a page at a time (docs/customers.md, "Points")."""

from __future__ import annotations

from commerce.customers.profiles import Identity
from commerce.customers.schemas import PointsLedgerOut
from commerce.customers.views import points_entry_view
from commerce.http.pagination import encode_page_token, page_request
from commerce.store import keys
from commerce.store import points as store


def ledger(identity: Identity, limit: int | None, next_token: str | None) -> PointsLedgerOut:
    size, start = page_request(
        limit,
        next_token,
        store.LEDGER_PAGE_KEYS,
        partition=("pk", keys.customer_pk(identity.sub)),  # someone else's token is no token
    )
    page = store.ledger_page(identity.sub, size, start)
    return PointsLedgerOut(
        balance=store.balance_of(identity.sub),
        items=[points_entry_view(entry) for entry in page.entries],
        next_token=encode_page_token(page.last_key),
    )
