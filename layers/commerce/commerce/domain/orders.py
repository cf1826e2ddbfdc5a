"""The order as a value, and its state machine as one total function.

``transition(status, event)`` is the only place that says which moves an order may make and what
each move obliges the store to do (commit or release stock, void or refund the payment, refund
returned lines). It knows nothing of storage: the service performs the effects and writes the new
status conditioned on the old one, so two racing moves cannot both succeed. Every move not in
``TRANSITIONS`` raises ``IllegalTransition``, answered 409 ``conflict``.

Times are whole epoch seconds, as the rest of the domain keeps them; ``iso`` gives the wire form.
docs/orders.md draws the diagram and explains each effect.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from commerce.clock import iso
from commerce.domain.guest_tokens import guest_token_matches
from commerce.domain.money import Money
from commerce.domain.pricing import PriceLine, Totals
from commerce.domain.shipping_address import ShippingAddress
from commerce.errors import Conflict

#: The no-reason return window of the seeds: 7 days from delivery.
RETURN_WINDOW_SECONDS: Final = 7 * 24 * 60 * 60
#: The window for a return because the goods are faulty (``reason: "quality"``): 15 days.
QUALITY_RETURN_WINDOW_SECONDS: Final = 15 * 24 * 60 * 60


class OrderStatus(StrEnum):
    """Where an order stands; the value is the wire form of API.md."""

    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    CANCELLED = "CANCELLED"
    RETURN_REQUESTED = "RETURN_REQUESTED"
    REFUNDED = "REFUNDED"


class OrderEvent(StrEnum):
    """What can happen to an order: a provider's answer, a caller's request, a carrier's report."""

    PAYMENT_APPROVED = "payment_approved"
    PAYMENT_DECLINED = "payment_declined"
    CANCEL = "cancel"
    SHIP = "ship"
    DELIVER = "deliver"
    REQUEST_RETURN = "request_return"
    #: A return because the goods are faulty: the same move, inside the longer quality window.
    REQUEST_QUALITY_RETURN = "request_quality_return"
    #: Ops have received the returned goods: the refund for exactly those lines is issued
    #: through the provider and their stock comes back (the effects of this move).
    REFUND_COMPLETED = "refund_completed"
    #: A carrier's report that moves nothing (in transit, out for delivery, an exception, or a
    #: late one): the order keeps its status and records the event on its tracking trail.
    TRACK = "track"


class Effect(StrEnum):
    """What the store must do, in the same transaction or through the provider, for a move."""

    #: The reservation leaves stock: ``on_hand`` and ``reserved`` both fall by the order's units.
    DEDUCT_STOCK = "deduct_stock"
    #: The reservation is given back: ``reserved`` falls, ``on_hand`` is untouched.
    RELEASE_RESERVATION = "release_reservation"
    #: The whole charge is voided or refunded through the provider (key: ``refund_key(order)``).
    VOID_OR_REFUND_PAYMENT = "void_or_refund_payment"
    #: Committed stock of every line goes back to ``on_hand`` (a paid order cancelled).
    RESTOCK_ORDER = "restock_order"
    #: The returned units go back to ``on_hand``.
    RESTOCK_RETURNED = "restock_returned"
    #: The refund for exactly the returned lines goes through the provider (domain/returns.py).
    REFUND_LINES = "refund_lines"


@dataclass(frozen=True)
class Transition:
    """A legal move: the status it leads to and the effects it obliges, in order."""

    status: OrderStatus
    effects: tuple[Effect, ...] = ()


class IllegalTransition(Conflict):
    """``event`` is not allowed in ``status``: 409 ``conflict``, and nothing changes."""

    def __init__(self, status: OrderStatus, event: OrderEvent, detail: str | None = None) -> None:
        super().__init__(
            detail or f"An order in status {status.value} cannot {_VERBS[event]}",
            order_status=status.value,
        )
        self.current = status
        self.event = event


