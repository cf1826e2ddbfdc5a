"""Writing one move of an order: the status change and its stock effects in one transaction.

A move is decided on the order as read (``commerce.domain.orders.advance``) and written
conditioned on that read's version and status. If another writer moved the order first, the
move is decided again on a fresh read, a few times; an order that no longer allows the move
raises ``IllegalTransition`` (409) from ``advance`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from pynamodb.expressions.update import Action

from commerce import clock
from commerce.clock import now_iso
from commerce.domain.orders import Advance, OrderEvent, advance
from commerce.errors import NotFound, TooManyRequests
from commerce.orders import dispatch
from commerce.store import orders as store
from commerce.store.kit import CONDITION_FAILED
from commerce.store.orders import ORDER_LABEL, StoredOrder
from commerce.store.transactions import LabelledTransaction

ATTEMPTS: Final = 4

#: Adds a move's other writes (stock, returns) to the transaction.
Effects = Callable[[LabelledTransaction, StoredOrder, Advance], None]
#: Prepares each fresh read before the move is decided (e.g. records a refund just made).
Prepare = Callable[[StoredOrder], StoredOrder]


def _none(tx: LabelledTransaction, stored: StoredOrder, adv: Advance) -> None:
    del tx, stored, adv


def move(
    order_id: str,
    event: OrderEvent,
    *,
    effects: Effects = _none,
    extra_actions: Callable[[StoredOrder], Sequence[Action]] = lambda stored: (),
    prepare: Prepare = lambda stored: stored,
    first: StoredOrder | None = None,
    at: int | None = None,
) -> StoredOrder:
    """Apply ``event`` to the order and write it with ``effects``; the order as written.

    ``first`` is the order as the caller already read it (saves a read on the first attempt);
    ``prepare`` runs on every read before the move is decided, so whatever it records (a
    refund made through the provider, idempotent by key) survives a retry on a fresh read.
    Publishes the order's event once written.
    """
    stored = first
    for _ in range(ATTEMPTS):
        if stored is None:
            stored = store.load_order(order_id)
            if stored is None:
                raise NotFound("No such order")
        stored = prepare(stored)
        adv = advance(stored.order, event, at if at is not None else clock.now())
        tx = LabelledTransaction()
        store.order_transition_update(tx, stored, adv, extra_actions(stored), at=now_iso())
        effects(tx, stored, adv)
        failures = tx.commit()
        if not failures:
            written = replace(stored, order=adv.order)
            if adv.changed_status:
                dispatch.publish_order_event(written)
            return store.load_order(order_id) or written
        if not any(f.label == ORDER_LABEL and f.code == CONDITION_FAILED for f in failures):
            raise RuntimeError(f"order move cancelled: {[(f.label, f.code) for f in failures]}")
        stored = None
    raise TooManyRequests(1, "This order is being changed concurrently; retry shortly")
