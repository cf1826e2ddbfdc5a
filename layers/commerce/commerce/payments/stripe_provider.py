"""Cards through Stripe: PaymentIntents created, confirmed, refunded, each exactly once.

A charge is a PaymentIntent for the order's total with the customer's PaymentMethod (the
card token; card data never reaches us). Every call carries an idempotency key derived from
the order (``charge_key`` and its ``:create`` / ``:confirm`` steps, ``refund_key``), which real
Stripe honours for 24 hours. Exactly-once does not rest on that alone (localstripe, the
Stripe-shaped server of the tests and the local stack, ignores the header, and a key expires):

1. The PaymentIntent is created **unconfirmed**, with ``metadata`` naming the order and the
   key, and its id is kept on our side (``PaymentRefs``: the order's ``payment_ref``) before it
   is confirmed. Only the kept one is ever confirmed.
2. Before creating, an attempt looks for the order's PaymentIntent: the id kept, else one
   whose metadata names the order (a crash between create and keep left it unkept; Stripe's
   list is strongly consistent, unlike its search). Found, it is kept and continued.
3. Two attempts racing past step 2 may each create one: the first to keep its id wins, the
   other cancels its own (never confirmed, it never took money) and continues the winner's.

``find_charge`` answers from the same reads and never creates or confirms. Refunds look for a
refund of the PaymentIntent whose metadata names the refund's reference
(``domain.refunds.refund_id_for(key)``) before creating one, for the same reason.

Errors: a card decline is a final ``DECLINED``; connection errors, rate limits and Stripe's
5xx are ``TransientProviderError`` (the payments queue retries with backoff); any other
refusal is ``PermanentProviderError``. ``api_base`` points the client at localstripe in the
tests and the local stack (``STRIPE_API_BASE``); the adapter has no other local knowledge.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol, TypeVar

import stripe

from commerce.domain.money import Money
from commerce.domain.orders import NextAction, NextActionType
from commerce.domain.refunds import refund_id_for
from commerce.payments.provider import (
    ChargeResult,
    ChargeStatus,
    PermanentProviderError,
    RefundResult,
    TransientProviderError,
    VoidResult,
)

#: How many of the most recent PaymentIntents a lookup by metadata reads at most. Stripe lists
#: newest first, and the one looked for was created moments before the attempt that lost it.
LIST_SCAN_LIMIT: Final = 500
#: Network retries the Stripe client makes itself (with the same idempotency key).
CLIENT_RETRIES: Final = 1
#: Seconds to connect and read before a call counts as a transient failure.
TIMEOUT_SECONDS: Final = 8

_T = TypeVar("_T")


class PaymentRefs(Protocol):
    """Where the provider's reference of each order's payment is kept, once per order."""

    def get(self, order_id: str) -> str | None: ...

    def put_if_absent(self, order_id: str, ref: str) -> bool:
        """Keep ``ref`` for the order unless one is kept already; True when this call kept it."""
        ...


class InMemoryPaymentRefs:
    """``PaymentRefs`` in a dict (tests)."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, order_id: str) -> str | None:
        with self._lock:
            return self.refs.get(order_id)

    def put_if_absent(self, order_id: str, ref: str) -> bool:
        with self._lock:
            if order_id in self.refs:
                return False
            self.refs[order_id] = ref
            return True


def _call(action: Callable[[], _T]) -> _T:
    """One Stripe call, its errors translated into the port's."""
    try:
        return action()
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise TransientProviderError(f"stripe: {type(error).__name__}") from error
    except stripe.APIError as error:
        raise TransientProviderError("stripe: server error") from error
    except stripe.CardError:
        raise
    except stripe.StripeError as error:
        status = getattr(error, "http_status", None)
        if isinstance(status, int) and status >= 500:
            raise TransientProviderError(f"stripe: HTTP {status}") from error
        raise PermanentProviderError(f"stripe: {type(error).__name__} ({status})") from error


