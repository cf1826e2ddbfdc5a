"""Privacy: personal fields, anonymised orders that still add up, and a complete export."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from commerce.clock import iso
from commerce.domain.money import Money
from commerce.domain.orders import (
    TRANSITIONS,
    Order,
    OrderLine,
    OrderStatus,
    append_history,
    new_order,
)
from commerce.domain.points import LedgerEntry, PointsReason
from commerce.domain.pricing import Totals
from commerce.domain.privacy import (
    ERASED_EMAIL,
    ERASED_OWNER,
    ERASURE,
    EXPORT_SCHEMA_VERSION,
    EXPORT_SECTIONS,
    ORDER_PLACEHOLDERS,
    PERSONAL_FIELDS,
    Erasure,
    RecordKind,
    anonymise_order_fields,
    anonymised,
    closes_for_erasure,
    export_document,
    find_values,
    is_anonymised,
    personal_fields,
    personal_values,
)
from commerce.domain.shipping_address import ShippingAddress, address_errors
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

AT = 1_750_000_000


def stored_order(
    sub: str = "4f1c2d3e-0000-4000-8000-00000000abcd",
    email: str = "li.lei@example.com",
    name: str = "Li Lei",
    line1: str = "88 Century Avenue",
    line2: str | None = "Flat 1201",
    postal_code: str = "200120",
    phone: str = "+8613812345678",
) -> dict[str, Any]:
    """An order item as the Orders table holds it (attribute names of the store's model)."""
    address = {
        "name": name,
        "line1": line1,
        "city": "Shanghai",
        "region": "Shanghai",
        "postal_code": postal_code,
        "country": "CN",
        "phone": phone,
    }
    if line2 is not None:
        address["line2"] = line2
    return {
        "pk": "ORDER#o-1",
        "sk": "ORDER",
        "order_id": "o-1",
        "status": "DELIVERED",
        "version": Decimal(5),
        "owner_sub": sub,
        "email": email,
        "lines": [
            {
                "sku": "SKU-1",
                "quantity": Decimal(2),
                "unit_price": {"amount": Decimal(4999), "currency": "CNY"},
            }
        ],
        "totals": {
            "subtotal": {"amount": Decimal(9998), "currency": "CNY"},
            "discount": {"amount": Decimal(0), "currency": "CNY"},
            "shipping": {"amount": Decimal(0), "currency": "CNY"},
            "points_redeemed": {"amount": Decimal(0), "currency": "CNY"},
            "total": {"amount": Decimal(9998), "currency": "CNY"},
        },
        "shipping_address": address,
        "payment": {"method": "card", "status": "APPROVED", "charge_id": "ch_1"},
        "payment_token": "tok_ok",
        "tracking_number": "SF1234567890",
        "history": [{"status": "DELIVERED", "at": Decimal(AT)}],
        "created_at": iso(AT),
        "gsi1pk": f"CUSTOMER#{sub}",
        "gsi1sk": f"{iso(AT)}#o-1",
    }


KEPT = ("order_id", "status", "lines", "totals", "payment", "history", "created_at")


def test_anonymising_an_order_replaces_every_personal_field_and_keeps_the_accounts() -> None:
    before = stored_order()
    originals = personal_values(RecordKind.ORDER, before)
    assert originals == {
        "4f1c2d3e-0000-4000-8000-00000000abcd",
        "li.lei@example.com",
        "Li Lei",
        "88 Century Avenue",
        "Flat 1201",
        "200120",
        "+8613812345678",
        "tok_ok",
        "SF1234567890",
    }
    after = anonymise_order_fields(before, drop=("gsi1pk", "gsi1sk"))
    assert find_values(after, originals) == []
    assert {k: after[k] for k in KEPT} == {k: before[k] for k in KEPT}
    address = after["shipping_address"]
    assert (address["country"], address["region"], address["city"]) == (
        "CN",
        "Shanghai",
        "Shanghai",
    )
    assert "line2" not in address
    assert "gsi1pk" not in after
    assert is_anonymised(after)
    assert not is_anonymised(before)
    assert before == stored_order()  # the input is not changed
    assert anonymise_order_fields(after) == after  # once is enough; again changes nothing


def test_an_anonymised_address_still_reads_back_as_an_address() -> None:
    address = anonymise_order_fields(stored_order())["shipping_address"]
    assert address_errors(address) == []
    assert ShippingAddress(**address).country == "CN"


def test_orders_without_an_address_or_token_are_anonymised_too() -> None:
    bare = {"order_id": "o-2", "owner_sub": "sub-2", "email": "x@example.com"}
    assert anonymise_order_fields(bare) == {
        "order_id": "o-2",
        "owner_sub": "erased-customer",
        "email": "erased@erased.invalid",
    }


def test_the_placeholders_cover_exactly_the_personal_fields_of_an_order() -> None:
    assert set(ORDER_PLACEHOLDERS) == PERSONAL_FIELDS[RecordKind.ORDER]
    assert personal_fields(RecordKind.ORDER) == PERSONAL_FIELDS[RecordKind.ORDER]


def test_every_kind_of_record_has_personal_fields_and_an_erasure_rule() -> None:
    assert set(PERSONAL_FIELDS) == set(RecordKind) == set(ERASURE)
    assert all(PERSONAL_FIELDS[kind] for kind in RecordKind)
    # Orders stay for accounting; reviews stay as the shop's content, by an erased author.
    assert [k for k, rule in ERASURE.items() if rule is Erasure.ANONYMISE] == [
        RecordKind.ORDER,
        RecordKind.REVIEW,
    ]
    # Kept for tax and accounting, identifying no one on their own.
    assert (
        not {"shipping_address.city", "shipping_address.country"}
        & PERSONAL_FIELDS[RecordKind.ORDER]
    )


text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=4, max_size=30
)


