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
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 10 * 1024 * 1024),
            default_page_size=_int(env, "DEFAULT_PAGE_SIZE", 20),
            max_page_size=100,
            user_pool_id=env.get("USER_POOL_ID", ""),
            user_pool_client_id=env.get("USER_POOL_CLIENT_ID", ""),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (at cold start in a handler's module)."""
    return Settings.from_env()