def _field(obj: Any, name: str) -> Any:
    """An attribute of a Stripe object, or None (objects omit unset fields)."""
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


class StripeProvider:
    """A ``PaymentProvider`` for cards over Stripe's PaymentIntents."""

    name: Final = "stripe"

    def __init__(self, api_key: str, refs: PaymentRefs, *, api_base: str = "") -> None:
        self._refs = refs
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=CLIENT_RETRIES,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    # --- charges ---------------------------------------------------------------------------

    def charge(
        self,
        order_id: str,
        amount: Money,
        token: str,
        idempotency_key: str,
        *,
        expires_at: int | None = None,
    ) -> ChargeResult:
        del expires_at  # a card is charged at once
        if amount.amount <= 0:
            raise PermanentProviderError("a charge is for a positive amount")
        if not token:
            raise PermanentProviderError("a card charge needs a payment method")
        intent = self._kept_or_found(order_id)
        if intent is None:
            intent = self._create(order_id, amount, token, idempotency_key)
        return self._continue(intent, amount, idempotency_key)

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        del idempotency_key
        intent = self._kept_or_found(order_id, keep=False)
        if intent is None:
            return None
        result = self._result(intent)
        return result if result.status is not ChargeStatus.ACTION_REQUIRED else None

    def order_of(self, payment_intent_id: str) -> str | None:
        """The order a PaymentIntent was made for (its metadata), for refund notifications."""
        intent = _call(lambda: self._client.v1.payment_intents.retrieve(payment_intent_id))
        order_id = _field(_field(intent, "metadata"), "order_id")
        return str(order_id) if order_id else None

    def payment_intents_of(self, order_id: str) -> list[Any]:
        """Every PaymentIntent whose metadata names the order (what tests count)."""
        return [
            pi for pi in self._recent() if _field(_field(pi, "metadata"), "order_id") == order_id
        ]

    def _kept_or_found(self, order_id: str, *, keep: bool = True) -> Any | None:
        """The order's PaymentIntent: the one kept, else one found by its metadata (kept now,
        unless ``keep`` is False); None when the order has none."""
        ref = self._refs.get(order_id)
        if ref is not None:
            return _call(lambda: self._client.v1.payment_intents.retrieve(ref))
        found = next(iter(self.payment_intents_of(order_id)), None)
        if found is None or not keep:
            return found
        if self._refs.put_if_absent(order_id, found.id):
            return found
        winner = self._refs.get(order_id)
        return _call(lambda: self._client.v1.payment_intents.retrieve(winner or found.id))

    def _recent(self) -> Iterator[Any]:
        page = _call(lambda: self._client.v1.payment_intents.list({"limit": 100}))
        for seen, intent in enumerate(page.auto_paging_iter()):
            if seen >= LIST_SCAN_LIMIT:
                return
            yield intent

    def _create(self, order_id: str, amount: Money, token: str, key: str) -> Any:
        params: Any = {
            "amount": amount.amount,
            "currency": amount.currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],
            "metadata": {"order_id": order_id, "idempotency_key": key},
        }
        try:
            created = _call(
                lambda: self._client.v1.payment_intents.create(
                    params, {"idempotency_key": f"{key}:create"}
                )
            )
        except stripe.CardError as error:  # pragma: no cover - Stripe declines at confirm
            raise PermanentProviderError(f"stripe: {error.code}") from error
        if self._refs.put_if_absent(order_id, created.id):
            return created
        winner = self._refs.get(order_id) or created.id
        if winner == created.id:
            # A racing attempt found ours by its metadata and kept it first: it is the order's.
            return created
        # Another attempt kept its own PaymentIntent first: ours was never confirmed; cancel it.
        # An unconfirmed PaymentIntent takes no money: a failed cancel leaves nothing owed.
        with contextlib.suppress(TransientProviderError, PermanentProviderError):
            _call(lambda: self._client.v1.payment_intents.cancel(created.id))
        return _call(lambda: self._client.v1.payment_intents.retrieve(winner))

    def _continue(self, intent: Any, amount: Money, key: str) -> ChargeResult:
        if intent.status == "requires_confirmation":
            try:
                intent = _call(
                    lambda: self._client.v1.payment_intents.confirm(
                        intent.id, options={"idempotency_key": f"{key}:confirm"}
                    )
                )
            except stripe.CardError:
                intent = _call(lambda: self._client.v1.payment_intents.retrieve(intent.id))
        if int(intent.amount) != amount.amount:
            raise PermanentProviderError("the order's PaymentIntent is for another amount")
        return self._result(intent)

    def _result(self, intent: Any) -> ChargeResult:
        status = intent.status
        amount = Money(int(intent.amount), str(intent.currency).upper())
        if status in ("succeeded", "requires_capture"):
            return ChargeResult(ChargeStatus.APPROVED, intent.id, amount)
        if status == "processing":
            raise TransientProviderError("stripe: the payment is still processing")
        if status == "requires_action":
            url = _field(_field(_field(intent, "next_action"), "redirect_to_url"), "url")
            if url:
                action = NextAction(NextActionType.REDIRECT, url=str(url))
                return ChargeResult(
                    ChargeStatus.ACTION_REQUIRED, intent.id, amount, next_action=action
                )
            return ChargeResult(ChargeStatus.DECLINED, intent.id, amount, "authentication_required")
        error = _field(intent, "last_payment_error")
        if status == "requires_payment_method" and error is not None:
            code = _field(error, "decline_code") or _field(error, "code") or "card_declined"
            return ChargeResult(ChargeStatus.DECLINED, intent.id, amount, str(code))
        if status == "canceled":
            return ChargeResult(ChargeStatus.DECLINED, intent.id, amount, "canceled")
        # Created, not yet confirmed: no money has moved.
        return ChargeResult(ChargeStatus.ACTION_REQUIRED, intent.id, amount)

    # --- refunds and voids -----------------------------------------------------------------

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        if amount.amount <= 0:
            raise PermanentProviderError("a refund is a positive amount")
        reference = refund_id_for(idempotency_key)
        refunds = self._refunds_of(charge_id)
        mine = next(
            (r for r in refunds if _field(_field(r, "metadata"), "refund_id") == reference), None
        )
        if mine is None:
            intent = _call(lambda: self._client.v1.payment_intents.retrieve(charge_id))
            spent = sum(int(r.amount) for r in refunds if r.status in ("succeeded", "pending"))
            if spent + amount.amount > int(intent.amount):
                # Stripe refuses it too; asking first keeps a retry from moving money twice.
                raise PermanentProviderError("the refund exceeds what remains of the charge")
            params: Any = {
                "payment_intent": charge_id,
                "amount": amount.amount,
                "metadata": {"refund_id": reference, "idempotency_key": idempotency_key},
            }
            mine = _call(
                lambda: self._client.v1.refunds.create(params, {"idempotency_key": idempotency_key})
            )
            refunds = [*refunds, mine]
        elif int(mine.amount) != amount.amount:
            raise PermanentProviderError("idempotency key reused with different parameters")
        total = sum(int(r.amount) for r in refunds if r.status in ("succeeded", "pending"))
        return RefundResult(
            refund_id=mine.id,
            charge_id=charge_id,
            amount=amount,
            refunded_total=Money(total, amount.currency),
        )

    def _refunds_of(self, charge_id: str) -> list[Any]:
        page = _call(
            lambda: self._client.v1.refunds.list({"payment_intent": charge_id, "limit": 100})
        )
        return list(page.auto_paging_iter())

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult:
        _call(
            lambda: self._client.v1.payment_intents.cancel(
                charge_id, options={"idempotency_key": idempotency_key}
            )
        )
        return VoidResult(charge_id)
