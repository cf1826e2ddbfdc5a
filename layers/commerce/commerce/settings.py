"""Configuration, read once per cold start from the environment that template.yaml sets.

Handlers and services take what they need from one typed object instead of reading
``os.environ`` where they stand, so a missing variable fails loudly at start-up and tests can
build a Settings by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

#: The largest request body the API takes: the template's MaxRequestBodyBytes (the WAF inspects
#: at most 64 KiB of a body, so the edge and every handler enforce the same limit).
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class SettingsError(RuntimeError):
    """A required variable is missing or malformed: a deployment mistake, never a client's."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _rate(env: Mapping[str, str], name: str) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number from 0 to 1, got {raw!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name} must be a number from 0 to 1, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a function may need; unused names cost nothing."""

    stage: str
    region: str
    catalog_table: str
    inventory_table: str
    carts_table: str
    orders_table: str
    customers_table: str
    idempotency_table: str
    payments_queue_url: str
    notifications_queue_url: str
    reservation_ttl_seconds: int
    max_body_bytes: int
    default_page_size: int
    max_page_size: int
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    #: Member tiers as ``name:threshold_fen:rate_bp,...`` (commerce/domain/tiers.py); "" = defaults.
    member_tiers: str = ""
    #: Points earning and redemption rates (commerce/domain/points.py ``parse_policy``);
    #: "" = the defaults (1 point per yuan paid, 1 point = 1 fen, at most half the payable).
    points_policy: str = ""
    #: Who charges cards: "sandbox" (the default outside prod) or "stripe" (the default in
    #: prod). Alipay and WeChat Pay always go to their own adapters (commerce.payments.factory).
    payment_provider: str = "sandbox"
    #: The sandbox provider's ledger table; "" in prod, where the sandbox never runs.
    sandbox_payments_table: str = ""
    #: Test-only fault injection: the share of approved charges after which the payments
    #: consumer raises before writing PAID. Ignored in prod (payments_crash_rate).
    payments_crash_after_charge_rate: float = 0.0
    #: Test-only fault injection: the share of the sandbox provider's charges and refunds that
    #: time out (the local stack's ``--provider-timeouts``). The sandbox never runs in prod.
    sandbox_provider_timeout_rate: float = 0.0
    #: SSM SecureString holding {sender: [secrets]} for webhook signatures (on AWS).
    webhook_secrets_parameter: str = ""
    #: The same JSON straight from the environment (the local stack; never honoured in prod).
    webhook_secrets_json: str = ""
    #: The verified SES identity notifications are sent from.
    sender_email: str = ""
    #: Where operational alerts (low stock) go; "" sends none.
    ops_alert_email: str = ""
    #: The shop's name in messages; "" keeps the templates' default names.
    store_name: str = ""
    #: SNS platform applications of the push services ("": that service is not set up, and
    #: devices of its platforms cannot be registered).
    fcm_platform_application_arn: str = ""
    apns_platform_application_arn: str = ""
    #: Where the notifications consumer puts events no retry can help.
    notifications_dlq_url: str = ""
    #: A signed-in cart with lines untouched this long gets one reminder (marketing consent).
    abandoned_cart_after_seconds: int = 86400
    #: The private bucket product images are uploaded to and read from (presigned URLs).
    images_bucket: str = ""
    #: An order still PENDING_PAYMENT this long after it was placed is cancelled (API.md).
    payment_timeout_seconds: int = 1800
    #: The Secrets Manager secret holding every provider's keys, JSON by provider
    #: (commerce/payments/credentials.py); read at run time, never put in the environment.
    payment_credentials_secret: str = ""
    #: The same JSON straight from the environment: the local stack's generated test keys
    #: only, never honoured in prod.
    payment_credentials_json: str = ""
    #: Where each provider's API is reached ("": the provider's own). The local stack and the
    #: tests point these at localstripe and the local provider edge; no code branches on them.
    stripe_api_base: str = ""
    alipay_gateway_url: str = ""
    wechatpay_api_base: str = ""
    #: The API's public base URL, to which Alipay and WeChat Pay send their notifications
    #: (``{base}/webhooks/payments/{provider}``).
    payment_notify_base_url: str = ""
    #: The Analytics table: aggregates of the order stream, customer values, segments, campaigns.
    analytics_table: str = ""
    #: Where campaign work waits (expansion pages and per-member sends), apart from the
    #: notifications queue so a large campaign never delays an order's messages.
    campaigns_queue_url: str = ""
    #: Where campaign work no retry can help goes at once (its queue's dead-letter queue).
    campaigns_dlq_url: str = ""
    #: Where the stream consumer puts records no retry can help (its on-failure destination).
    analytics_dlq_url: str = ""
    #: RFM score thresholds, ``r=...;f=...;m=...`` (commerce/domain/rfm.py); "" = defaults.
    rfm_thresholds: str = ""
    #: The S3 bucket the daily order facts are exported to as Parquet.
    export_bucket: str = ""

    @property
    def payments_crash_rate(self) -> float:
        """The crash rate the consumer honours: always 0 in prod, whatever the variable says."""
        return 0.0 if self.stage == "prod" else self.payments_crash_after_charge_rate

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        stage = env.get("STAGE", "dev")
        return cls(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            catalog_table=env.get("CATALOG_TABLE", f"commerce-{stage}-catalog"),
            inventory_table=env.get("INVENTORY_TABLE", f"commerce-{stage}-inventory"),
            carts_table=env.get("CARTS_TABLE", f"commerce-{stage}-carts"),
            orders_table=env.get("ORDERS_TABLE", f"commerce-{stage}-orders"),
            customers_table=env.get("CUSTOMERS_TABLE", f"commerce-{stage}-customers"),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", f"commerce-{stage}-idempotency"),
            payments_queue_url=env.get("PAYMENTS_QUEUE_URL", ""),
            notifications_queue_url=env.get("NOTIFICATIONS_QUEUE_URL", ""),
            reservation_ttl_seconds=_int(env, "RESERVATION_TTL_SECONDS", 900),
            # API Gateway refuses payloads over 10 MiB before a function runs.
            max_body_bytes=_int(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            default_page_size=_int(env, "DEFAULT_PAGE_SIZE", 20),
            max_page_size=100,
            member_tiers=env.get("MEMBER_TIERS", ""),
            points_policy=env.get("POINTS_POLICY", ""),
            user_pool_id=env.get("USER_POOL_ID", ""),
            user_pool_client_id=env.get("USER_POOL_CLIENT_ID", ""),
            payment_provider=env.get("PAYMENT_PROVIDER")
            or ("stripe" if stage == "prod" else "sandbox"),
            sandbox_payments_table=env.get("SANDBOX_PAYMENTS_TABLE", ""),
            payments_crash_after_charge_rate=_rate(env, "PAYMENTS_CRASH_AFTER_CHARGE_RATE"),
            sandbox_provider_timeout_rate=_rate(env, "SANDBOX_PROVIDER_TIMEOUT_RATE"),
            webhook_secrets_parameter=env.get(
                "WEBHOOK_SECRETS_PARAMETER", f"/commerce/{stage}/webhook-secrets"
            ),
            webhook_secrets_json=env.get("WEBHOOK_SECRETS_JSON", ""),
            sender_email=env.get("SENDER_EMAIL", ""),
            ops_alert_email=env.get("OPS_ALERT_EMAIL", ""),
            store_name=env.get("STORE_NAME", ""),
            fcm_platform_application_arn=env.get("FCM_PLATFORM_APPLICATION_ARN", ""),
            apns_platform_application_arn=env.get("APNS_PLATFORM_APPLICATION_ARN", ""),
            notifications_dlq_url=env.get("NOTIFICATIONS_DLQ_URL", ""),
            abandoned_cart_after_seconds=_int(env, "ABANDONED_CART_AFTER_SECONDS", 86400),
            images_bucket=env.get("IMAGES_BUCKET", ""),
            payment_timeout_seconds=_int(env, "PAYMENT_TIMEOUT_SECONDS", 1800),
            payment_credentials_secret=env.get("PAYMENT_CREDENTIALS_SECRET", ""),
            payment_credentials_json=env.get("PAYMENT_CREDENTIALS_JSON", ""),
            stripe_api_base=env.get("STRIPE_API_BASE", ""),
            alipay_gateway_url=env.get("ALIPAY_GATEWAY_URL", ""),
            wechatpay_api_base=env.get("WECHATPAY_API_BASE", ""),
            payment_notify_base_url=env.get("PAYMENT_NOTIFY_BASE_URL", "").rstrip("/"),
            analytics_table=env.get("ANALYTICS_TABLE", f"commerce-{stage}-analytics"),
            campaigns_queue_url=env.get("CAMPAIGNS_QUEUE_URL", ""),
            campaigns_dlq_url=env.get("CAMPAIGNS_DLQ_URL", ""),
            analytics_dlq_url=env.get("ANALYTICS_DLQ_URL", ""),
            rfm_thresholds=env.get("RFM_THRESHOLDS", ""),
            export_bucket=env.get("EXPORT_BUCKET", ""),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (at cold start in a handler's module)."""
    return Settings.from_env()
