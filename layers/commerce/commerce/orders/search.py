"""Support's order search: ``GET /admin/orders?email&status`` (support, ops, admin).

Every answer comes from an index, never a scan (the Orders table's gsi3, ``store/orders.py``):

- ``email``: the orders placed with that address (any case), guests' included, newest first;
  with ``status`` too, those of them in that status (a page may then hold fewer than ``limit``);
- ``status`` alone: every order in that status, newest first, merged from the index's buckets.

One of the two is required (400 without either). Pages carry an opaque ``next_token`` minted
for that very search; a token of another search is a 400.
"""

from __future__ import annotations

from typing import Any, Final

from commerce.domain.orders import OrderStatus
from commerce.errors import FieldError, ValidationFailed
from commerce.http.pagination import decode_page_token, encode_page_token, page_request
from commerce.orders.schemas import OrderListOut
from commerce.orders.views import order_view
from commerce.store import keys
from commerce.store import orders as store

_BUCKET_KEYS: Final = tuple(f"b{n:02d}" for n in range(keys.ORDER_STATUS_BUCKETS))
_STATUS_PAGE_KEYS: Final = ("status", *_BUCKET_KEYS)


def _bad_token() -> ValidationFailed:
    return ValidationFailed([FieldError("next_token", "Invalid or expired page token")])


def _status_token(status: OrderStatus, cursors: dict[int, str] | None) -> str | None:
    if cursors is None:
        return None
    key: dict[str, Any] = {"status": {"S": status.value}}
    key.update({_BUCKET_KEYS[n]: {"S": cursor} for n, cursor in cursors.items()})
    return encode_page_token(key)


def _status_cursors(status: OrderStatus, token: str | None) -> dict[int, str] | None:
    decoded = decode_page_token(token, _STATUS_PAGE_KEYS)
    if decoded is None:
        return None
    if decoded["status"]["S"] != status.value:
        raise _bad_token()
    return {n: decoded[name]["S"] for n, name in enumerate(_BUCKET_KEYS)}


def search_orders(
    email: str | None, status: OrderStatus | None, limit: int | None, next_token: str | None
) -> OrderListOut:
    """The orders matching ``email`` and/or ``status``, newest first, a page at a time."""
    if email is None and status is None:
        message = "give email, status or both"
        raise ValidationFailed([FieldError("email", message), FieldError("status", message)])
    if email is not None:
        partition = ("gsi3pk", keys.order_email_gsi3pk(email))
        size, start = page_request(limit, next_token, store.SEARCH_PAGE_KEYS, partition=partition)
        page = store.orders_with_email(email, size, start)
        found = [o for o in page.orders if status is None or o.status is status]
        token = encode_page_token(page.last_key)
    else:
        assert status is not None
        size, _ = page_request(limit, None, ())
        by_status = store.orders_with_status(status, size, _status_cursors(status, next_token))
        found = list(by_status.orders)
        token = _status_token(status, by_status.cursors)
    return OrderListOut(
        items=[order_view(stored, private=True) for stored in found], next_token=token
    )
