"""The sandbox provider: decisions by token, idempotency by key, refunds bounded by the charge."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from commerce.domain.money import Money
from commerce.payments.provider import (
    CANCEL,
    MAX_IDEMPOTENCY_KEY_CHARS,
    ChargeResult,
    ChargeStatus,
    PaymentProvider,
    PermanentProviderError,
    TransientProviderError,
    charge_key,
    refund_key,
    void_key,
)
from commerce.payments.sandbox import (
    DECLINE_CARD,
    DECLINE_INVALID_TOKEN,
    TOK_DECLINED,
    TOK_FLAKY,
    TOK_OK,
    InMemoryLedger,
    Record,
    SandboxProvider,
    charge_id_for,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

AMOUNT = Money(12_900)


def sandbox() -> SandboxProvider:
    return SandboxProvider(InMemoryLedger())


def charge(provider: PaymentProvider, order_id: str = "ord-1", token: str = TOK_OK) -> ChargeResult:
    return provider.charge(order_id, AMOUNT, token, charge_key(order_id))


# --- Keys -------------------------------------------------------------------------------------


def test_keys_are_derived_from_the_order_and_distinct() -> None:
    keys = {
        charge_key("ord-1"),
        void_key("ord-1"),
        refund_key("ord-1"),
        refund_key("ord-1", CANCEL),
        refund_key("ord-1", "ret-1"),
        refund_key("ord-1", "ret-2"),
        charge_key("ord-2"),
    }
    assert len(keys) == 6  # refund_key's default is the cancel refund
    assert charge_key("ord-1") == "order:ord-1:charge" == charge_key("ord-1")
    assert refund_key("ord-1") == "order:ord-1:refund:cancel"
    assert refund_key("ord-1", "ret-1") == "order:ord-1:refund:return:ret-1"
    assert void_key("ord-1") == "order:ord-1:void"


@pytest.mark.parametrize("bad", ["", "a:b", "a b", "x" * MAX_IDEMPOTENCY_KEY_CHARS])
def test_keys_refuse_ids_that_could_collide_or_overflow(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages vary by rule
        charge_key(bad)
    with pytest.raises(ValueError):  # noqa: PT011
        refund_key("ord-1", bad)


# --- Tokens -----------------------------------------------------------------------------------


def test_tok_ok_approves() -> None:
    result = charge(sandbox())
    assert result.status is ChargeStatus.APPROVED
    assert result.approved
    assert result.amount == AMOUNT
    assert result.decline_code is None
    assert result.charge_id.startswith("ch_")


def test_tok_declined_declines() -> None:
    provider = sandbox()
    result = charge(provider, token=TOK_DECLINED)
    assert result.status is ChargeStatus.DECLINED
    assert not result.approved
    assert result.decline_code == DECLINE_CARD == "card_declined"
    assert provider.charge_count("ord-1") == 0


@pytest.mark.parametrize("token", ["tok_unknown", "", "TOK_OK", "tok_ok "])
def test_unknown_tokens_decline_as_invalid(token: str) -> None:
    result = charge(sandbox(), token=token)
    assert result.status is ChargeStatus.DECLINED
    assert result.decline_code == DECLINE_INVALID_TOKEN == "invalid_token"


def test_tok_flaky_fails_once_per_key_then_approves_once() -> None:
    provider = sandbox()
    with pytest.raises(TransientProviderError):
        charge(provider, token=TOK_FLAKY)
    assert provider.charge_count("ord-1") == 0
    first = charge(provider, token=TOK_FLAKY)
    assert first.approved
    assert charge(provider, token=TOK_FLAKY) == first
    assert provider.charge_count("ord-1") == 1
    with pytest.raises(TransientProviderError):  # a new order's key fails once too
        charge(provider, "ord-2", token=TOK_FLAKY)


def test_a_charge_needs_a_positive_amount() -> None:
    with pytest.raises(PermanentProviderError):
        sandbox().charge("ord-1", Money(0), TOK_OK, charge_key("ord-1"))


# --- Idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [TOK_OK, TOK_DECLINED, "tok_unknown"])
def test_the_same_key_answers_the_first_result(token: str) -> None:
    provider = sandbox()
    first = charge(provider, token=token)
    assert all(charge(provider, token=token) == first for _ in range(5))
    assert provider.charge_count("ord-1") == (1 if first.approved else 0)


def test_a_key_reused_with_other_parameters_is_refused() -> None:
    provider = sandbox()
    charge(provider)
    with pytest.raises(PermanentProviderError, match="different parameters"):
        provider.charge("ord-1", Money(1), TOK_OK, charge_key("ord-1"))
    with pytest.raises(PermanentProviderError, match="different parameters"):
        provider.charge("ord-1", AMOUNT, TOK_DECLINED, charge_key("ord-1"))
    assert provider.charge_count("ord-1") == 1


def test_a_second_key_for_one_order_is_counted() -> None:
    provider = sandbox()
    charge(provider)
    provider.charge("ord-1", AMOUNT, TOK_OK, "a-buggy-second-key")
    assert provider.charge_count("ord-1") == 2  # what the reliability test would catch


@pytest.mark.parametrize("token", [TOK_OK, TOK_FLAKY])
def test_concurrent_retries_charge_exactly_once(token: str) -> None:
    provider = sandbox()

    def attempt(_: int) -> ChargeResult | None:
        try:
            return charge(provider, token=token)
        except TransientProviderError:
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = [r for r in pool.map(attempt, range(64)) if r is not None]
    assert results
    assert len({r.charge_id for r in results}) == 1
    assert provider.charge_count("ord-1") == 1


def test_many_orders_each_charged_once_under_redelivery() -> None:
    provider = sandbox()
    for round_ in range(3):  # every message delivered three times
        for n in range(50):
            token = TOK_FLAKY if n % 10 == 0 else TOK_OK
            try:
                charge(provider, f"ord-{n}", token)
            except TransientProviderError:
                assert round_ == 0
    assert [provider.charge_count(f"ord-{n}") for n in range(50)] == [1] * 50


# --- Looking a charge up ----------------------------------------------------------------------


class DiesBeforeIndexing(InMemoryLedger):
    """A ledger whose writer dies once, after a charge's record and before its refund index."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = False

    def put_if_absent(self, partition: str, key: str, record: Record) -> bool:
        if key == "charge" and not self.dead:
            self.dead = True
            raise ConnectionError("the process died")
        return super().put_if_absent(partition, key, record)