@settings(deadline=None)
@given(
    sub=st.uuids().map(str),
    email=st.emails(),
    name=text,
    line1=text,
    line2=st.none() | text,
    postal=st.from_regex(r"[0-9]{6}", fullmatch=True),
    phone=st.from_regex(r"\+86 ?1[3-9][0-9]{9}", fullmatch=True),
)
def test_no_original_personal_value_survives_anonymisation(
    sub: str, email: str, name: str, line1: str, line2: str | None, postal: str, phone: str
) -> None:
    before = stored_order(sub, email, name, line1, line2, postal, phone)
    after = anonymise_order_fields(before, drop=("gsi1pk", "gsi1sk"))
    # Exact: the anonymised order does not depend on the personal values at all...
    assert after == anonymise_order_fields(stored_order(), drop=("gsi1pk", "gsi1sk"))
    # ...so none of them is left in it, unless it also occurs in what is rightly kept (a value
    # such as "city" or "CN" cannot tell a leak from a coincidence).
    as_json = json.dumps(after, default=str, ensure_ascii=False).casefold()
    originals = personal_values(RecordKind.ORDER, before)
    skeleton = json.dumps(
        anonymise_order_fields(stored_order(), drop=("gsi1pk", "gsi1sk")), default=str
    ).casefold()
    for value in originals:
        if value.casefold() not in skeleton:
            assert value.casefold() not in as_json


def test_find_values_looks_everywhere_and_ignores_case() -> None:
    document = {"a": [{"b": "mail LI.LEI@example.com"}], "Li.Lei@example.com": 1, "n": 5}
    assert find_values(document, {"li.lei@example.com"}) == ["$.a[0].b", "$.Li.Lei@example.com"]
    assert find_values(document, {"nobody"}) == []
    assert find_values(document, {""}) == []


# --- Erasure with orders still open -----------------------------------------------------------

#: Where an erased customer's order no longer needs them: it is anonymised in the move there.
CLOSING = {
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
    OrderStatus.REFUNDED,
    OrderStatus.PAYMENT_FAILED,
}


def test_an_open_order_closes_when_delivered_cancelled_refunded_or_failed() -> None:
    assert {status for status in OrderStatus if closes_for_erasure(status)} == CLOSING
    assert not any(closes_for_erasure(s) for s in OrderStatus if s not in CLOSING)


def test_every_open_order_can_still_close_so_no_erasure_waits_forever() -> None:
    """From each open status some chain of moves reaches a closing one: a scheduled erasure
    always has a way to finish (the payment timeout, a cancel, a delivery, a refund)."""
    for start in set(OrderStatus) - CLOSING:
        reached, frontier = {start}, [start]
        while frontier:
            status = frontier.pop()
            for (source, _), move in TRANSITIONS.items():
                if source is status and move.status not in reached:
                    reached.add(move.status)
                    frontier.append(move.status)
        assert reached & CLOSING, start


def domain_order(
    status: OrderStatus = OrderStatus.SHIPPED,
    sub: str = "4f1c2d3e-0000-4000-8000-00000000abcd",
    email: str = "li.lei@example.com",
    name: str = "Li Lei",
    line1: str = "88 Century Avenue",
    line2: str | None = "Flat 1201",
    postal_code: str = "200120",
    phone: str = "+8613812345678",
) -> Order:
    """A customer's order in ``status`` (its history ends there), as the store reads it."""
    zero = Money(0)
    placed = new_order(
        "o-open",
        email=email,
        lines=(OrderLine("SKU-1", 2, Money(4999)),),
        totals=Totals(Money(9998), zero, zero, zero, Money(9998)),
        created_at=AT,
        owner=sub,
        shipping_address=ShippingAddress(
            name=name,
            line1=line1,
            line2=line2,
            city="Shanghai",
            region="Shanghai",
            postal_code=postal_code,
            country="CN",
            phone=phone,
        ),
    )
    return replace(placed, status=status, history=append_history(placed.history, status, AT + 60))


#: Address text the address rules accept: no space at either end.
address_text = st.from_regex(
    r"[A-Za-z\u4e00-\u9fa5][A-Za-z0-9 \u4e00-\u9fa5]{1,28}[A-Za-z0-9\u4e00-\u9fa5]",
    fullmatch=True,
)


