"""The Stripe adapter against localstripe: one PaymentIntent per order, whatever happens.

localstripe (a stateful Stripe-shaped server, started here on a free port) answers the
``stripe`` library as Stripe does but ignores ``Idempotency-Key``, so these tests show what the
adapter guarantees on its own: a redelivered or retried charge, a crash between creating the
PaymentIntent and keeping its id, and racing consumers all end with one PaymentIntent that took
money; a retried refund refunds once. The order's ``payment_ref`` on DynamoDB (moto) is the
reference store of the deployed adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from commerce.domain.money import Money
from commerce.payments.provider import (
    ChargeStatus,
    PermanentProviderError,
    charge_key,
    refund_key,
)
from commerce.payments.stripe_provider import InMemoryPaymentRefs, StripeProvider
from commerce.store.charge_attempts import DynamoPaymentRefs
from concurrency import all_at_once
from payment_orders import place_order

from infra.local.localstripe import LocalStripe

pytestmark = pytest.mark.integration

API_KEY = "sk_test_local"
VISA = "pm_card_visa"
DECLINED = "pm_card_chargeCustomerFail"


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    server = LocalStripe()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def refs() -> InMemoryPaymentRefs:
    return InMemoryPaymentRefs()


@pytest.fixture
def provider(localstripe: LocalStripe, refs: InMemoryPaymentRefs) -> StripeProvider:
    return StripeProvider(API_KEY, refs, api_base=localstripe.endpoint)


def _client(localstripe: LocalStripe) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.endpoint})


def _order_id(tag: str) -> str:
    import uuid

    return f"ord-{tag}-{uuid.uuid4().hex[:12]}"


def _succeeded(provider: StripeProvider, order_id: str) -> list[Any]:
    return [pi for pi in provider.payment_intents_of(order_id) if pi.status == "succeeded"]


def test_a_card_is_charged_through_a_payment_intent(provider: StripeProvider) -> None:
    order_id = _order_id("ok")
    result = provider.charge(order_id, Money(1250), VISA, charge_key(order_id))
    assert result.status is ChargeStatus.APPROVED
    assert result.charge_id.startswith("pi_")
    assert result.amount == Money(1250)
    [intent] = provider.payment_intents_of(order_id)
    assert intent.id == result.charge_id
    assert intent.metadata["order_id"] == order_id
    assert intent.metadata["idempotency_key"] == charge_key(order_id)


def test_a_redelivered_charge_finds_the_first_payment_intent(provider: StripeProvider) -> None:
    order_id = _order_id("again")
    first = provider.charge(order_id, Money(990), VISA, charge_key(order_id))
    again = provider.charge(order_id, Money(990), VISA, charge_key(order_id))
    assert again == first
    assert len(provider.payment_intents_of(order_id)) == 1


def test_a_decline_is_final_and_a_retry_gets_the_same_answer(provider: StripeProvider) -> None:
    order_id = _order_id("declined")
    first = provider.charge(order_id, Money(500), DECLINED, charge_key(order_id))
    assert (first.status, first.decline_code) == (ChargeStatus.DECLINED, "card_declined")
    again = provider.charge(order_id, Money(500), DECLINED, charge_key(order_id))
    assert again == first
    assert len(provider.payment_intents_of(order_id)) == 1
    assert _succeeded(provider, order_id) == []


class _CrashOnKeep(InMemoryPaymentRefs):
    """The consumer dies after Stripe created the PaymentIntent, before its id is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.crashes = 1

    def put_if_absent(self, order_id: str, ref: str) -> bool:
        if self.crashes:
            self.crashes -= 1
            raise ConnectionError("the consumer died before keeping the PaymentIntent")
        return super().put_if_absent(order_id, ref)


def test_a_crash_between_create_and_keep_leaves_one_payment_intent(
    localstripe: LocalStripe,
) -> None:
    refs = _CrashOnKeep()
    provider = StripeProvider(API_KEY, refs, api_base=localstripe.endpoint)
    order_id = _order_id("crash")
    with pytest.raises(ConnectionError):
        provider.charge(order_id, Money(700), VISA, charge_key(order_id))
    # The redelivery finds the unkept PaymentIntent by its metadata instead of creating one.
    result = provider.charge(order_id, Money(700), VISA, charge_key(order_id))
    assert result.status is ChargeStatus.APPROVED
    assert refs.get(order_id) == result.charge_id
    assert len(provider.payment_intents_of(order_id)) == 1
    assert len(_succeeded(provider, order_id)) == 1