_VERBS: Final[Mapping[OrderEvent, str]] = {
    OrderEvent.PAYMENT_APPROVED: "be marked paid",
    OrderEvent.PAYMENT_DECLINED: "be marked payment failed",
    OrderEvent.CANCEL: "be cancelled",
    OrderEvent.SHIP: "be shipped",
    OrderEvent.DELIVER: "be delivered",
    OrderEvent.REQUEST_RETURN: "be returned",
    OrderEvent.REQUEST_QUALITY_RETURN: "be returned",
    OrderEvent.REFUND_COMPLETED: "be refunded",
    OrderEvent.TRACK: "take carrier events before it is shipped",
}

_S = OrderStatus
_E = OrderEvent

#: Every legal (status, event) pair. Anything absent is illegal.
TRANSITIONS: Final[Mapping[tuple[OrderStatus, OrderEvent], Transition]] = {
    (_S.PENDING_PAYMENT, _E.PAYMENT_APPROVED): Transition(_S.PAID, (Effect.DEDUCT_STOCK,)),
    (_S.PENDING_PAYMENT, _E.PAYMENT_DECLINED): Transition(
        _S.PAYMENT_FAILED, (Effect.RELEASE_RESERVATION,)
    ),
    # Nothing is charged yet; a charge already in flight that still succeeds is refunded by
    # the (CANCELLED, PAYMENT_APPROVED) move below.
    (_S.PENDING_PAYMENT, _E.CANCEL): Transition(_S.CANCELLED, (Effect.RELEASE_RESERVATION,)),
    (_S.PAID, _E.CANCEL): Transition(
        _S.CANCELLED, (Effect.VOID_OR_REFUND_PAYMENT, Effect.RESTOCK_ORDER)
    ),
    (_S.PAID, _E.SHIP): Transition(_S.SHIPPED),
    (_S.SHIPPED, _E.DELIVER): Transition(_S.DELIVERED),
    (_S.DELIVERED, _E.REQUEST_RETURN): Transition(_S.RETURN_REQUESTED),
    (_S.DELIVERED, _E.REQUEST_QUALITY_RETURN): Transition(_S.RETURN_REQUESTED),
    (_S.RETURN_REQUESTED, _E.REFUND_COMPLETED): Transition(
        _S.REFUNDED, (Effect.REFUND_LINES, Effect.RESTOCK_RETURNED)
    ),
    # A partial return refunded, the rest of the order may still be returned inside the window
    # (returns.py refuses once nothing is left to return).
    (_S.REFUNDED, _E.REQUEST_RETURN): Transition(_S.RETURN_REQUESTED),
    (_S.REFUNDED, _E.REQUEST_QUALITY_RETURN): Transition(_S.RETURN_REQUESTED),
    # Carrier events other than the delivery, and events that arrive late (after the delivery,
    # or after a return began), go on the tracking trail; the status stays.
    (_S.SHIPPED, _E.TRACK): Transition(_S.SHIPPED),
    (_S.DELIVERED, _E.TRACK): Transition(_S.DELIVERED),
    (_S.RETURN_REQUESTED, _E.TRACK): Transition(_S.RETURN_REQUESTED),
    (_S.REFUNDED, _E.TRACK): Transition(_S.REFUNDED),
    # Late payment answers on an order cancelled while pending: the status stays, and money
    # taken after all goes back. The stock was released at the cancel, so none is committed.
    (_S.CANCELLED, _E.PAYMENT_APPROVED): Transition(_S.CANCELLED, (Effect.VOID_OR_REFUND_PAYMENT,)),
    (_S.CANCELLED, _E.PAYMENT_DECLINED): Transition(_S.CANCELLED),
}


def transition(status: OrderStatus, event: OrderEvent) -> Transition:
    """The move ``event`` makes from ``status``; ``IllegalTransition`` for every other pair."""
    move = TRANSITIONS.get((status, event))
    if move is None:
        raise IllegalTransition(status, event)
    return move


#: Statuses from which no event moves the order on.
TERMINAL_STATUSES: Final = frozenset(
    s for s in OrderStatus if not any(move_from == s for move_from, _ in TRANSITIONS)
)


