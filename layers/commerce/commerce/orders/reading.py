"""Reading orders: who may see one (``may_read``), and a customer's own list, newest first.

Access is decided by the pure rules of ``commerce.domain.orders``: the owner, the holder of the
guest's cart token or order token, and staff (support, ops, admin) may read; anyone else is told
404, so a stranger never learns an order exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from commerce.domain.orders import may_cancel, may_read
from commerce.errors import FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.orders.book import order_book
from commerce.orders.schemas import OrderListOut, OrderOut
from commerce.orders.views import order_view
from commerce.settings import get_settings
from commerce.store import orders as store
from commerce.store.orders import StoredOrder

_ORDER_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


def _roles(caller: Caller) -> frozenset[str]:
    return caller.groups if caller.is_authenticated else frozenset()


def readable(order: StoredOrder, caller: Caller, tokens: Sequence[str | None]) -> bool:
    """``may_read`` with any of the tokens the request carried (cart token, order token)."""
    return any(
        may_read(order.order, caller_sub=caller.sub, roles=_roles(caller), token=token)
        for token in (*tokens, None)
    )


def cancellable_by(order: StoredOrder, caller: Caller, tokens: Sequence[str | None]) -> bool:
    return any(
        may_cancel(order.order, caller_sub=caller.sub, roles=_roles(caller), token=token)
        for token in (*tokens, None)
    )


def is_private_reader(order: StoredOrder, caller: Caller) -> bool:
    """Staff and the signed-in owner also see ``created_at`` and ``email``."""
    return caller.is_staff or (caller.sub is not None and order.order.owner == caller.sub)


def load_readable(order_id: str, caller: Caller, tokens: Sequence[str | None]) -> StoredOrder:
    """The order if the caller may read it; 404 otherwise (missing or not theirs alike)."""
    stored = order_book().load(order_id) if _ORDER_ID_RE.fullmatch(order_id) else None
    if stored is None or not readable(stored, caller, tokens):
        raise NotFound("No such order")
    return stored


def load_owned(order_id: str, caller: Caller, tokens: Sequence[str | None]) -> StoredOrder:
    """The order if the caller is its owner or holds its token; staff who may only read: 403."""
    stored = load_readable(order_id, caller, tokens)
    mine = any(
        may_read(stored.order, caller_sub=caller.sub, roles=(), token=token)
        for token in (*tokens, None)
    )
    if not mine:
        raise Forbidden("Only the customer who placed the order may do this")
    return stored


def get_order(order_id: str, caller: Caller, tokens: Sequence[str | None]) -> OrderOut:
    stored = load_readable(order_id, caller, tokens)
    return order_view(stored, private=is_private_reader(stored, caller))


def list_orders(caller: Caller, limit: int | None, next_token: str | None) -> OrderListOut:
    """The signed-in caller's own orders, newest first, a page at a time."""
    if caller.sub is None:
        raise Unauthorized("Sign in to list your orders")
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start = decode_page_token(next_token, store.CUSTOMER_ORDERS_PAGE_KEYS)
    if start is not None and start["gsi1pk"]["S"] != f"CUSTOMER#{caller.sub}":
        # A token minted for someone else's list is no token for this one.
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    page = store.customer_orders(caller.sub, size, start)
    return OrderListOut(
        items=[order_view(stored, private=True) for stored in page.orders],
        next_token=encode_page_token(page.last_key),
    )
