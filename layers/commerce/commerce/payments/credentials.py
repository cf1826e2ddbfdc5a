"""Each payment provider's keys: from Secrets Manager on AWS, never from the environment there.

One secret per stage (``PAYMENT_CREDENTIALS_SECRET``, named in template.yaml) holds JSON by
provider; a provider that is not used may be left out::

    {
      "stripe": {"api_key": "sk_live_...", "webhook_secret": "whsec_..."},
      "alipay": {"app_id": "...", "app_private_key": "<PEM>", "alipay_public_key": "<PEM>"},
      "wechat_pay": {"mchid": "...", "appid": "...", "private_key": "<PEM>",
                     "cert_serial_no": "...", "apiv3_key": "<32 chars>",
                     "platform_certificates": ["<PEM>", ...]}
    }

It is fetched through Powertools parameters and cached for 5 minutes, so a rotated key is
picked up without a deploy. Outside prod, ``PAYMENT_CREDENTIALS_JSON`` may hold the same JSON
instead: the local stack puts keys there that it generated at start (never committed, never
real). Keys are never logged: errors name the provider and the field, not the value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from commerce.settings import get_settings

#: How long fetched keys are trusted before Secrets Manager is asked again (seconds).
MAX_AGE_SECONDS: Final = 300


class CredentialsError(RuntimeError):
    """A provider's keys are missing or malformed: a deployment mistake, never a customer's."""


def _parse(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise CredentialsError("payment credentials are not JSON") from error
    if not isinstance(raw, dict):
        raise CredentialsError("payment credentials must be a JSON object by provider")
    return raw


def _all() -> dict[str, Any]:
    settings = get_settings()
    if settings.payment_credentials_json and settings.stage != "prod":
        return _parse(settings.payment_credentials_json)
    if not settings.payment_credentials_secret:
        raise CredentialsError("PAYMENT_CREDENTIALS_SECRET is not set")
    from aws_lambda_powertools.utilities import parameters  # deferred: AWS path only

    try:
        raw = parameters.get_secret(
            settings.payment_credentials_secret, max_age=MAX_AGE_SECONDS, transform="json"
        )
    except parameters.exceptions.GetParameterError as error:
        raise CredentialsError("the payment credentials secret is not readable") from error
    except parameters.exceptions.TransformParameterError as error:
        raise CredentialsError("the payment credentials secret is not JSON") from error
    return _parse(raw)


def credentials(provider: str, required: tuple[str, ...]) -> Mapping[str, Any]:
    """The keys of ``provider``; ``CredentialsError`` naming the first missing field."""
    section = _all().get(provider)
    if not isinstance(section, dict):
        raise CredentialsError(f"no credentials for {provider}")
    for name in required:
        if not section.get(name):
            raise CredentialsError(f"{provider} credentials lack {name}")
    return section


def clear_cache() -> None:
    """Forget fetched keys (tests; Lambda refreshes them every 5 minutes)."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
