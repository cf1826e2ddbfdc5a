"""The payment provider port: what the payments function asks of any provider (sandbox, Stripe).

Card data never reaches this code, only provider tokens. Every call carries an idempotency key
derived from the order by the pure functions below, so a redelivered message or a retried call
reaches the provider with the same key and the provider answers with the first result instead of
moving money twice.

A provider answers a charge with a ``ChargeResult`` (approved or declined: both are final), or
raises ``TransientProviderError`` (try again later: the message goes back to the queue) or
``PermanentProviderError`` (retrying cannot help: the message goes to the DLQ and an alarm).

Asking ``charge`` again with the same key is how a retry learns the first answer, but if the
first call never reached the provider it makes the charge now. An order cancelled since must not
be charged, so the port also has ``find_charge``: the same question without the side effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from commerce.domain.money import Money
from commerce.domain.orders import NextAction

#: The longest idempotency key providers accept (Stripe: 255).
MAX_IDEMPOTENCY_KEY_CHARS: Final = 255


class ProviderError(Exception):
    """A provider call that did not give an answer about the money."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientProviderError(ProviderError):
    """Timeouts, throttling, the provider's 5xx: the same call with the same key may succeed."""


class PermanentProviderError(ProviderError):
    """A call that can never succeed as made (unknown charge, refund beyond the charge, ...)."""


class ChargeStatus(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    #: Not final: the customer must act at the provider (``next_action``: a redirect or a QR
    #: code), after which the provider's signed notification settles the order.
    ACTION_REQUIRED = "action_required"


@dataclass(frozen=True)
class ChargeResult:
    """The provider's answer to a charge; ``charge_id`` identifies it even when declined.

    Approved and declined are final. ``ACTION_REQUIRED`` carries the ``next_action`` the
    customer must take; ``charge_id`` is then the provider's reference of the payment begun.
    """

    status: ChargeStatus
    charge_id: str
    amount: Money
    decline_code: str | None = None
    next_action: NextAction | None = None

    @property
    def approved(self) -> bool:
        return self.status is ChargeStatus.APPROVED

    @property
    def awaiting_customer(self) -> bool:
        return self.status is ChargeStatus.ACTION_REQUIRED


@dataclass(frozen=True)
class RefundResult:
    """Money given back on a charge: ``amount`` now, ``refunded_total`` over all its refunds."""

    refund_id: str
    charge_id: str
    amount: Money
    refunded_total: Money


@dataclass(frozen=True)
class VoidResult:
    """A charge cancelled before settlement: nothing of it reaches the customer's statement."""

    charge_id: str


class PaymentProvider(Protocol):
    """What the payments function needs of a provider. Every method is idempotent by key.

    ``charge`` either settles server-side (a card token: approved or declined) or begins a
    payment the customer completes at the provider (``ACTION_REQUIRED`` with ``next_action``,
    e.g. Alipay's cashier page or WeChat Pay's Native QR code), which the provider then reports
    by a signed notification. ``expires_at`` (epoch s) is when the order stops waiting for its
    payment: providers that can close an unpaid payment by themselves are told.
    """

    def charge(
        self,
        order_id: str,
        amount: Money,
        token: str,
        idempotency_key: str,
        *,
        expires_at: int | None = None,
    ) -> ChargeResult: ...

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        """What became of the charge ``charge(order_id, ..., idempotency_key)`` made, if any.

        The first answer of that charge (approved or declined), or None when the provider never
        received it. It moves no money and creates nothing, so it is safe to ask about an order
        that must not be charged. None must be certain: a provider that cannot yet tell raises
        ``TransientProviderError`` (the message is retried) rather than answer None.

        A real provider answers from the payment its ``charge`` created. For Stripe the adapter
        creates the PaymentIntent with ``metadata`` naming the order and this key. Stripe's
        Search (``metadata['idempotency_key']:'...'``) finds it, but search is eventually
        consistent: Stripe says not to use it for read-after-write, that data is searchable in
        under a minute normally and up to an hour late during an outage (and search is not
        offered to merchants in India). A search that finds nothing is therefore no proof, and
        the consumer's redelivery backoff (about 30 s in all) is shorter than that lag. The
        adapter must answer from strongly consistent reads instead: keep the PaymentIntent's id
        before confirming it (create it unconfirmed, store the id under this key, then confirm)
        and retrieve it by id; or list PaymentIntents (list reads are not delayed like search)
        over a ``created`` window that surely covers the attempt, and match the metadata.
        Behind either, the provider's ``charge.succeeded`` webhook still reaches a cancelled
        order and refunds the charge it reports (``orders.settlement.approve``), so a charge the
        lookup missed is not kept.
        """
        ...

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult: ...

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult: ...


# --- Idempotency keys: one per money movement an order can cause -------------------------------


def _checked(order_id: str) -> str:
    if not order_id or any(c.isspace() or c == ":" for c in order_id):
        raise ValueError("an order id is a non-empty string without spaces or colons")
    return order_id


def _bounded(key: str) -> str:
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValueError(f"idempotency keys are at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    return key


def charge_key(order_id: str) -> str:
    """The one charge an order may ever make."""
    return _bounded(f"order:{_checked(order_id)}:charge")


def void_key(order_id: str) -> str:
    """The void of that charge."""
    return _bounded(f"order:{_checked(order_id)}:void")


#: The ``return_id`` of the refund that undoes a cancelled order's charge.
CANCEL: Final = "cancel"


def refund_key(order_id: str, return_id: str = CANCEL) -> str:
    """The refund of a return (by its id), or of the whole charge when the order is cancelled.

    A paid order cancelled and a late approval on an order cancelled while pending share the
    ``cancel`` key: only one of them can happen to an order, and neither may happen twice.
    """
    if return_id == CANCEL:
        return _bounded(f"order:{_checked(order_id)}:refund:cancel")
    if not return_id or any(c.isspace() or c == ":" for c in return_id):
        raise ValueError("a return id is a non-empty string without spaces or colons")
    return _bounded(f"order:{_checked(order_id)}:refund:return:{return_id}")


def staff_refund_key(order_id: str, request_id: str) -> str:
    """A staff refund of the order, one per request (``request_id``: the client's
    Idempotency-Key as ``domain.refunds.request_id_for`` makes it)."""
    if not request_id or any(c.isspace() or c == ":" for c in request_id):
        raise ValueError("a request id is a non-empty string without spaces or colons")
    return _bounded(f"order:{_checked(order_id)}:refund:staff:{request_id}")


# --- Amounts as the Chinese providers write them -----------------------------------------------


def yuan(amount: Money) -> str:
    """``Money(1250)`` as ``"12.50"``: Alipay's amounts are yuan with two decimals."""
    return f"{amount.amount // 100}.{amount.amount % 100:02d}"


def fen(text: str) -> int:
    """``"12.50"`` as 1250 fen; ``ValueError`` for anything that is not a yuan amount."""
    whole, _, cents = text.strip().partition(".")
    if not whole.isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)):
        raise ValueError(f"not a yuan amount: {text!r}")
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))