def test_a_crash_after_the_confirm_is_redelivered_without_a_second_charge(
    provider: StripeProvider, localstripe: LocalStripe
) -> None:
    order_id = _order_id("after")
    first = provider.charge(order_id, Money(800), VISA, charge_key(order_id))
    # The consumer died before writing PAID: a fresh process (same kept reference) charges again.
    for _ in range(3):
        assert provider.charge(order_id, Money(800), VISA, charge_key(order_id)) == first
    charges = _client(localstripe).v1.charges.list({"limit": 100}).data
    assert [c.id for c in charges if c.payment_intent == first.charge_id] != []
    assert len([c for c in charges if c.payment_intent == first.charge_id]) == 1


class _RacerKeepsOurs(InMemoryPaymentRefs):
    """Between our create and our keep, a racing attempt finds our PaymentIntent by its
    metadata and keeps it first."""

    def put_if_absent(self, order_id: str, ref: str) -> bool:
        if order_id not in self.refs:
            self.refs[order_id] = ref
            return False
        return super().put_if_absent(order_id, ref)


def test_a_payment_intent_a_racer_kept_for_us_is_charged_not_cancelled(
    localstripe: LocalStripe,
) -> None:
    refs = _RacerKeepsOurs()
    provider = StripeProvider(API_KEY, refs, api_base=localstripe.endpoint)
    order_id = _order_id("kept-for-us")
    result = provider.charge(order_id, Money(650), VISA, charge_key(order_id))
    assert result.status is ChargeStatus.APPROVED
    [intent] = provider.payment_intents_of(order_id)
    assert intent.id == result.charge_id == refs.get(order_id)
    assert intent.status == "succeeded"


def test_racing_consumers_make_one_charge(provider: StripeProvider) -> None:
    order_id = _order_id("race")
    results = all_at_once(
        4, lambda: provider.charge(order_id, Money(600), VISA, charge_key(order_id))
    )
    approved = {r.charge_id for r in results if not isinstance(r, Exception)}
    assert len(approved) == 1
    assert len(_succeeded(provider, order_id)) == 1
    others = [pi for pi in provider.payment_intents_of(order_id) if pi.id not in approved]
    assert all(pi.status == "canceled" for pi in others)


def test_find_charge_never_creates_and_answers_what_was_charged(provider: StripeProvider) -> None:
    order_id = _order_id("find")
    assert provider.find_charge(order_id, charge_key(order_id)) is None
    assert provider.payment_intents_of(order_id) == []
    charged = provider.charge(order_id, Money(450), VISA, charge_key(order_id))
    assert provider.find_charge(order_id, charge_key(order_id)) == charged


def test_a_refund_retried_with_its_key_refunds_once(
    provider: StripeProvider, localstripe: LocalStripe
) -> None:
    order_id = _order_id("refund")
    charged = provider.charge(order_id, Money(1000), VISA, charge_key(order_id))
    key = refund_key(order_id)
    first = provider.refund(charged.charge_id, Money(400), key)
    again = provider.refund(charged.charge_id, Money(400), key)
    assert again.refund_id == first.refund_id
    refunds = _client(localstripe).v1.refunds.list({"payment_intent": charged.charge_id}).data
    assert [r.amount for r in refunds] == [400]
    with pytest.raises(PermanentProviderError):
        provider.refund(charged.charge_id, Money(601), refund_key(order_id, "r2"))


def test_the_payment_intent_id_is_kept_on_the_order_in_dynamodb(
    dynamodb: Any, create_product: Any, localstripe: LocalStripe
) -> None:
    create_product(("STRIPE-A", 5))
    stored = place_order({"STRIPE-A": 1})
    refs = DynamoPaymentRefs()
    provider = StripeProvider(API_KEY, refs, api_base=localstripe.endpoint)
    result = provider.charge(stored.order_id, Money(1000), VISA, charge_key(stored.order_id))
    assert refs.get(stored.order_id) == result.charge_id
    assert not refs.put_if_absent(stored.order_id, "pi_other")  # kept once
    assert not DynamoPaymentRefs().put_if_absent("no-such-order", "pi_x")  # orders only
    assert provider.charge(stored.order_id, Money(1000), VISA, charge_key(stored.order_id)) == (
        result
    )
