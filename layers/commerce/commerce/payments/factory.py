"""Which provider takes an order's payment: chosen by the order's method, then by settings.

| method       | provider                                                                     |
|--------------|------------------------------------------------------------------------------|
| ``card``     | ``PAYMENT_PROVIDER``: ``sandbox`` (default outside prod; ``SandboxProvider`` |
|              | over the ``SandboxPaymentsTable`` ledger) or ``stripe`` (default in prod)    |
| ``alipay``   | ``AlipayProvider`` (python-alipay-sdk, RSA2)                                 |
| ``wechat_pay``| ``WechatPayProvider`` (wechatpayv3, API v3, Native)                         |

Keys come from ``payments.credentials`` (Secrets Manager on AWS); where each provider's API is
reached from settings (``STRIPE_API_BASE``, ``ALIPAY_GATEWAY_URL``, ``WECHATPAY_API_BASE``: empty
means the provider's own; the local stack points them at localstripe and its provider edge).
A provider that cannot be built raises ``ProviderConfigurationError``, which fails the record
or request loudly instead of never charging. The sandbox is refused in prod whatever the
variable says: it approves any ``tok_ok`` without moving money.

``use_provider`` (cards) and ``use_provider_for`` install replacements (tests); the adapters
are imported only when chosen, so a function that never pays pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from commerce.domain.orders import PaymentMethod
from commerce.payments.credentials import CredentialsError
from commerce.payments.provider import PaymentProvider
from commerce.ports import Adapter
from commerce.settings import Settings, get_settings

SANDBOX: Final = "sandbox"
STRIPE: Final = "stripe"
ALIPAY: Final = "alipay"
WECHAT_PAY: Final = "wechat_pay"


class ProviderConfigurationError(RuntimeError):
    """The configured provider cannot be used: a deployment mistake, never a customer's."""


def _guarded(name: str, build: Callable[[], PaymentProvider]) -> PaymentProvider:
    try:
        return build()
    except CredentialsError as error:
        raise ProviderConfigurationError(
            f"the {name} payment provider cannot start: {error} (see README, 'Payment providers')"
        ) from error


def _stripe(settings: Settings) -> PaymentProvider:
    from commerce.payments.credentials import credentials
    from commerce.payments.stripe_provider import StripeProvider
    from commerce.store.charge_attempts import DynamoPaymentRefs

    keys = credentials(STRIPE, ("api_key",))
    return StripeProvider(
        str(keys["api_key"]), DynamoPaymentRefs(), api_base=settings.stripe_api_base
    )


def build_provider(settings: Settings) -> PaymentProvider:
    """A new card provider for ``settings``; ``ProviderConfigurationError`` when none can be
    built."""
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

        return SandboxProvider(DynamoLedger(), timeout_rate=settings.sandbox_provider_timeout_rate)
    if name == STRIPE:
        return _guarded(STRIPE, lambda: _stripe(settings))
    raise ProviderConfigurationError(
        f"PAYMENT_PROVIDER={settings.payment_provider!r} is unknown (use {SANDBOX} or {STRIPE})"
    )


def _alipay(settings: Settings) -> PaymentProvider:
    from commerce.payments.alipay_provider import AlipayKeys, AlipayProvider

    return _guarded(ALIPAY, lambda: AlipayProvider(AlipayKeys.load(), settings))


def _wechat_pay(settings: Settings) -> PaymentProvider:
    from commerce.payments.wechat_pay_provider import WechatPayKeys, WechatPayProvider

    return _guarded(WECHAT_PAY, lambda: WechatPayProvider(WechatPayKeys.load(), settings))


#: The process's card provider, built from settings on first use (``use_provider`` installs
#: another).
provider: Final = Adapter[PaymentProvider](lambda: build_provider(get_settings()))
use_provider: Final = provider.use

_BY_METHOD: Final[dict[str, Adapter[PaymentProvider]]] = {
    PaymentMethod.CARD.value: provider,
    PaymentMethod.ALIPAY.value: Adapter[PaymentProvider](lambda: _alipay(get_settings())),
    PaymentMethod.WECHAT_PAY.value: Adapter[PaymentProvider](lambda: _wechat_pay(get_settings())),
}


def provider_for(method: str) -> PaymentProvider:
    """The provider of an order paid by ``method`` (unknown methods are a stored-data bug)."""
    adapter = _BY_METHOD.get(method)
    if adapter is None:
        raise ProviderConfigurationError(f"no payment provider for method {method!r}")
    return adapter()


def use_provider_for(method: str, replacement: PaymentProvider | None) -> None:
    """Install ``replacement`` as the provider of ``method`` (None: build it again on use)."""
    _BY_METHOD[method].use(replacement)


def sender_of(method: str) -> str:
    """The webhook sender name (``payments/<name>``) whose notifications settle ``method``."""
    if method == PaymentMethod.CARD.value:
        return get_settings().payment_provider.strip().lower()
    return method
