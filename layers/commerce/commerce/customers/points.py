"""The caller's points as ``GET /me/points`` shows them: the balance and the ledger, newest
first, a page at a time (docs/customers.md, "Points")."""

from __future__ import annotations

from commerce.customers.profiles import Identity
from commerce.customers.schemas import PointsLedgerOut
from commerce.customers.views import points_entry_view
from commerce.errors import FieldError, ValidationFailed
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.settings import get_settings
from commerce.store import keys
from commerce.store import points as store


def ledger(identity: Identity, limit: int | None, next_token: str | None) -> PointsLedgerOut:
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start = decode_page_token(next_token, store.LEDGER_PAGE_KEYS)
    if start is not None and start["pk"]["S"] != keys.customer_pk(identity.sub):
        # A token minted for someone else's ledger is no token for this one.
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    page = store.ledger_page(identity.sub, size, start)
    return PointsLedgerOut(
        balance=store.balance_of(identity.sub),
        items=[points_entry_view(entry) for entry in page.entries],
        next_token=encode_page_token(page.last_key),
    )
