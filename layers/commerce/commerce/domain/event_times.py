"""When an event from outside says it happened: never far in the future, never before the step
of the order it follows.

Carriers and payment providers stamp their events with their own clocks, and we keep those
times: a delivery's time opens the return window, a tracking step is placed on the trail by its
time. A signed event is still only as sane as its sender's data, so its time is held to two
rules before it changes anything (docs/orders.md, "Event times"):

- at most ``MAX_FUTURE_SECONDS`` ahead of our clock (the same five minutes a signature's
  timestamp may be off): a delivery dated 9999-12-31 would keep its return window open forever;
- not before the order's previous step: a carrier cannot scan a parcel before it was handed
  over (SHIPPED), a provider cannot take a payment for an order not yet placed, nor refund one
  before it was paid.
"""

from __future__ import annotations

from typing import Final

from commerce.clock import iso
from commerce.domain.orders import Order, OrderStatus
from commerce.errors import FieldError, ValidationFailed

#: How far ahead of our clock an outside event's time may be (clocks drift; five minutes is
#: what a webhook signature's timestamp is allowed too).
MAX_FUTURE_SECONDS: Final = 300


def time_error(at: int, *, now: int, not_before: int | None, step: str = "") -> str | None:
    """Why an event dated ``at`` cannot be believed (None when it can): more than
    ``MAX_FUTURE_SECONDS`` after ``now``, or before ``not_before`` (the time of ``step``)."""
    if at > now + MAX_FUTURE_SECONDS:
        return (
            f"is {iso(at)}, more than {MAX_FUTURE_SECONDS} seconds ahead of the time here"
            f" ({iso(now)})"
        )
    if not_before is not None and at < not_before:
        named = f" the order's {step} step" if step else " the order's previous step"
        return f"is {iso(at)}, before{named} ({iso(not_before)})"
    return None


def check_time(
    at: int, *, now: int, not_before: int | None, step: str = "", field: str = "at"
) -> None:
    """``ValidationFailed`` (400, naming ``field``) when ``time_error`` refuses ``at``."""
    problem = time_error(at, now=now, not_before=not_before, step=step)
    if problem is not None:
        raise ValidationFailed([FieldError(field, f"{field} {problem}")])


def reached_at(order: Order, status: OrderStatus) -> int | None:
    """When the order last entered ``status`` (None if it never did)."""
    return next((e.at for e in reversed(order.history) if e.status is status), None)


def carrier_not_before(order: Order) -> int | None:
    """The earliest time a carrier event about the order's parcel can bear: its shipment
    (None before it was shipped: the event is refused for that reason instead)."""
    return reached_at(order, OrderStatus.SHIPPED)


def payment_not_before(order: Order) -> int:
    """The earliest time a payment (paid or failed) of the order can bear: its placing."""
    return order.created_at


def refund_not_before(order: Order) -> int:
    """The earliest time a refund of the order can bear: its payment (its placing if the
    history holds no payment, e.g. a payment refunded automatically after a cancel)."""
    paid = reached_at(order, OrderStatus.PAID)
    return paid if paid is not None else order.created_at