def test_find_charge_of_a_key_never_charged_is_none_and_writes_nothing() -> None:
    ledger = InMemoryLedger()
    provider = SandboxProvider(ledger)
    assert provider.find_charge("ord-1", charge_key("ord-1")) is None
    assert provider.find_charge("ord-1", charge_key("ord-1")) is None
    assert ledger.query("ord-1", "") == []
    assert provider.charge_count("ord-1") == 0


@pytest.mark.parametrize("token", [TOK_OK, TOK_DECLINED])
def test_find_charge_answers_the_first_result_of_the_key(token: str) -> None:
    provider = sandbox()
    first = charge(provider, token=token)
    assert provider.find_charge("ord-1", charge_key("ord-1")) == first
    assert provider.find_charge("ord-2", charge_key("ord-1")) is None  # another order's
    assert provider.find_charge("ord-1", "another-key") is None
    assert provider.charge_count("ord-1") == (1 if first.approved else 0)


def test_find_charge_does_not_spend_tok_flakys_first_failure() -> None:
    provider = sandbox()
    assert provider.find_charge("ord-1", charge_key("ord-1")) is None
    with pytest.raises(TransientProviderError):
        charge(provider, token=TOK_FLAKY)
    assert provider.find_charge("ord-1", charge_key("ord-1")) is None  # timed out: no charge
    approved = charge(provider, token=TOK_FLAKY)
    assert provider.find_charge("ord-1", charge_key("ord-1")) == approved


def test_a_charge_found_after_its_caller_died_can_be_refunded_once() -> None:
    provider = SandboxProvider(DiesBeforeIndexing())
    with pytest.raises(ConnectionError):
        charge(provider)
    found = provider.find_charge("ord-1", charge_key("ord-1"))
    assert found is not None
    assert found.approved
    first = provider.refund(found.charge_id, AMOUNT, refund_key("ord-1"))
    assert provider.refund(found.charge_id, AMOUNT, refund_key("ord-1")) == first
    assert provider.refunded_total(found.charge_id) == AMOUNT


# --- Refunds and voids ------------------------------------------------------------------------


def test_refunds_are_idempotent_and_bounded_by_the_charge() -> None:
    provider = sandbox()
    charge_id = charge(provider).charge_id
    first = provider.refund(charge_id, Money(4_000), refund_key("ord-1", "ret-1"))
    assert first.amount == Money(4_000)
    assert first.refunded_total == Money(4_000)
    assert provider.refund(charge_id, Money(4_000), refund_key("ord-1", "ret-1")) == first
    with pytest.raises(PermanentProviderError, match="different parameters"):
        provider.refund(charge_id, Money(1), refund_key("ord-1", "ret-1"))
    with pytest.raises(PermanentProviderError, match="exceeds"):
        provider.refund(charge_id, Money(8_901), refund_key("ord-1", "ret-2"))
    rest = provider.refund(charge_id, Money(8_900), refund_key("ord-1", "ret-2"))
    assert rest.refunded_total == AMOUNT
    assert provider.refunded_total(charge_id) == AMOUNT
    with pytest.raises(PermanentProviderError):
        provider.refund(charge_id, Money(1), refund_key("ord-1", "ret-3"))


def test_refund_and_void_need_an_approved_charge() -> None:
    provider = sandbox()
    declined = charge(provider, token=TOK_DECLINED)
    with pytest.raises(PermanentProviderError, match="no approved charge"):
        provider.refund(declined.charge_id, Money(1), refund_key("ord-1"))
    with pytest.raises(PermanentProviderError, match="no approved charge"):
        provider.void("ch_nope", void_key("ord-1"))
    charge_id = charge(provider, "ord-2").charge_id
    with pytest.raises(PermanentProviderError):
        provider.refund(charge_id, Money(0), refund_key("ord-2"))