#: How long after the delivery each kind of return may be requested.
RETURN_WINDOWS: Final[Mapping[OrderEvent, int]] = {
    OrderEvent.REQUEST_RETURN: RETURN_WINDOW_SECONDS,
    OrderEvent.REQUEST_QUALITY_RETURN: QUALITY_RETURN_WINDOW_SECONDS,
}
#: The ``reason`` of a return that claims the goods are faulty (or ``quality: <details>``).
QUALITY_REASON: Final = "quality"


def is_quality_reason(reason: str) -> bool:
    """``quality`` (any case, spaces around ignored), alone or followed by ``:`` and details."""
    word = reason.strip().casefold()
    return word == QUALITY_REASON or word.startswith(QUALITY_REASON + ":")


def return_event(reason: str) -> OrderEvent:
    """The move a return with ``reason`` makes: a quality return has the longer window."""
    if is_quality_reason(reason):
        return OrderEvent.REQUEST_QUALITY_RETURN
    return OrderEvent.REQUEST_RETURN


def return_window_open(
    delivered_at: int, now: int, event: OrderEvent = OrderEvent.REQUEST_RETURN
) -> bool:
    """A return may be requested up to and including 7 days after delivery (15 for quality)."""
    return now <= delivered_at + RETURN_WINDOWS[event]


# --- The order as a value ----------------------------------------------------------------------


class OrderError(ValueError):
    """An order no checkout could produce (no lines, a history that ends elsewhere, ...)."""


@dataclass(frozen=True)
class OrderHistoryEntry:
    """The order entered ``status`` at ``at`` (epoch seconds)."""

    status: OrderStatus
    at: int

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status.value, "at": iso(self.at)}


def append_history(
    history: tuple[OrderHistoryEntry, ...], status: OrderStatus, at: int
) -> tuple[OrderHistoryEntry, ...]:
    """``history`` with ``status`` entered at ``at``; a time never runs backwards in it."""
    if history and at < history[-1].at:
        at = history[-1].at
    return (*history, OrderHistoryEntry(status, at))


@dataclass(frozen=True)
class OrderLine:
    """``quantity`` units of ``sku`` at the ``unit_price`` snapshotted at checkout."""

    sku: str
    quantity: int
    unit_price: Money

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise OrderError("quantity must be a whole number")
        if self.quantity < 1:
            raise OrderError("an order line has at least one unit")
        if not self.unit_price.is_valid_price:
            raise OrderError("unit_price must be a valid price")

    @property
    def amount(self) -> Money:
        return self.unit_price.times(self.quantity)

    def to_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "quantity": self.quantity, "unit_price": self.unit_price.to_dict()}


