"""Address book rules: labels, changes checked as a new address, who becomes the default."""

from __future__ import annotations

import pytest
from commerce.domain.addresses import (
    MAX_ADDRESSES,
    AddressBookFull,
    SavedAddress,
    label_error,
    merged_address,
    next_default,
)
from commerce.domain.shipping_address import ShippingAddress

pytestmark = pytest.mark.unit

FIELDS = {
    "name": "Li Wei",
    "line1": "88 Nanjing East Road",
    "city": "Shanghai",
    "postal_code": "200001",
    "country": "cn",
    "phone": "13812345678",
}


def test_a_new_address_is_normalised_as_a_carts() -> None:
    address = merged_address(None, FIELDS)
    assert isinstance(address, ShippingAddress)
    assert (address.country, address.phone) == ("CN", "+8613812345678")


def test_a_change_keeps_the_rest_and_null_removes_an_optional_field() -> None:
    base = merged_address(None, {**FIELDS, "line2": "Room 1203"})
    assert isinstance(base, ShippingAddress)
    moved = merged_address(base, {"city": "Beijing", "postal_code": "100080", "line2": None})
    assert isinstance(moved, ShippingAddress)
    assert (moved.city, moved.postal_code, moved.line2, moved.name) == (
        "Beijing",
        "100080",
        None,
        "Li Wei",
    )


def test_every_bad_field_at_once_and_a_required_field_cannot_be_removed() -> None:
    bad = merged_address(None, {**FIELDS, "postal_code": "12", "phone": "call me"})
    assert isinstance(bad, list)
    assert {e.field for e in bad} == {"postal_code", "phone"}
    base = merged_address(None, FIELDS)
    assert isinstance(base, ShippingAddress)
    removed = merged_address(base, {"name": None})
    assert isinstance(removed, list)
    assert [e.field for e in removed] == ["name"]


@pytest.mark.parametrize(
    ("label", "ok"),
    [
        (None, True),
        ("家", True),
        ("Office", True),
        ("", False),
        (" Home", False),
        ("x" * 41, False),
        ("a\tb", False),
        (3, False),
    ],
)
def test_labels(label: object, ok: bool) -> None:
    assert (label_error(label) is None) is ok


def saved(address_id: str, created_at: str) -> SavedAddress:
    address = merged_address(None, FIELDS)
    assert isinstance(address, ShippingAddress)
    return SavedAddress(address_id, address, created_at, created_at)


def test_the_newest_other_address_becomes_the_default() -> None:
    book = [
        saved("a", "2026-01-01T00:00:00Z"),
        saved("b", "2026-03-01T00:00:00Z"),
        saved("c", "2026-02-01T00:00:00Z"),
    ]
    assert next_default(book, "b") == "c"
    assert next_default(book, "a") == "b"
    assert next_default([book[0]], "a") is None


def test_a_full_book_is_a_conflict_naming_the_limit() -> None:
    full = AddressBookFull()
    assert (full.status, full.type) == (409, "conflict")
    assert full.extensions == {"limit": MAX_ADDRESSES} == {"limit": 20}
