"""The address book: the addresses a customer keeps to ship to, and which one is the default.

An entry is a shipping address as carts take it (``shipping_address.parse_shipping_address``)
with an optional ``label`` ("Home", "公司"). A book holds at most ``MAX_ADDRESSES``; a 21st is a
409 and nothing changes. Exactly one entry is the default while the book has any: the first
address added becomes it, ``default: true`` on another moves it there, and when the default is
deleted the most recently added of the others takes its place. docs/customers.md, "Addresses".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from commerce.domain.shipping_address import ShippingAddress, parse_shipping_address
from commerce.errors import Conflict, FieldError

MAX_ADDRESSES: Final = 20
MAX_LABEL_CHARS: Final = 40
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


class AddressBookFull(Conflict):
    """The book already holds ``MAX_ADDRESSES`` addresses: 409, nothing added."""

    def __init__(self) -> None:
        super().__init__(
            f"An address book holds at most {MAX_ADDRESSES} addresses; delete one first",
            limit=MAX_ADDRESSES,
        )


@dataclass(frozen=True)
class SavedAddress:
    """One entry of a customer's address book (``created_at`` orders them: ISO 8601)."""

    address_id: str
    address: ShippingAddress
    created_at: str
    updated_at: str
    label: str | None = None


def label_error(label: object) -> str | None:
    """Why ``label`` cannot be kept (None when it can: absent, or short plain text)."""
    if label is None:
        return None
    if not isinstance(label, str) or not label.strip() or label != label.strip():
        return "must be non-empty text without surrounding spaces"
    if len(label) > MAX_LABEL_CHARS:
        return f"must be at most {MAX_LABEL_CHARS} characters"
    if _CONTROL_RE.search(label):
        return "must not contain control characters"
    return None


def merged_address(
    current: ShippingAddress | None, changes: Mapping[str, Any]
) -> ShippingAddress | list[FieldError]:
    """``current`` with ``changes`` applied (a field set to None is removed; required fields
    then fail), normalised and checked as a cart's address is; every bad field at once."""
    fields: dict[str, Any] = dict(current.to_dict()) if current is not None else {}
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return parse_shipping_address(fields)


def next_default(entries: Sequence[SavedAddress], removed: str) -> str | None:
    """The default after the default ``removed`` goes: the newest of the others (None if none)."""
    others = [e for e in entries if e.address_id != removed]
    if not others:
        return None
    return max(others, key=lambda e: (e.created_at, e.address_id)).address_id
