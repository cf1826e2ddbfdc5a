"""Address book storage (Customers table, the customer's partition).

- ``pk=CUSTOMER#{sub}, sk=ADDRESSBOOK``: ``entries`` (how many), ``default_id``, ``version``.
- ``pk=CUSTOMER#{sub}, sk=ADDRESS#{address_id}``: one address (the cart address fields,
  ``label``?, ``created_at``/``updated_at``).

Every change of the book is one transaction: the header, conditioned on the version it was read
at (so of two concurrent changes one wins, and the 21st address or a second default cannot slip
in between a read and a write), and the one address it adds, changes or removes. Erasure deletes
both with the rest of the customer's partition (``store/customers.delete_customer_records``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce.domain.addresses import SavedAddress
from commerce.domain.shipping_address import ShippingAddress
from commerce.store import keys
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.customers import AddressBookModel, AddressModel
from commerce.store.transactions import LabelledTransaction

BOOK_LABEL: Final = "address_book"
ADDRESS_LABEL: Final = "address"


@dataclass(frozen=True)
class AddressBook:
    """A customer's book as read: entries oldest first, the default's id, the version read."""

    entries: tuple[SavedAddress, ...] = field(default_factory=tuple)
    default_id: str | None = None
    version: int = 0

    def entry(self, address_id: str) -> SavedAddress | None:
        return next((e for e in self.entries if e.address_id == address_id), None)


def _saved(model: AddressModel) -> SavedAddress:
    address = ShippingAddress(
        name=model.name,
        line1=model.line1,
        line2=model.line2,
        city=model.city,
        region=model.region,
        postal_code=model.postal_code,
        country=model.country,
        phone=model.phone,
    )
    return SavedAddress(
        address_id=model.address_id,
        address=address,
        created_at=model.created_at,
        updated_at=model.updated_at,
        label=model.label,
    )


def load_book(sub: str) -> AddressBook:
    """The customer's whole book, read consistently (an empty book before the first)."""
    try:
        header = AddressBookModel.get(
            keys.customer_pk(sub), keys.ADDRESS_BOOK_SK, consistent_read=True
        )
        default_id, version = header.default_id, int(header.version or 0)
    except AddressBookModel.DoesNotExist:
        default_id, version = None, 0
    rows = AddressModel.query(
        keys.customer_pk(sub),
        AddressModel.sk.startswith(keys.ADDRESS_SK_PREFIX),
        consistent_read=True,
    )
    entries = sorted((_saved(row) for row in rows), key=lambda e: (e.created_at, e.address_id))
    return AddressBook(tuple(entries), default_id, version)


def load_address(sub: str, address_id: str) -> SavedAddress | None:
    """One address of the customer's book (None when the book has no such entry)."""
    try:
        row = AddressModel.get(
            keys.customer_pk(sub), keys.address_sk(address_id), consistent_read=True
        )
    except AddressModel.DoesNotExist:
        return None
    return _saved(row)


def _model(sub: str, saved: SavedAddress) -> AddressModel:
    fields = saved.address.to_dict()
    return AddressModel(
        keys.customer_pk(sub),
        keys.address_sk(saved.address_id),
        customer_id=sub,
        address_id=saved.address_id,
        label=saved.label,
        name=fields["name"],
        line1=fields["line1"],
        line2=fields.get("line2"),
        city=fields["city"],
        region=fields.get("region"),
        postal_code=fields["postal_code"],
        country=fields["country"],
        phone=fields["phone"],
        created_at=saved.created_at,
        updated_at=saved.updated_at,
    )


def _as_read(version: int) -> Condition:
    """The header is still as read: its version, or absent for a book never written."""
    condition: Condition = AddressBookModel.version == version
    if version == 0:
        condition = AddressBookModel.pk.does_not_exist() | condition
    return condition


def _header(
    tx: LabelledTransaction, sub: str, book: AddressBook, count_delta: int, default_id: str | None
) -> None:
    actions: list[Action] = [
        AddressBookModel.customer_id.set(sub),
        AddressBookModel.entries.set(len(book.entries) + count_delta),
        AddressBookModel.version.set(book.version + 1),
    ]
    if default_id is None:
        actions.append(AddressBookModel.default_id.remove())
    else:
        actions.append(AddressBookModel.default_id.set(default_id))
    row = AddressBookModel(keys.customer_pk(sub), keys.ADDRESS_BOOK_SK)
    tx.update(BOOK_LABEL, row, actions, _as_read(book.version))


def _committed(tx: LabelledTransaction) -> bool:
    failures = tx.commit()
    if not failures:
        return True
    if any(f.label == BOOK_LABEL and f.code == CONDITION_FAILED for f in failures):
        return False
    raise RuntimeError(f"address book change refused: {[(f.label, f.code) for f in failures]}")


def add(sub: str, book: AddressBook, saved: SavedAddress, default_id: str | None) -> bool:
    """Add ``saved`` to the book read as ``book``; False when the book changed meanwhile."""
    tx = LabelledTransaction()
    _header(tx, sub, book, +1, default_id)
    tx.put(ADDRESS_LABEL, _model(sub, saved), AddressModel.sk.does_not_exist())
    return _committed(tx)


def replace(sub: str, book: AddressBook, saved: SavedAddress, default_id: str | None) -> bool:
    """Write ``saved`` over its entry in the book read as ``book``; False when it changed."""
    tx = LabelledTransaction()
    _header(tx, sub, book, 0, default_id)
    tx.put(ADDRESS_LABEL, _model(sub, saved), AddressModel.sk.exists())
    return _committed(tx)


def remove(sub: str, book: AddressBook, address_id: str, default_id: str | None) -> bool:
    """Delete the entry from the book read as ``book``; False when the book changed."""
    tx = LabelledTransaction()
    _header(tx, sub, book, -1, default_id)
    row = AddressModel(keys.customer_pk(sub), keys.address_sk(address_id))
    tx.delete(ADDRESS_LABEL, row, AddressModel.sk.exists())
    return _committed(tx)
