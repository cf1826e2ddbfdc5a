"""Writing one move of an order: decided on the order as read, written conditioned on that read.

Every use case that changes an order has the same shape: read it, check who asks, then one
``move``. The move is decided on the order as read (``commerce.domain.orders.advance``) and the
order book writes it with its ``Effects`` only if the order still has the version and status it
was read at. If another writer moved the order first, the move is decided again on a fresh read
(``kit.retry_on_conflict``: a few attempts with jitter, then 429); an order that no longer
allows the move raises ``IllegalTransition`` (409) from ``advance`` itself.

An order whose customer asked to be erased while it was open (``erase_on_close``) is anonymised
by the move that closes it (delivered, cancelled, refunded, failed), in that same write: the
move is decided, and its effects planned, on the order as erasure leaves it, so nothing it
writes names the customer again (no points restored or earned, no per-customer coupon use
given back), and the event it publishes carries no personal data.

``prepare`` runs on every read before the move is decided. It records on the order what was
done outside the transaction (a refund made through the provider, idempotent by key), so that
survives a retry on a fresh read; returning None says the order as read needs no move at all
(``move_if_needed``), which is how settlement treats an answer that arrives twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from commerce import clock
from commerce.domain.orders import Advance, OrderEvent, advance, amend
from commerce.domain.privacy import anonymised, closes_for_erasure
from commerce.errors import NotFound, TooManyRequests
from commerce.orders.book import NO_EFFECTS, Effects, OrderBook, order_book
from commerce.orders.events import publish_order_event
from commerce.store import kit
from commerce.store.orders import StoredOrder

#: Reads a move may take while the order keeps changing under it, before the caller gets 429.
ATTEMPTS: Final = 4

#: What a move obliges besides the order, decided on the order it moves.
Plan = Callable[[StoredOrder, Advance], Effects]
#: Prepares each fresh read before the move is decided; None when no move is needed.
Prepare = Callable[[StoredOrder], StoredOrder | None]
#: Sends the event of a move that changed the status.
Publish = Callable[[StoredOrder], None]


@dataclass(frozen=True)
class Moved:
    """The order as it stands after ``move_if_needed``, and whether this call wrote a move."""

    stored: StoredOrder
    written: bool


def _as_erased(stored: StoredOrder) -> StoredOrder:
    """The order as the closing move of an erased customer's order sees it."""
    return replace(stored, order=anonymised(stored.order), payment_token=None, tracking_number=None)


def _no_effects(stored: StoredOrder, adv: Advance) -> Effects:
    del stored, adv
    return NO_EFFECTS


def _as_read(stored: StoredOrder) -> StoredOrder:
    return stored


def move_if_needed(
    order_id: str,
    event: OrderEvent | None,
    *,
    effects: Plan = _no_effects,
    prepare: Prepare = _as_read,
    first: StoredOrder | None = None,
    at: int | None = None,
    publish: Publish = publish_order_event,
    book: OrderBook | None = None,
) -> Moved:
    """Apply ``event`` to the order unless ``prepare`` says it needs no move.

    ``first`` is the order as the caller already read it (it saves a read on the first
    attempt); ``at`` the time of the move (epoch seconds; now by default). A move that changed
    the status is published with ``publish``. ``event`` None writes what ``prepare`` changed
    without moving the status (``domain.orders.amend``: a refund recorded, a next action kept),
    conditioned like any move.
    """
    books = book or order_book()
    unread = [first] if first is not None else []

    def attempt(_: int) -> Moved | kit.Retry:
        stored = unread.pop() if unread else books.load(order_id)
        if stored is None:
            raise NotFound("No such order")
        prepared = prepare(stored)
        if prepared is None:
            return Moved(stored, written=False)
        if event is None:
            adv = amend(prepared.order)
        else:
            adv = advance(prepared.order, event, at if at is not None else clock.now())
        anonymise = prepared.erase_on_close and closes_for_erasure(adv.order.status)
        if anonymise:
            prepared, adv = _as_erased(prepared), replace(adv, order=anonymised(adv.order))
        plan = effects(prepared, adv)
        if anonymise:
            plan = replace(plan, anonymise=True)
        written = books.write(prepared, adv, plan, at=clock.now_iso())
        if written is None:
            return kit.RETRY
        if adv.changed_status:
            publish(written)
        return Moved(written, written=True)

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: TooManyRequests(
            1, "This order is being changed concurrently; retry shortly"
        ),
        attempts=ATTEMPTS,
    )


def amend_if_needed(
    order_id: str,
    prepare: Prepare,
    *,
    first: StoredOrder | None = None,
    book: OrderBook | None = None,
) -> Moved:
    """Write what ``prepare`` changes on the order (None: nothing to write), status unchanged,
    conditioned on the version and status read; decided again on a fresh read if it moved."""
    return move_if_needed(order_id, None, prepare=prepare, first=first, book=book)


def move(
    order_id: str,
    event: OrderEvent,
    *,
    effects: Plan = _no_effects,
    prepare: Callable[[StoredOrder], StoredOrder] = _as_read,
    first: StoredOrder | None = None,
    at: int | None = None,
    book: OrderBook | None = None,
) -> StoredOrder:
    """Apply ``event`` to the order and write it with ``effects``; the order as written."""
    return move_if_needed(
        order_id, event, effects=effects, prepare=prepare, first=first, at=at, book=book
    ).stored