class PaymentStatus(StrEnum):
    """Where the money stands, as ``payment.status`` shows it."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"


class PaymentMethod(StrEnum):
    """How the customer pays (API.md, "Payment methods"): a card token, or a provider page."""

    CARD = "card"
    ALIPAY = "alipay"
    WECHAT_PAY = "wechat_pay"


#: Methods where the customer acts at the provider (a redirect, a QR code) and the provider's
#: signed notification settles the order; a card is charged server-side with its token.
ACTION_METHODS: Final = frozenset({PaymentMethod.ALIPAY, PaymentMethod.WECHAT_PAY})


class NextActionType(StrEnum):
    REDIRECT = "redirect"
    QR_CODE = "qr_code"


@dataclass(frozen=True)
class NextAction:
    """What the customer must do for the payment to happen: open ``url`` (Alipay's cashier
    page) or scan ``code_url`` (WeChat Pay's Native code)."""

    type: NextActionType
    url: str | None = None
    code_url: str | None = None

    def __post_init__(self) -> None:
        wanted = self.url if self.type is NextActionType.REDIRECT else self.code_url
        if not wanted:
            raise OrderError(f"a {self.type.value} next action needs its address")

    def to_dict(self) -> dict[str, str]:
        if self.type is NextActionType.REDIRECT:
            return {"type": self.type.value, "url": self.url or ""}
        return {"type": self.type.value, "code_url": self.code_url or ""}


@dataclass(frozen=True)
class Payment:
    """How the order is paid: a provider token's method, and the charge once there is one.

    The token itself is not kept on the order: it travels once, in the payments message.
    ``next_action`` is what the customer must still do at the provider (Alipay, WeChat Pay).
    """

    method: str = "card"
    status: PaymentStatus = PaymentStatus.PENDING
    charge_id: str | None = None
    decline_code: str | None = None
    refunded: Money = field(default_factory=Money.zero)
    next_action: NextAction | None = None

    def approved(self, charge_id: str) -> Payment:
        return replace(self, status=PaymentStatus.APPROVED, charge_id=charge_id, next_action=None)

    def declined(self, decline_code: str | None) -> Payment:
        return replace(
            self, status=PaymentStatus.DECLINED, decline_code=decline_code, next_action=None
        )

    def refund(self, amount: Money, charged: Money) -> Payment:
        """The payment after ``amount`` more of ``charged`` went back."""
        refunded = self.refunded + amount
        if refunded.amount > charged.amount:
            raise OrderError("refunds would exceed the charge")
        full = refunded.amount == charged.amount
        status = PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED
        return replace(self, status=status, refunded=refunded)

    def to_dict(self) -> dict[str, object]:
        """The public shape of API.md: ``{"status", "method", "next_action"?}`` (charge ids
        stay inside)."""
        body: dict[str, object] = {"status": self.status.value, "method": self.method}
        if self.next_action is not None:
            body["next_action"] = self.next_action.to_dict()
        return body


class RefundStatus(StrEnum):
    """Where one refund stands: reserved on the order and asked of the provider (``pending``),
    confirmed (``succeeded``), or refused by the provider (``failed``, its amount freed)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class RefundRecord:
    """One refund of the order's charge, as ``refunds`` lists it.

    ``refund_id`` is also the reference the provider was given (so its refund notification
    names it); ``provider_refund_id`` is the provider's own id once known. ``points_due`` is
    what a staff refund of a delivered order takes back, decided when it succeeded.
    """

    refund_id: str
    amount: Money
    status: RefundStatus
    at: int
    reason: str = ""
    provider_refund_id: str | None = None
    points_due: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "refund_id": self.refund_id,
            "amount": self.amount.to_dict(),
            "status": self.status.value,
            "at": iso(self.at),
        }


@dataclass(frozen=True)
class Order:
    """An order: its priced lines, who placed it, where it goes, how it is paid, what happened.

    ``owner`` is the customer's sub; a guest order has none and is reached by the hash of the
    cart token it was placed with or of the order token it was given. ``status`` is always the
    last entry of ``history``. ``version`` grows by one with every write (optimistic locking).
    """

    order_id: str
    email: str
    lines: tuple[OrderLine, ...]
    totals: Totals
    status: OrderStatus
    history: tuple[OrderHistoryEntry, ...]
    created_at: int
    payment: Payment = Payment()
    shipping_address: ShippingAddress | None = None
    owner: str | None = None
    cart_token_hash: str | None = None
    order_token_hash: str | None = None
    version: int = 1
    #: Every refund of the charge, oldest first (staff, provider-reported, cancel, returns).
    refunds: tuple[RefundRecord, ...] = ()

    def __post_init__(self) -> None:
        if not self.lines:
            raise OrderError("an order has at least one line")
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise OrderError("a SKU appears on more than one line")
        if self.owner is None and self.cart_token_hash is None and self.order_token_hash is None:
            raise OrderError("an order has an owner or a guest token")
        if not self.history or self.history[-1].status is not self.status:
            raise OrderError("status must be the last entry of history")

    @property
    def is_guest(self) -> bool:
        return self.owner is None

    @property
    def delivered_at(self) -> int | None:
        """When the order was last delivered, from its history."""
        return next(
            (e.at for e in reversed(self.history) if e.status is OrderStatus.DELIVERED), None
        )

    def line(self, sku: str) -> OrderLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def price_lines(self) -> tuple[PriceLine, ...]:
        return tuple(PriceLine(line.sku, line.quantity, line.unit_price) for line in self.lines)

    def units(self) -> dict[str, int]:
        """Units per SKU: what a commit, release or restock of the whole order moves."""
        return {line.sku: line.quantity for line in self.lines}

    def to_dict(self) -> dict[str, object]:
        """The body of ``GET /orders/{order_id}`` (API.md)."""
        body: dict[str, object] = {
            "order_id": self.order_id,
            "status": self.status.value,
            "lines": [line.to_dict() for line in self.lines],
            "totals": self.totals.to_dict(),
            "payment": self.payment.to_dict(),
            "history": [entry.to_dict() for entry in self.history],
            "created_at": iso(self.created_at),
        }
        if self.refunds:
            body["refunds"] = [refund.to_dict() for refund in self.refunds]
        if self.shipping_address is not None:
            body["shipping_address"] = self.shipping_address.to_dict()
        return body


def new_order(
    order_id: str,
    *,
    email: str,
    lines: tuple[OrderLine, ...],
    totals: Totals,
    created_at: int,
    method: str = "card",
    shipping_address: ShippingAddress | None = None,
    owner: str | None = None,
    cart_token_hash: str | None = None,
    order_token_hash: str | None = None,
) -> Order:
    """A freshly placed order: PENDING_PAYMENT since ``created_at``, payment pending, version 1."""
    return Order(
        order_id=order_id,
        email=email,
        lines=lines,
        totals=totals,
        status=OrderStatus.PENDING_PAYMENT,
        history=(OrderHistoryEntry(OrderStatus.PENDING_PAYMENT, created_at),),
        created_at=created_at,
        payment=Payment(method=method),
        shipping_address=shipping_address,
        owner=owner,
        cart_token_hash=cart_token_hash,
        order_token_hash=order_token_hash,
    )


@dataclass(frozen=True)
class Advance:
    """An order after a move, the move itself, and the status it was conditioned on."""

    order: Order
    transition: Transition
    previous: OrderStatus

    @property
    def changed_status(self) -> bool:
        return self.order.status is not self.previous

    @property
    def effects(self) -> tuple[Effect, ...]:
        return self.transition.effects


def amend(order: Order) -> Advance:
    """A change of the order that is no move of the state machine (a refund recorded, the
    payment's next action kept): status and history stay, the version grows by one, so it is
    written like any move, conditioned on the version and status it was decided on."""
    after = replace(order, version=order.version + 1)
    return Advance(after, Transition(order.status), order.status)


def advance(order: Order, event: OrderEvent, at: int) -> Advance:
    """Apply ``event`` at ``at``: the new status joins the history and the version grows by one.

    A move that keeps the status (a late payment answer on a cancelled order) adds no history
    entry but still bumps the version, so its effects are written exactly once. A return is only
    requested while ``return_window_open`` for its kind (7 days, 15 for a quality return);
    outside it, ``IllegalTransition`` (409).
    """
    move = transition(order.status, event)
    if event in RETURN_WINDOWS:
        delivered = order.delivered_at
        if delivered is None or not return_window_open(delivered, at, event):
            days = RETURN_WINDOWS[event] // 86_400
            kind = " for a quality problem" if event is OrderEvent.REQUEST_QUALITY_RETURN else ""
            raise IllegalTransition(
                order.status,
                event,
                f"The return window{kind} of {days} days after delivery has closed",
            )
    history = order.history
    if move.status is not order.status:
        history = append_history(history, move.status, at)
    after = replace(order, status=move.status, history=history, version=order.version + 1)
    return Advance(after, move, order.status)


# --- Whose order it is -------------------------------------------------------------------------


def _holds_token(order: Order, token: str | None) -> bool:
    return order.is_guest and (
        guest_token_matches(order.order_token_hash, token)
        or guest_token_matches(order.cart_token_hash, token)
    )


def owns(order: Order, *, caller_sub: str | None, tokens: Collection[str | None]) -> bool:
    """The order is the caller's: they placed it signed in, or hold the guest's cart or order
    token. Everyone else reaches it only as far as their staff role does
    (``commerce.domain.access``)."""
    if caller_sub is not None and order.owner == caller_sub:
        return True
    return any(_holds_token(order, token) for token in tokens)