@settings(deadline=None)
@given(
    status=st.sampled_from(sorted(OrderStatus)),
    sub=st.uuids().map(str),
    email=st.emails(),
    name=address_text,
    line1=address_text,
    line2=st.none() | address_text,
    postal=st.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
    phone=st.from_regex(r"\+861[3-9][0-9]{9}", fullmatch=True),
)
def test_the_closing_move_sees_an_order_with_nothing_of_its_customer_left(
    status: OrderStatus,
    sub: str,
    email: str,
    name: str,
    line1: str,
    line2: str | None,
    postal: str,
    phone: str,
) -> None:
    """``anonymised`` (what the closing move decides on and writes) leaves exactly what the
    stored-item rule leaves: it depends on no personal value, keeps the accounts, and a second
    pass changes nothing."""
    before = domain_order(status, sub, email, name, line1, line2, postal, phone)
    after = anonymised(before)
    assert after == anonymised(domain_order(status))
    assert anonymised(after) == after
    assert (after.owner, after.email) == (ERASED_OWNER, ERASED_EMAIL)
    kept = ("order_id", "status", "lines", "totals", "payment", "history", "created_at")
    assert {k: getattr(after, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert before.shipping_address is not None
    assert after.shipping_address is not None
    assert (
        after.shipping_address.to_dict()
        == (
            anonymise_order_fields({"shipping_address": before.shipping_address.to_dict()})[
                "shipping_address"
            ]
        )
    )
    assert (after.shipping_address.city, after.shipping_address.country) == ("Shanghai", "CN")


def test_a_guest_order_stays_a_guest_order_when_anonymised() -> None:
    guest = replace(domain_order(), owner=None, order_token_hash="h" * 64)
    assert anonymised(guest).owner is None
    assert anonymised(guest).email == ERASED_EMAIL


# --- Export -----------------------------------------------------------------------------------


def test_an_export_has_every_section_even_when_empty() -> None:
    document = export_document(None, [], [], [], [], [], [], generated_at=AT)
    assert list(document) == ["schema_version", "generated_at", *EXPORT_SECTIONS]
    assert document["schema_version"] == EXPORT_SCHEMA_VERSION
    assert document["profile"] == {}
    assert document["points"] == {"balance": 0, "ledger": []}
    for section in ("consents", "devices", "addresses", "orders", "messages", "reviews"):
        assert document[section] == []
    json.dumps(document)


def test_an_export_holds_every_record_as_plain_json() -> None:
    zero = Money(0)
    order = new_order(
        "o-9",
        email="li.lei@example.com",
        lines=(OrderLine("SKU-1", 1, Money(12_345)),),
        totals=Totals(Money(12_345), zero, zero, zero, Money(12_345)),
        created_at=AT,
        owner="sub-1",
    )
    ledger = [
        LedgerEntry(123, PointsReason.EARNED, "o-9", AT),
        LedgerEntry(-23, PointsReason.REDEEMED, "o-10", AT + 1),
    ]
    document = export_document(
        {
            "pk": "CUSTOMER#sub-1",
            "sk": "PROFILE",
            "customer_id": "sub-1",
            "email": "li.lei@example.com",
            "version": Decimal(3),
            "channels": {"email", "sms"},
        },
        [{"purpose": "marketing", "given": True, "at": Decimal(AT), "source": "app"}],
        [{"device_token": "dev-abc", "platform": "ios", "token_hash": "secret"}],
        [{"name": "Li Lei", "line1": "88 Century Avenue", "city": "Shanghai", "gsi1pk": "X"}],
        [order, stored_order()],
        ledger,
        [
            {
                "channel": "email",
                "to": "li.lei@example.com",
                "template": "order-paid",
                "status": OrderStatus.PAID,
            }
        ],
        generated_at=AT,
        reviews=[{"review_id": "r-1", "customer_id": "sub-1", "rating": Decimal(4), "pk": "R"}],
    )
    as_json = json.loads(json.dumps(document))  # plain JSON: no Decimal, Money, set or Enum left
    assert as_json == document
    assert document["profile"] == {
        "customer_id": "sub-1",
        "email": "li.lei@example.com",
        "version": 3,
        "channels": ["email", "sms"],
    }
    assert document["consents"] == [
        {"purpose": "marketing", "given": True, "at": AT, "source": "app"}
    ]
    assert document["devices"] == [{"device_token": "dev-abc", "platform": "ios"}]
    assert document["addresses"] == [
        {"name": "Li Lei", "line1": "88 Century Avenue", "city": "Shanghai"}
    ]
    assert [o["order_id"] for o in document["orders"]] == ["o-9", "o-1"]
    assert document["orders"][0]["email"] == "li.lei@example.com"
    assert document["orders"][0]["totals"]["total"] == {"amount": 12_345, "currency": "CNY"}
    assert "payment_token" not in document["orders"][1]
    assert "pk" not in document["orders"][1]
    assert document["points"]["balance"] == 100
    assert [e["delta"] for e in document["points"]["ledger"]] == [123, -23]
    assert document["messages"][0]["status"] == "PAID"
    assert document["reviews"] == [{"review_id": "r-1", "customer_id": "sub-1", "rating": 4}]
    assert document["generated_at"] == iso(AT)
