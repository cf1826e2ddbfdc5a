"""Which payment provider this process talks to, chosen once from settings.

``PAYMENT_PROVIDER`` is ``sandbox`` (the default outside prod: ``SandboxProvider`` over the
``SandboxPaymentsTable`` ledger) or ``stripe`` (the default in prod). There is no Stripe adapter
yet, so ``stripe`` refuses with a ``ProviderConfigurationError`` that says so, instead of a
consumer that silently never charges. The sandbox is refused in prod whatever the variable says:
it approves any ``tok_ok`` without moving money.

``use_provider`` installs a replacement (tests); the adapters are imported only when chosen, so a
function that never pays pays nothing for them at cold start.
"""

from __future__ import annotations

from typing import Final

from commerce.payments.provider import PaymentProvider
from commerce.ports import Adapter
from commerce.settings import Settings, get_settings

SANDBOX: Final = "sandbox"
STRIPE: Final = "stripe"


class ProviderConfigurationError(RuntimeError):
    """The configured provider cannot be used: a deployment mistake, never a customer's."""


def build_provider(settings: Settings) -> PaymentProvider:
    """A new provider for ``settings``; ``ProviderConfigurationError`` when none can be built."""
    name = settings.payment_provider.strip().lower()
    if name == SANDBOX:
        if settings.stage == "prod":
            raise ProviderConfigurationError(
                "PAYMENT_PROVIDER=sandbox is refused in prod: it approves without moving money"
            )
        if not settings.sandbox_payments_table:
            raise ProviderConfigurationError(
                "PAYMENT_PROVIDER=sandbox needs SANDBOX_PAYMENTS_TABLE (the sandbox ledger)"
            )
        from commerce.payments.sandbox import SandboxProvider
        from commerce.store.sandbox_ledger import DynamoLedger

        return SandboxProvider(DynamoLedger())
    if name == STRIPE:
        raise ProviderConfigurationError(
            "PAYMENT_PROVIDER=stripe is not implemented yet: no Stripe adapter exists, so this "
            "deployment cannot take payments. Deploy a non-prod stage (sandbox) or add the adapter."
        )
    raise ProviderConfigurationError(
        f"PAYMENT_PROVIDER={settings.payment_provider!r} is unknown (use {SANDBOX} or {STRIPE})"
    )


#: The process's provider, built from settings on first use (``use_provider`` installs another).
provider: Final = Adapter[PaymentProvider](lambda: build_provider(get_settings()))
use_provider: Final = provider.use
