"""Reading orders: who may act on one (``load_within_reach``), and a customer's own list,
newest first.

The owner and the holder of the guest's cart token or order token act on their order
(``commerce.domain.orders.owns``); staff reach it as far as the route's declared access lets
their role (``commerce.http.access``: support reads any order but cancels none, say); anyone
else is told 404, so a stranger never learns an order exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from commerce.domain.access import Reach, owner_or
from commerce.domain.orders import owns
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


def is_private_reader(order: StoredOrder, caller: Caller) -> bool:
    """Staff and the signed-in owner also see ``created_at`` and ``email``."""
    return caller.is_staff or (caller.sub is not None and order.order.owner == caller.sub)


def load_within_reach(
    order_id: str,
    caller: Caller,
    tokens: Sequence[str | None],
    refused: str = "Only the customer who placed the order may do this",
) -> StoredOrder:
    """The order if the caller may act on it on this route: it is theirs (``owns``, with any of
    the tokens the request carried), or the route lets their staff role act on anyone's. A staff
    role the route lets only see it is answered 403 (``refused``); anyone else 404, missing or
    not theirs alike."""
    stored = order_book().load(order_id) if _ORDER_ID_RE.fullmatch(order_id) else None
    mine = stored is not None and owns(stored.order, caller_sub=caller.sub, tokens=tokens)
    reach = owner_or(mine, caller.reach)
    if stored is None or reach is Reach.NONE:
        raise NotFound("No such order")
    if reach is Reach.SEE:
        raise Forbidden(refused)
    return stored


def get_order(order_id: str, caller: Caller, tokens: Sequence[str | None]) -> OrderOut:
    stored = load_within_reach(order_id, caller, tokens)
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
