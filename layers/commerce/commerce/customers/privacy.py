"""Privacy rights: the export of everything held about the caller, and erasure.

Erasure follows docs/customers.md and never leaves the customer a dead end: it is done at once
when no order is open, and otherwise done at once for everything but the open orders, each of
which is anonymised by the move that closes it (``orders.moves``). The steps:

0. the tombstone (``store/erasures.py``): from now on every token of the subject, however
   fresh, is refused (401) and re-creates nothing;
1. the profile is marked as being erased: no message goes to them any more;
2. the Cognito user is disabled and signed out everywhere;
3. the holds of their carts are given back and the carts deleted;
4. each closed order is anonymised and leaves the customer's index; each open one is marked to
   be anonymised when it closes;
5. devices (their push endpoints and token ownership first), consents, the address book, the
   points ledger, the per-coupon use counters, messages, support tickets and the customer's RFM
   value and campaign memberships are deleted, reviews are anonymised (their buyer records
   deleted), and the profile goes last;
6. the tombstone says ``erased`` (and forgets the sub) or ``scheduled`` (open orders named).

Every step is idempotent. The sweeper (``resume_erasures``) runs them again for an erasure a
failure interrupted, and finishes a scheduled one once its last open order has closed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Final

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from commerce import clock
from commerce.catalog.low_stock import check_low_stock
from commerce.clock import now_iso
from commerce.customers import devices
from commerce.customers.profiles import Identity, ensure_profile
from commerce.customers.rfm import rfm_record
from commerce.domain.orders import Order
from commerce.domain.points import LedgerEntry
from commerce.domain.privacy import closes_for_erasure, export_document
from commerce.errors import TooManyRequests
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import addresses as address_store
from commerce.store import analytics as analytics_store
from commerce.store import carts as cart_store
from commerce.store import coupons as coupon_store
from commerce.store import customers as store
from commerce.store import erasures, holds
from commerce.store import notifications as sent_records
from commerce.store import orders as order_store
from commerce.store import points as points_store
from commerce.store import reviews as review_store
from commerce.store.erasures import Tombstone
from commerce.store.holds import ExpiredHold
from commerce.store.orders import Settled
from commerce.tickets import records as tickets

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


#: What step 2 asks of the user pool, in this order: no new sign-in, then no session left.
_REVOCATIONS: Final = ("admin_disable_user", "admin_user_global_sign_out")


def sign_out(username: str) -> None:
    """Step 2: the user can no longer sign in (disabled), and every session they had is ended
    (signed out everywhere: refresh tokens revoked). ID tokens already issued stay valid at the
    authorizer until they expire: the tombstone refuses those. A user already gone (or never in
    the pool) is no error."""
    pool = user_pool_id()
    if not pool:
        logger.warning("No user pool configured: the sign-in was not revoked")
        return
    for action in _REVOCATIONS:
        try:
            getattr(_cognito(), action)(UserPoolId=pool, Username=username)
        except ClientError as error:
            if error.response["Error"]["Code"] != "UserNotFoundException":
                raise
            logger.info("Cognito user not found while erasing; nothing to revoke")
            return


@dataclass(frozen=True)
class Erasure:
    """What ``DELETE /me`` did: everything (``open_order_ids`` empty), or everything but the
    open orders, each anonymised when it closes."""

    open_order_ids: tuple[str, ...] = ()

    @property
    def scheduled(self) -> bool:
        return bool(self.open_order_ids)


def erase(identity: Identity) -> Erasure:
    """``DELETE /me``: the tombstone first, then every step (module docstring)."""
    tombstone = erasures.begin(identity.sub, identity.username, at=now_iso())
    erasure = _carry_out(identity.sub, tombstone)
    metrics.add_metric(
        name="ErasuresScheduled" if erasure.scheduled else "ErasuresDone",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info("customer erasure", extra={"open_orders": len(erasure.open_order_ids)})
    return erasure


def _carry_out(sub: str, tombstone: Tombstone) -> Erasure:
    """Steps 1 to 6; each idempotent, so running them again finishes an interrupted erasure."""
    store.mark_erasing(sub)
    if not tombstone.signed_out:
        sign_out(tombstone.username or sub)
        erasures.mark_signed_out(sub)
    _empty_carts(sub)
    at = now_iso()
    open_ids = tuple(
        order_id
        for order_id in order_store.customer_order_ids(sub)
        if order_store.settle_for_erasure(order_id, sub, updated_at=at) is Settled.DEFERRED
    )
    devices.forget_all(sub)
    store.delete_customer_records(sub)
    coupon_store.delete_customer_uses(sub)
    sent_records.delete_customer_messages(sub)
    review_store.erase_customer(sub)
    tickets.erase_customer(sub)
    analytics_store.delete_customer_records(sub)
    store.delete_profile(sub)
    if open_ids:
        erasures.schedule(sub, open_ids)
    else:
        erasures.finish(sub, at=now_iso())
    return Erasure(tuple(sorted(open_ids)))


#: Rounds of step 3 while holds keep landing in the customer's carts (a request admitted just
#: before the tombstone), before the request gives up and leaves the rest to the sweeper.
_CART_ROUNDS: Final = 5


def _empty_carts(sub: str) -> None:
    """Give every hold of the customer's carts back to stock (the sweeper's release, without
    waiting for the expiry), then delete the carts; a line that holds stock again is released
    in the next round, never deleted with its units."""
    released: set[str] = set()
    for _ in range(_CART_ROUNDS):
        for cart_id, line in cart_store.customer_holds(sub):
            if holds.release_now(ExpiredHold(cart_id, line), now_iso()):
                released.add(line.sku)
        if cart_store.delete_customer_carts(sub):
            break
    else:
        raise TooManyRequests(1, "The account's carts kept changing; the erasure completes shortly")
    for sku in sorted(released):
        check_low_stock(sku)


#: An erasure younger than this is left to the request still carrying it out.
RESUME_AFTER_SECONDS: Final = 60


def resume_erasures(now: int) -> int:
    """The sweeper's backstop: finish every erasure left unfinished (a request that failed
    midway; a scheduled one whose last open order has closed). Returns how many finished."""
    finished = 0
    for tombstone in erasures.unfinished(clock.iso_us(now - RESUME_AFTER_SECONDS)):
        sub = tombstone.sub
        if sub is None:
            continue
        if tombstone.status == erasures.SCHEDULED and _still_waiting(tombstone):
            continue
        try:
            erasure = _carry_out(sub, tombstone)
        except Exception:  # one erasure failing must not keep the others waiting
            logger.exception("erasure left for the next sweep")
            continue
        if not erasure.scheduled:
            finished += 1
    if finished:
        metrics.add_metric(name="ErasuresDone", unit=MetricUnit.Count, value=finished)
        logger.info("erasures finished by the sweeper", extra={"finished": finished})
    return finished


def _still_waiting(tombstone: Tombstone) -> bool:
    """A scheduled erasure whose open orders are all still open and marked: nothing to do."""
    for order_id in tombstone.pending_order_ids:
        stored = order_store.load_order(order_id)
        if stored is None or not stored.erase_on_close:
            return False
        if closes_for_erasure(stored.status):
            return False
    return True
