"""Returns: the customer asks within 7 days of delivery (15 for a quality problem); ops
receive the goods and refund.

``POST /orders/{id}/returns`` (the owner, or the guest token's holder): the return's lines are
checked by ``commerce.domain.returns`` (400 listing every bad field), the window by the state
machine (409 once it has closed, or while another return is still open: a ``reason`` of
``quality`` makes it the quality return's move, whose window is 15 days), and the order moves
DELIVERED/REFUNDED -> RETURN_REQUESTED in the same transaction that records the return with the
exact refund its lines are worth.

``POST /admin/orders/{id}/returns/{return_id}/receive`` (ops): the refund for exactly those lines
goes through the provider with ``refund_key(order_id, return_id)`` (a retry never refunds twice),
then one transaction moves the order RETURN_REQUESTED -> REFUNDED, marks the return received and
puts the returned units back on ``on_hand`` of the shards they were committed from. The same
write marks the return as owing the points its refund un-earns; the reversal that follows clears
the mark. Receiving a return already received moves no money and no stock (its status guards
the move): it writes the reversal if it is still owed and answers with the order, as the first
receipt did. A reversal nobody retries is written by the sweeper (``orders.reversals``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from aws_lambda_powertools.metrics import MetricUnit

from commerce import clock
from commerce.catalog.sales import count_return
from commerce.domain.orders import (
    Advance,
    IllegalTransition,
    OrderEvent,
    OrderStatus,
    advance,
    return_event,
)
from commerce.domain.refunds import record_made, refund_id_for
from commerce.domain.returns import Return, ReturnLine, plan_return
from commerce.errors import Conflict, NotFound, ValidationFailed
from commerce.http.auth import Caller
from commerce.loyalty.points import reversal_owed, reverse_on_refund
from commerce.observability import logger, metrics
from commerce.orders import moves
from commerce.orders.book import Effects, ReturnReceipt, order_book
from commerce.orders.reading import load_within_reach
from commerce.orders.schemas import OrderOut, ReturnIn, ReturnOut
from commerce.orders.views import order_view, return_view
from commerce.payments.factory import provider_for
from commerce.payments.provider import PermanentProviderError, refund_key
from commerce.store import orders as store
from commerce.store.orders import (
    RETURN_RECEIVED,
    RETURN_REQUESTED,
    PendingReversal,
    StoredOrder,
    StoredReturn,
)


def request_return(
    order_id: str, body: ReturnIn, caller: Caller, tokens: Sequence[str | None]
) -> ReturnOut:
    stored = load_within_reach(order_id, caller, tokens)
    now = clock.now()
    event = return_event(body.reason)
    advance(stored.order, event, now)  # 409 outside the window, first
    previous = [r.value for r in order_book().load_returns(order_id)]
    planned = plan_return(
        stored.order.lines,
        stored.order.totals,
        previous,
        [ReturnLine(line.sku, line.quantity) for line in body.lines],
        reason=body.reason,
        return_id=uuid.uuid4().hex,
        requested_at=now,
    )
    if isinstance(planned, list):
        raise ValidationFailed(planned)
    created: Return = planned
    moves.move(
        order_id,
        event,
        effects=lambda current, adv: Effects(new_return=created),
        first=stored,
        at=now,
    )
    metrics.add_metric(name="ReturnsRequested", unit=MetricUnit.Count, value=1)
    logger.info("return requested", extra={"order_id": order_id, "return_id": created.return_id})
    written = order_book().load_return(order_id, created.return_id)
    if written is None:  # pragma: no cover - written by the move just made
        raise NotFound("No such return")
    return return_view(written)


def receive_return(order_id: str, return_id: str, caller: Caller) -> OrderOut:
    stored = load_within_reach(order_id, caller, ())
    found = order_book().load_return(order_id, return_id)
    if found is None:
        raise NotFound("No such return")
    if found.status == RETURN_RECEIVED:
        return _received_again(order_id, found)
    if found.status != RETURN_REQUESTED:
        raise Conflict("This return cannot be received")
    value = found.value
    refund_ids: list[str] = []
    owed: list[PendingReversal | None] = []

    def refund(current: StoredOrder) -> StoredOrder:
        order = current.order
        payment = order.payment
        if order.status is not OrderStatus.RETURN_REQUESTED:
            # A concurrent receipt moved the order first: nothing is refunded or counted again,
            # and the move's own check answers (this very return received: as the first did).
            return current
        if value.refund.amount <= 0 or payment.charge_id is None:
            return current
        key = refund_key(order_id, return_id)
        try:
            result = provider_for(payment.method).refund(payment.charge_id, value.refund, key)
        except PermanentProviderError as error:
            # e.g. staff refunds already gave back what this return is worth: nothing moves.
            raise Conflict(f"The payment provider refused the refund: {error.reason}") from error
        refund_ids.append(result.refund_id)
        refunded = record_made(
            order,
            refund_id_for(key),
            value.refund,
            clock.now(),
            provider_refund_id=result.refund_id,
            reason=f"return {return_id}",
        )
        return replace(current, order=refunded)

    def restock(current: StoredOrder, adv: Advance) -> Effects:
        reversal = reversal_owed(current, value.refund, adv.order.history[-1].at)
        owed.append(reversal)
        units = {line.sku: line.quantity for line in value.lines}
        receipt = ReturnReceipt(return_id, refund_ids[-1] if refund_ids else "", reversal)
        return Effects(
            restock=store.spread_over(current.reservation, units), return_receipt=receipt
        )

    try:
        written = moves.move(
            order_id, OrderEvent.REFUND_COMPLETED, effects=restock, prepare=refund, first=stored
        )
    except IllegalTransition:
        # A concurrent receipt of this same return may have won the move: then this one is
        # a retry like any other. Otherwise the order is not awaiting this return: 409.
        again = order_book().load_return(order_id, return_id)
        if again is None or again.status != RETURN_RECEIVED:
            raise
        return _received_again(order_id, again)
    _reverse_points(written, return_id, owed[-1])
    count_return(written, value)
    metrics.add_metric(name="ReturnsRefunded", unit=MetricUnit.Count, value=1)
    logger.info("return received", extra={"order_id": order_id, "return_id": return_id})
    return order_view(written, private=True)


def _received_again(order_id: str, received: StoredReturn) -> OrderOut:
    """A retried receipt: write the points reversal if it is still owed, answer as the first."""
    stored = order_book().load(order_id)
    if stored is None:
        raise NotFound("No such order")
    _reverse_points(stored, received.value.return_id, received.reversal)
    count_return(stored, received.value)  # once per return: a retry catches a lost count
    logger.info(
        "return receipt retried",
        extra={"order_id": order_id, "return_id": received.value.return_id},
    )
    return order_view(stored, private=True)


def _reverse_points(stored: StoredOrder, return_id: str, pending: PendingReversal | None) -> None:
    """The reversal after a receipt. Its failure does not fail the receipt, which is written
    and holds the mark: a retry of the request or the sweeper writes the reversal later."""
    try:
        reverse_on_refund(stored, return_id, pending)
    except Exception:  # any failure leaves the mark, which is what the catch-up looks for
        logger.exception(
            "points reversal left to the sweeper",
            extra={"order_id": stored.order_id, "return_id": return_id},
        )
