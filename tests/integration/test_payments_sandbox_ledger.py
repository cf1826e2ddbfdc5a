"""The sandbox provider's DynamoDB ledger (SandboxPaymentsTable from template.yaml, in moto),
and the provider factory that chooses it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from commerce.domain.money import Money
from commerce.payments.factory import ProviderConfigurationError, build_provider
from commerce.payments.provider import (
    PermanentProviderError,
    TransientProviderError,
    charge_key,
    refund_key,
)
from commerce.payments.sandbox import SandboxProvider
from commerce.settings import get_settings
from commerce.store.sandbox_ledger import DynamoLedger
from commerce.store.tables.sandbox import SandboxLedgerModel

pytestmark = pytest.mark.integration

CNY = "CNY"


def test_put_if_absent_writes_once_and_keeps_the_first_record(dynamodb: Any) -> None:
    ledger = DynamoLedger()
    assert ledger.put_if_absent("ord-1", "charge#k", {"status": "approved", "amount": 1200})
    assert not ledger.put_if_absent("ord-1", "charge#k", {"status": "declined", "amount": 1})
    assert ledger.get("ord-1", "charge#k") == {"status": "approved", "amount": 1200}
    assert ledger.get("ord-1", "charge#other") is None
    assert ledger.get("ord-2", "charge#k") is None


def test_amounts_come_back_as_integers(dynamodb: Any) -> None:
    ledger = DynamoLedger()
    ledger.put_if_absent("p", "k", {"amount": 10**12, "currency": CNY})
    record = ledger.get("p", "k")
    assert record is not None
    assert record["amount"] == 10**12
    assert isinstance(record["amount"], int)


def test_query_is_by_partition_and_prefix_in_key_order(dynamodb: Any) -> None:
    ledger = DynamoLedger()
    for key in ("movement#000002", "movement#000000", "charge", "movement#000001"):
        ledger.put_if_absent("ch_1", key, {"key": key})
    ledger.put_if_absent("ch_2", "movement#000000", {"key": "elsewhere"})
    found = ledger.query("ch_1", "movement#")
    assert [key for key, _ in found] == ["movement#000000", "movement#000001", "movement#000002"]
    assert [record["key"] for _, record in found] == [key for key, _ in found]
    assert ledger.query("ch_3", "movement#") == []


def test_records_carry_a_ttl_for_housekeeping(dynamodb: Any) -> None:
    DynamoLedger().put_if_absent("p", "k", {"a": "b"})
    item = SandboxLedgerModel.get("p", "k")
    assert item.ttl > 0


def test_the_sandbox_over_dynamodb_charges_once_per_key(dynamodb: Any) -> None:
    sandbox = SandboxProvider(DynamoLedger())
    amount = Money(2500, CNY)
    first = sandbox.charge("ord-9", amount, "tok_ok", charge_key("ord-9"))
    again = sandbox.charge("ord-9", amount, "tok_ok", charge_key("ord-9"))
    assert first.approved
    assert again == first
    assert sandbox.charge_count("ord-9") == 1
    with pytest.raises(PermanentProviderError):
        sandbox.charge("ord-9", Money(1, CNY), "tok_ok", charge_key("ord-9"))


def test_tok_flaky_fails_once_then_approves_over_dynamodb(dynamodb: Any) -> None:
    sandbox = SandboxProvider(DynamoLedger())
    amount = Money(700, CNY)
    with pytest.raises(TransientProviderError):
        sandbox.charge("ord-f", amount, "tok_flaky", charge_key("ord-f"))
    assert sandbox.charge("ord-f", amount, "tok_flaky", charge_key("ord-f")).approved
    assert sandbox.charge_count("ord-f") == 1


def test_declines_are_final_and_counted_as_no_charge(dynamodb: Any) -> None:
    sandbox = SandboxProvider(DynamoLedger())
    result = sandbox.charge("ord-d", Money(700, CNY), "tok_declined", charge_key("ord-d"))
    assert not result.approved
    assert result.decline_code == "card_declined"
    assert sandbox.charge_count("ord-d") == 0


def test_refunds_are_idempotent_and_bounded_by_the_charge(dynamodb: Any) -> None:
    sandbox = SandboxProvider(DynamoLedger())
    charge = sandbox.charge("ord-r", Money(1000, CNY), "tok_ok", charge_key("ord-r"))
    first = sandbox.refund(charge.charge_id, Money(1000, CNY), refund_key("ord-r"))
    again = sandbox.refund(charge.charge_id, Money(1000, CNY), refund_key("ord-r"))
    assert again == first
    assert sandbox.refunded_total(charge.charge_id) == Money(1000, CNY)
    with pytest.raises(PermanentProviderError):
        sandbox.refund(charge.charge_id, Money(1, CNY), refund_key("ord-r", "ret1"))


def test_find_charge_over_dynamodb_reads_and_never_charges(dynamodb: Any) -> None:
    sandbox = SandboxProvider(DynamoLedger())
    assert sandbox.find_charge("ord-l", charge_key("ord-l")) is None
    assert list(SandboxLedgerModel.scan()) == []
    charge = sandbox.charge("ord-l", Money(900, CNY), "tok_ok", charge_key("ord-l"))
    assert sandbox.find_charge("ord-l", charge_key("ord-l")) == charge
    assert sandbox.charge_count("ord-l") == 1
    refund = sandbox.refund(charge.charge_id, Money(900, CNY), refund_key("ord-l"))
    assert sandbox.refund(charge.charge_id, Money(900, CNY), refund_key("ord-l")) == refund
    assert [key for key, _ in DynamoLedger().query(charge.charge_id, "movement#")] == [
        "movement#000000"
    ]


# --- the factory ------------------------------------------------------------------------------


def test_the_factory_gives_the_sandbox_outside_prod(dynamodb: Any) -> None:
    settings = get_settings()
    assert settings.payment_provider == "sandbox"
    assert isinstance(build_provider(settings), SandboxProvider)


def test_stripe_without_its_keys_is_refused_with_a_clear_configuration_error() -> None:
    settings = replace(get_settings(), payment_provider="stripe")
    with pytest.raises(ProviderConfigurationError, match="stripe payment provider cannot start"):
        build_provider(settings)


def test_the_sandbox_is_refused_in_prod() -> None:
    settings = replace(get_settings(), stage="prod", payment_provider="sandbox")
    with pytest.raises(ProviderConfigurationError, match="refused in prod"):
        build_provider(settings)


def test_the_sandbox_needs_its_ledger_table() -> None:
    settings = replace(get_settings(), sandbox_payments_table="")
    with pytest.raises(ProviderConfigurationError, match="SANDBOX_PAYMENTS_TABLE"):
        build_provider(settings)


def test_an_unknown_provider_is_refused() -> None:
    settings = replace(get_settings(), payment_provider="paypal")
    with pytest.raises(ProviderConfigurationError, match="unknown"):
        build_provider(settings)


# --- settings ---------------------------------------------------------------------------------


def test_prod_defaults_to_stripe_and_elsewhere_to_the_sandbox() -> None:
    from commerce.settings import Settings

    assert Settings.from_env({"STAGE": "prod"}).payment_provider == "stripe"
    assert Settings.from_env({"STAGE": "staging"}).payment_provider == "sandbox"
    assert Settings.from_env({"STAGE": "dev"}).webhook_secrets_parameter == (
        "/commerce/dev/webhook-secrets"
    )


@pytest.mark.parametrize("raw", ["-0.1", "1.5", "often"])
def test_a_crash_rate_outside_zero_to_one_is_a_settings_error(raw: str) -> None:
    from commerce.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="PAYMENTS_CRASH_AFTER_CHARGE_RATE"):
        Settings.from_env({"PAYMENTS_CRASH_AFTER_CHARGE_RATE": raw})


def test_the_crash_rate_is_honoured_outside_prod_only() -> None:
    from commerce.settings import Settings

    env = {"PAYMENTS_CRASH_AFTER_CHARGE_RATE": "0.25"}
    assert Settings.from_env({**env, "STAGE": "dev"}).payments_crash_rate == 0.25
    assert Settings.from_env({**env, "STAGE": "prod"}).payments_crash_rate == 0.0
