"""Privacy rights as pure rules: which fields are personal, what erasure does to each record, and
the export document.

Erasure (``DELETE /me``) deletes every record that exists only because of the customer and
anonymises the ones the business must keep: orders stay for accounting, with their personal
fields replaced by fixed placeholders. The placeholders still pass the address rules, so an
anonymised order reads back as an ordinary ``Order``; country, region and city are kept (tax and
accounting need them, and they identify no one). docs/customers.md states the rules.

``PERSONAL_FIELDS`` names, per kind of record, every field whose value identifies the customer.
The erasure test reads those values before erasing and then scans every table for them
(``find_values``); an anonymised order must contain none of them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, Final

from commerce.clock import iso
from commerce.domain.money import Money
from commerce.domain.orders import Order, OrderStatus
from commerce.domain.points import LedgerEntry, balance
from commerce.domain.shipping_address import ShippingAddress


class RecordKind(StrEnum):
    """The kinds of record held about a customer."""

    PROFILE = "profile"
    CONSENT = "consent"
    DEVICE = "device"
    ADDRESS = "address"
    ORDER = "order"
    POINTS = "points"  # ledger entries
    COUPON_USE = "coupon_use"  # per-customer coupon use counters
    MESSAGE = "message"  # notifications sent
    REVIEW = "review"  # product reviews the customer wrote
    PURCHASE = "purchase"  # buyer records: products received, what lets them review
    TICKET = "ticket"  # support tickets
    TICKET_MESSAGE = "ticket_message"  # what was written in them
    RFM = "rfm"  # the order stream's value of the customer (recency, frequency, monetary)


#: Fields (dotted paths into nested maps) whose values identify the customer, per record kind.
#: Kept by an anonymised order and deliberately absent here: country, region, city.
PERSONAL_FIELDS: Final[Mapping[RecordKind, frozenset[str]]] = {
    RecordKind.PROFILE: frozenset({"customer_id", "email", "name", "phone"}),
    RecordKind.CONSENT: frozenset({"customer_id", "ip_address", "user_agent"}),
    RecordKind.DEVICE: frozenset({"customer_id", "device_token", "endpoint_arn"}),
    RecordKind.ADDRESS: frozenset(
        {"customer_id", "name", "line1", "line2", "postal_code", "phone"}
    ),
    RecordKind.ORDER: frozenset(
        {
            "owner_sub",
            "email",
            "payment_token",
            "tracking_number",
            "shipping_address.name",
            "shipping_address.line1",
            "shipping_address.line2",
            "shipping_address.postal_code",
            "shipping_address.phone",
        }
    ),
    RecordKind.POINTS: frozenset({"customer_id"}),
    RecordKind.COUPON_USE: frozenset({"customer_id"}),
    RecordKind.MESSAGE: frozenset({"customer_id", "to"}),
    RecordKind.REVIEW: frozenset({"customer_id"}),
    RecordKind.PURCHASE: frozenset({"customer_id"}),
    RecordKind.TICKET: frozenset({"customer_id", "email", "subject"}),
    RecordKind.TICKET_MESSAGE: frozenset({"message"}),
    RecordKind.RFM: frozenset({"customer_id"}),
}


def personal_fields(kind: RecordKind) -> frozenset[str]:
    """The personal fields of a record of ``kind`` (dotted paths into nested maps)."""
    return PERSONAL_FIELDS[kind]


class Erasure(StrEnum):
    """What erasure does to a record: gone, or kept with its personal fields replaced."""

    DELETE = "delete"
    ANONYMISE = "anonymise"


#: What ``DELETE /me`` does to each kind of record. Orders are kept (accounting), and reviews
#: (the shop's content: their rating and text stay, their author becomes ``ERASED_OWNER``).
ERASURE: Final[Mapping[RecordKind, Erasure]] = {
    RecordKind.PROFILE: Erasure.DELETE,
    RecordKind.CONSENT: Erasure.DELETE,
    RecordKind.DEVICE: Erasure.DELETE,
    RecordKind.ADDRESS: Erasure.DELETE,
    RecordKind.ORDER: Erasure.ANONYMISE,
    RecordKind.POINTS: Erasure.DELETE,
    RecordKind.COUPON_USE: Erasure.DELETE,
    RecordKind.MESSAGE: Erasure.DELETE,
    RecordKind.REVIEW: Erasure.ANONYMISE,
    RecordKind.PURCHASE: Erasure.DELETE,
    RecordKind.TICKET: Erasure.DELETE,
    RecordKind.TICKET_MESSAGE: Erasure.DELETE,
    RecordKind.RFM: Erasure.DELETE,
}

#: Orders in these statuses still need the customer's address and email (payment, delivery, a
#: return under way): erasure leaves them as they are until the move that closes them, which
#: anonymises them in the same write (``closes_for_erasure``).
OPEN_STATUSES: Final = frozenset(
    {
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
        OrderStatus.RETURN_REQUESTED,
    }
)


def closes_for_erasure(status: OrderStatus) -> bool:
    """Whether an order waiting to be anonymised is anonymised on reaching ``status``:
    delivered, cancelled, refunded or failed, it needs its customer no more."""
    return status not in OPEN_STATUSES


# --- Anonymising an order ---------------------------------------------------------------------

#: Stands in for the customer's id on an erased order. Cognito subs are UUIDs, so no caller
#: ever has it, and the order is left to staff (support, ops, admin) alone.
ERASED_OWNER: Final = "erased-customer"
#: ``.invalid`` is reserved (RFC 2606): mail to it can never be delivered.
ERASED_EMAIL: Final = "erased@erased.invalid"
ERASED_TEXT: Final = "ERASED"
ERASED_POSTAL_CODE: Final = "000000"
#: E.164-shaped, in the unassigned country code +999.
ERASED_PHONE: Final = "+99900000000"

#: The value each personal field of an order gets; None removes the field.
ORDER_PLACEHOLDERS: Final[Mapping[str, str | None]] = {
    "owner_sub": ERASED_OWNER,
    "email": ERASED_EMAIL,
    "payment_token": None,
    "tracking_number": None,
    "shipping_address.name": ERASED_TEXT,
    "shipping_address.line1": ERASED_TEXT,
    "shipping_address.line2": None,
    "shipping_address.postal_code": ERASED_POSTAL_CODE,
    "shipping_address.phone": ERASED_PHONE,
}


def anonymise_order_fields(order: Mapping[str, Any], drop: Collection[str] = ()) -> dict[str, Any]:
    """A copy of a stored order (its item's attributes) with every personal field replaced.

    Lines, totals, payment, history, country, region and city are untouched, so the order
    still adds up. ``drop`` names further attributes to remove: the store's index keys that
    embed the customer's id. Anonymising an anonymised order changes nothing.
    """
    result = copy.deepcopy(dict(order))
    for path, placeholder in ORDER_PLACEHOLDERS.items():
        *parents, leaf = path.split(".")
        target: Any = result
        for name in parents:
            target = target.get(name) if isinstance(target, dict) else None
        if not isinstance(target, dict) or leaf not in target:
            continue
        if placeholder is None:
            del target[leaf]
        else:
            target[leaf] = placeholder
    for name in drop:
        result.pop(name, None)
    return result


def anonymised(order: Order) -> Order:
    """The domain order as ``anonymise_order_fields`` leaves its item: owner, email and the
    address's personal fields replaced by the placeholders, all else as it was."""
    address = order.shipping_address
    if address is not None:
        fields = anonymise_order_fields({"shipping_address": address.to_dict()})
        address = ShippingAddress(**fields["shipping_address"])
    return dataclasses.replace(
        order,
        owner=ERASED_OWNER if order.owner is not None else None,
        email=ERASED_EMAIL,
        shipping_address=address,
    )


def is_anonymised(order: Mapping[str, Any]) -> bool:
    """True for a stored order that erasure has already anonymised."""
    return order.get("owner_sub") == ERASED_OWNER and order.get("email") == ERASED_EMAIL


# --- Finding personal values ------------------------------------------------------------------


def personal_values(kind: RecordKind, record: Mapping[str, Any]) -> set[str]:
    """The non-empty string values of ``record``'s personal fields (what must vanish)."""
    found: set[str] = set()
    for path in PERSONAL_FIELDS[kind]:
        value: Any = record
        for name in path.split("."):
            value = value.get(name) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value:
            found.add(value)
    return found


def find_values(document: Any, values: Collection[str], path: str = "$") -> list[str]:
    """Paths in ``document`` (maps, lists, strings) where any of ``values`` occurs, ignoring
    case, inside a string or a map key. Empty when the document holds none of them."""
    needles = [v.casefold() for v in values if v]
    hits: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, str):
            text = node.casefold()
            if any(n in text for n in needles):
                hits.append(where)
        elif isinstance(node, Mapping):
            for key, child in node.items():
                if isinstance(key, str) and any(n in key.casefold() for n in needles):
                    hits.append(f"{where}.{key}")
                walk(child, f"{where}.{key}")
        elif isinstance(node, list | tuple | set | frozenset):
            for index, child in enumerate(node):
                walk(child, f"{where}[{index}]")

    walk(document, path)
    return hits