def test_void_is_idempotent_and_ends_the_charge() -> None:
    provider = sandbox()
    charge_id = charge(provider).charge_id
    voided = provider.void(charge_id, void_key("ord-1"))
    assert provider.void(charge_id, void_key("ord-1")) == voided
    assert provider.refunded_total(charge_id) == AMOUNT
    with pytest.raises(PermanentProviderError, match="voided"):
        provider.refund(charge_id, Money(1), refund_key("ord-1"))
    with pytest.raises(PermanentProviderError, match="voided"):
        provider.void(charge_id, "another-key")


def test_a_refunded_charge_cannot_be_voided() -> None:
    provider = sandbox()
    charge_id = charge(provider).charge_id
    provider.refund(charge_id, Money(1), refund_key("ord-1", "ret-1"))
    with pytest.raises(PermanentProviderError, match="cannot be voided"):
        provider.void(charge_id, void_key("ord-1"))


def test_concurrent_refunds_never_exceed_the_charge() -> None:
    provider = sandbox()
    charge_id = charge(provider).charge_id

    def refund(n: int) -> int:
        try:
            return provider.refund(charge_id, Money(1_000), f"k-{n % 20}").amount.amount
        except PermanentProviderError:
            return 0

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(refund, range(80)))
    assert provider.refunded_total(charge_id) == Money(12_000)  # 12 distinct keys fit


@settings(max_examples=150, deadline=None)
@given(
    amounts=st.lists(
        st.tuples(st.integers(min_value=1, max_value=6_000), st.integers(0, 5)), max_size=15
    )
)
def test_any_refund_sequence_stays_within_the_charge(amounts: list[tuple[int, int]]) -> None:
    provider = sandbox()
    charge_id = charge(provider).charge_id
    by_key: dict[str, int] = {}
    for amount, key_no in amounts:
        key = refund_key("ord-1", f"ret-{key_no}")
        try:
            result = provider.refund(charge_id, Money(amount), key)
        except PermanentProviderError:
            continue
        assert by_key.setdefault(key, result.amount.amount) == result.amount.amount
        assert result.refunded_total.amount <= AMOUNT.amount
    assert provider.refunded_total(charge_id).amount == sum(by_key.values()) <= AMOUNT.amount


# --- Injected timeouts (the local stack's --provider-timeouts) -------------------------------


def _timing_out(rate: float = 0.5) -> SandboxProvider:
    """A sandbox that times out ``rate`` of its calls, without the wait."""
    return SandboxProvider(InMemoryLedger(), timeout_rate=rate, wait=lambda _: None)


def test_timeouts_are_spread_evenly_first_before_then_after_the_money_moves() -> None:
    provider = _timing_out(0.5)  # calls 1, 3, 5, ... time out
    with pytest.raises(TransientProviderError, match="before"):
        charge(provider, "ord-1")
    assert provider.charge_count("ord-1") == 0  # timed out before anything moved
    assert charge(provider, "ord-1").approved
    with pytest.raises(TransientProviderError, match="after"):
        charge(provider, "ord-2")
    assert provider.charge_count("ord-2") == 1  # charged, though the caller heard nothing
    retried = charge(provider, "ord-2")
    assert retried.approved
    assert provider.charge_count("ord-2") == 1


@settings(max_examples=100, deadline=None)
@given(
    rate=st.floats(min_value=0.01, max_value=0.5),
    calls=st.lists(st.sampled_from(["charge", "refund"]), min_size=1, max_size=30),
)
def test_retrying_every_timeout_charges_once_and_refunds_within_the_charge(
    rate: float, calls: list[str]
) -> None:
    """A caller that retries every timeout (as the payments queue does) is answered on the next
    try at most (a rate up to 1/2 never times out twice in a row), ends with one charge per
    order, and refunds retried the same way never pass it."""
    provider = _timing_out(rate)
    charge_id = charge_id_for("ord-0", charge_key("ord-0"))
    answered = {"refund": 0}

    def once(call: str, n: int) -> None:
        if call == "charge":
            charge(provider, f"ord-{n % 3}")
        else:
            provider.refund(charge_id, Money(1_000), refund_key("ord-0", f"r{n}"))
            answered["refund"] += 1

    for n, call in enumerate(["charge", *calls]):
        for attempt in range(2):
            try:
                once("charge" if n == 0 else call, n)
                break
            except TransientProviderError:
                assert attempt == 0, "timed out twice in a row"
            except PermanentProviderError:
                break
    assert all(provider.charge_count(f"ord-{n}") <= 1 for n in range(3))
    assert provider.charge_count("ord-0") == 1
    refunded = provider.refunded_total(charge_id).amount
    assert refunded == 1_000 * answered["refund"] <= AMOUNT.amount
