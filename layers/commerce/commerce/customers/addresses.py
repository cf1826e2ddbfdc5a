"""The caller's address book: ``/me/addresses`` (list, add, change, delete).

The rules are ``commerce.domain.addresses``: at most 20 addresses, each checked and normalised
as a cart's address is, exactly one default while there are any. Every change reads the book
and writes it back conditioned on the version read (``store/addresses.py``), so two concurrent
requests cannot both add the 20th address or leave two defaults; the loser decides again on a
fresh read. Another customer's address id is, to this caller, no address at all: 404.
Carts take an address of the book by id (``PUT /carts/{id}/shipping-address``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from commerce.clock import now_iso
from commerce.customers.profiles import Identity, ensure_profile
from commerce.domain.addresses import (
    MAX_ADDRESSES,
    AddressBookFull,
    SavedAddress,
    label_error,
    merged_address,
    next_default,
)
from commerce.errors import Conflict, FieldError, NotFound, ValidationFailed
from commerce.observability import logger
from commerce.store import addresses as store
from commerce.store import kit
from commerce.store.addresses import AddressBook

ADDRESS_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
_ATTEMPTS: Final = 5


def _writable(identity: Identity) -> None:
    if ensure_profile(identity).erasing:
        raise Conflict("This account is being erased")


def _label(label: Any) -> str | None:
    error = label_error(label)
    if error is not None:
        raise ValidationFailed([FieldError("label", error)])
    return str(label) if label is not None else None


def _kept_changing() -> Conflict:
    return Conflict("The address book kept changing; try again")


def book(identity: Identity) -> AddressBook:
    """The caller's addresses, oldest first, with the default's id."""
    return store.load_book(identity.sub)


def add(
    identity: Identity, fields: Mapping[str, Any], label: Any = None, *, default: bool = False
) -> tuple[SavedAddress, bool]:
    """Add an address (400 listing every bad field; 409 when the book is full); returns it and
    whether it is the default (the first address always is)."""
    parsed = merged_address(None, fields)
    if isinstance(parsed, list):
        raise ValidationFailed(parsed)
    kept_label = _label(label)
    _writable(identity)
    at = now_iso()
    saved = SavedAddress(uuid.uuid4().hex, parsed, at, at, kept_label)

    def attempt(_: int) -> tuple[SavedAddress, bool] | kit.Retry:
        current = store.load_book(identity.sub)
        if len(current.entries) >= MAX_ADDRESSES:
            raise AddressBookFull()
        default_id = saved.address_id if default or current.default_id is None else None
        if not store.add(identity.sub, current, saved, default_id or current.default_id):
            return kit.RETRY
        return saved, default_id is not None

    added = kit.retry_on_conflict(attempt, give_up=_kept_changing, attempts=_ATTEMPTS)
    logger.info("address added", extra={"address_id": saved.address_id})
    return added


def _entry(current: AddressBook, address_id: str) -> SavedAddress:
    found = current.entry(address_id) if ADDRESS_ID_RE.fullmatch(address_id) else None
    if found is None:
        raise NotFound("No such address")
    return found


def owned_address(sub: str, address_id: str) -> SavedAddress:
    """An address of ``sub``'s book (a cart's owner); 404 for any other id."""
    found = store.load_address(sub, address_id) if ADDRESS_ID_RE.fullmatch(address_id) else None
    if found is None:
        raise NotFound("No such address")
    return found


def get(identity: Identity, address_id: str) -> tuple[SavedAddress, bool]:
    current = store.load_book(identity.sub)
    found = _entry(current, address_id)
    return found, current.default_id == found.address_id


def change(
    identity: Identity,
    address_id: str,
    changes: Mapping[str, Any],
    *,
    label: Any = None,
    label_set: bool = False,
    make_default: bool = False,
) -> tuple[SavedAddress, bool]:
    """Change the fields sent (a field set to null is removed; a required one then fails),
    the label, and with ``make_default`` move the default here."""
    kept_label = _label(label) if label_set else None
    _entry(store.load_book(identity.sub), address_id)  # 404 first: a stranger creates nothing
    _writable(identity)

    def attempt(_: int) -> tuple[SavedAddress, bool] | kit.Retry:
        current = store.load_book(identity.sub)
        found = _entry(current, address_id)
        parsed = merged_address(found.address, changes)
        if isinstance(parsed, list):
            raise ValidationFailed(parsed)
        updated = SavedAddress(
            found.address_id,
            parsed,
            found.created_at,
            now_iso(),
            kept_label if label_set else found.label,
        )
        default_id = address_id if make_default else current.default_id
        if not store.replace(identity.sub, current, updated, default_id):
            return kit.RETRY
        return updated, default_id == address_id

    return kit.retry_on_conflict(attempt, give_up=_kept_changing, attempts=_ATTEMPTS)


def remove(identity: Identity, address_id: str) -> None:
    """Delete an address; when it was the default, the newest of the others becomes it."""

    def attempt(_: int) -> kit.Retry | None:
        current = store.load_book(identity.sub)
        found = _entry(current, address_id)
        default_id = current.default_id
        if default_id == found.address_id:
            default_id = next_default(current.entries, found.address_id)
        if not store.remove(identity.sub, current, found.address_id, default_id):
            return kit.RETRY
        return None

    kit.retry_on_conflict(attempt, give_up=_kept_changing, attempts=_ATTEMPTS)
    logger.info("address removed", extra={"address_id": address_id})