# --- The export document ----------------------------------------------------------------------

#: Bumped whenever a section changes shape, so a reader knows what it holds.
#: 2: the address book joined ``addresses`` (each record says its ``source``), and ``tickets``.
EXPORT_SCHEMA_VERSION: Final = 2
EXPORT_SECTIONS: Final = (
    "profile",
    "consents",
    "devices",
    "addresses",
    "orders",
    "points",
    "messages",
    "reviews",
    "tickets",
    "rfm",
)
#: Storage keys and secrets left out of every exported record (they say nothing about the
#: customer that the rest of the record does not).
_INTERNAL_KEYS: Final = frozenset({"pk", "sk", "ttl", "payment_token"})


def _internal(key: str) -> bool:
    return key in _INTERNAL_KEYS or key.startswith("gsi") or key.endswith("_hash")


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: Money as API.md writes it, DynamoDB numbers as numbers."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    if isinstance(value, Money):
        return value.to_dict()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return str(value)


def _record(record: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _jsonable(v) for k, v in record.items() if not _internal(str(k))}


def _order(order: Order | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(order, Order):
        return {**_jsonable(order.to_dict()), "email": order.email}
    return _record(order)


def export_document(
    profile: Mapping[str, Any] | None,
    consents: Iterable[Mapping[str, Any]],
    devices: Iterable[Mapping[str, Any]],
    addresses: Iterable[Mapping[str, Any]],
    orders: Iterable[Order | Mapping[str, Any]],
    points_ledger: Iterable[LedgerEntry],
    messages: Iterable[Mapping[str, Any]],
    *,
    generated_at: int,
    reviews: Iterable[Mapping[str, Any]] = (),
    tickets: Iterable[Mapping[str, Any]] = (),
    rfm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of ``GET /me/export``: everything held about the caller, as one JSON document.

    Every section is present, empty when there is nothing (``profile`` is then ``{}``); records
    keep their own field names, less storage keys and secrets; ``points`` carries the balance
    and every ledger entry in order; ``rfm`` the customer's RFM as support sees it.
    """
    entries = list(points_ledger)
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "generated_at": iso(generated_at),
        "profile": _record(profile) if profile is not None else {},
        "consents": [_record(c) for c in consents],
        "devices": [_record(d) for d in devices],
        "addresses": [_record(a) for a in addresses],
        "orders": [_order(o) for o in orders],
        "points": {"balance": balance(entries), "ledger": [e.to_dict() for e in entries]},
        "messages": [_record(m) for m in messages],
        "reviews": [_record(r) for r in reviews],
        "tickets": [_record(t) for t in tickets],
        "rfm": _record(rfm) if rfm is not None else {},
    }
