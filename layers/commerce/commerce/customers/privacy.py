"""Privacy rights: the export of everything held about the caller, and erasure.

Erasure follows docs/customers.md: refused (409) while an order is open; otherwise every step is
idempotent and the profile goes last, so a retried ``DELETE /me`` finishes what a failed one
began. A cart still holding stock is also a 409 (its holds must be released, not deleted).
Then: (1) the profile is marked as being erased, (2) the Cognito user is disabled, (3) each
order is anonymised and leaves the customer's index, (4) carts, devices (their push endpoints
and token ownership first), consents, the address book, the points ledger, the per-coupon use
counters, messages, support tickets and the customer's RFM value and campaign memberships are
deleted, and reviews are anonymised (their buyer records deleted), (5) the profile is deleted.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from commerce import clock
from commerce.clock import now_iso
from commerce.customers import devices
from commerce.customers.profiles import Identity, ensure_profile
from commerce.customers.rfm import rfm_record
from commerce.domain.orders import Order
from commerce.domain.points import LedgerEntry
from commerce.domain.privacy import erasure_blockers, export_document
from commerce.errors import Conflict
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import addresses as address_store
from commerce.store import analytics as analytics_store
from commerce.store import carts as cart_store
from commerce.store import coupons as coupon_store
from commerce.store import customers as store
from commerce.store import notifications as sent_records
from commerce.store import orders as order_store
from commerce.store import points as points_store
from commerce.store import reviews as review_store
from commerce.tickets import service as tickets

_PAGE = 100


def customer_orders(sub: str) -> list[Order]:
    """Every order still in the customer's index, newest first."""
    return [stored.order for stored in order_store.each_customer_order(sub, _PAGE)]


def points_ledger(sub: str) -> list[LedgerEntry]:
    """The customer's points ledger, oldest first; within one second credits before debits, so
    entries of the same second never seem to take the balance below zero."""
    entries = [
        LedgerEntry(
            e.delta,
            e.reason,
            e.order_id,
            clock.epoch(e.at),
            e.ref,
        )
        for e in points_store.ledger(sub)
    ]
    return sorted(entries, key=lambda e: (e.at, -e.delta))


def export(identity: Identity) -> dict[str, Any]:
    """The ``GET /me/export`` document: every section, empty where nothing is held."""
    profile = ensure_profile(identity)
    orders = customer_orders(identity.sub)
    document = export_document(
        profile.to_record(),
        [{"customer_id": identity.sub, **c.to_dict()} for c in store.consent_history(identity.sub)],
        [{"customer_id": identity.sub, **d.to_record()} for d in devices.listed(identity)],
        _addresses(identity.sub, orders),
        orders,
        points_ledger(identity.sub),
        sent_records.customer_messages(identity.sub),
        generated_at=clock.now(),
        reviews=[asdict(review) for review in review_store.customer_reviews(identity.sub)],
        tickets=tickets.customer_records(identity.sub),
        rfm={"customer_id": identity.sub, **rfm_record(identity.sub, clock.now())},
    )
    document["points"]["balance"] = points_store.balance_of(identity.sub)
    return document


def _addresses(sub: str, orders: list[Order]) -> list[dict[str, Any]]:
    """The address book's entries, then the other addresses the customer's orders went to."""
    book = address_store.load_book(sub)
    records: list[dict[str, Any]] = [
        {
            "customer_id": sub,
            "source": "address_book",
            "address_id": entry.address_id,
            "label": entry.label,
            "default": entry.address_id == book.default_id,
            **entry.address.to_dict(),
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
        }
        for entry in book.entries
    ]
    seen = [entry.address.to_dict() for entry in book.entries]
    for order in orders:
        if order.shipping_address is not None:
            fields = order.shipping_address.to_dict()
            if fields not in seen:
                seen.append(fields)
                records.append({"customer_id": sub, "source": "order", **fields})
    return records


@lru_cache(maxsize=1)
def _cognito() -> Any:
    return boto3.client("cognito-idp", region_name=get_settings().region)


def user_pool_id() -> str:
    return get_settings().user_pool_id


def disable_user(username: str) -> None:
    """Disable the caller's sign-in; a user already gone (or never in the pool) is no error."""
    pool = user_pool_id()
    if not pool:
        logger.warning("No user pool configured: the user was not disabled")
        return
    try:
        _cognito().admin_disable_user(UserPoolId=pool, Username=username)
    except ClientError as error:
        if error.response["Error"]["Code"] != "UserNotFoundException":
            raise
        logger.info("Cognito user not found while erasing; nothing to disable")


def erase(identity: Identity) -> None:
    """``DELETE /me``: 409 while an order is open; otherwise erase, each step idempotent."""
    sub = identity.sub
    blockers = erasure_blockers(customer_orders(sub))
    if blockers:
        raise Conflict(
            "Orders still open need the account: wait until they are delivered or cancelled",
            order_ids=blockers,
        )
    if cart_store.customer_carts_hold_stock(sub):
        raise Conflict(
            "A cart still holds stock: empty it (or let its holds expire) before erasing"
        )
    store.mark_erasing(sub)
    if identity.username:
        disable_user(identity.username)
    at = now_iso()
    for order_id in order_store.customer_order_ids(sub):
        order_store.anonymise_order(order_id, sub, updated_at=at)
    cart_store.delete_customer_carts(sub)
    devices.forget_all(sub)
    store.delete_customer_records(sub)
    coupon_store.delete_customer_uses(sub)
    sent_records.delete_customer_messages(sub)
    review_store.erase_customer(sub)
    tickets.erase_customer(sub)
    analytics_store.delete_customer_records(sub)
    store.delete_profile(sub)
    logger.info("Customer erased")
