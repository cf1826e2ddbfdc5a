"""The payment provider port: what the payments function asks of any provider (sandbox, Stripe).

Card data never reaches this code, only provider tokens. Every call carries an idempotency key
derived from the order by the pure functions below, so a redelivered message or a retried call
reaches the provider with the same key and the provider answers with the first result instead of
moving money twice.

A provider answers a charge with a ``ChargeResult`` (approved or declined: both are final), or
raises ``TransientProviderError`` (try again later: the message goes back to the queue) or
``PermanentProviderError`` (retrying cannot help: the message goes to the DLQ and an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from commerce.domain.money import Money

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


@dataclass(frozen=True)
class ChargeResult:
    """The provider's final answer to a charge; ``charge_id`` identifies it even when declined."""

    status: ChargeStatus
    charge_id: str
    amount: Money
    decline_code: str | None = None

    @property
    def approved(self) -> bool:
        return self.status is ChargeStatus.APPROVED


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
    """What the payments function needs of a provider. Every method is idempotent by key."""

    def charge(
        self, order_id: str, amount: Money, token: str, idempotency_key: str
    ) -> ChargeResult: ...

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
