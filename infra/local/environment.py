"""The environment a function sees locally: its template environment plus the endpoints.

Handler code has no local branch, so everything that differs locally is here: per-service
endpoint variables (botocore and PynamoDB honour them), dummy credentials, the Lambda runtime's
reserved variables, and Powertools settings that need no X-Ray daemon.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.local.functions import FunctionSpec
from infra.local.lambda_worker import WorkerConfig
from infra.local.moto_server import MOTO_SERVICE_ENV_IDS
from infra.local.template import REGION

# Settings of the stack a developer may override from the shell; they win over the template.
# PAYMENTS_CRASH_AFTER_CHARGE_RATE is the reliability tests' fault injection (0..1).
PASSTHROUGH = (
    "RESERVATION_TTL_SECONDS",
    "SWEEP_INTERVAL_SECONDS",
    "LOG_LEVEL",
    "PAYMENTS_CRASH_AFTER_CHARGE_RATE",
    "WEBHOOK_SECRETS_JSON",
    # Who charges cards locally: sandbox (default) or stripe (localstripe, started by the stack).
    "PAYMENT_PROVIDER",
    "PAYMENT_TIMEOUT_SECONDS",
)

#: The local webhook signing secret (docs/orders.md, "Webhooks locally"): a dev value only,
#: standing in for the SSM SecureString the deployed function reads.
DEV_WEBHOOK_SECRET = "local-dev-webhook-secret"
#: The carriers the shop ships with (their codes as ops enter them on a shipment) and the
#: sandbox payment provider; the sandbox carrier (/_local/carrier-events) signs as any of them.
DEV_WEBHOOK_SENDERS = (
    *(
        f"carriers/{code}"
        for code in ("sf", "sf-express", "jd", "ems", "zto", "yto", "sto", "yunda", "ups", "dhl")
    ),
    "payments/sandbox",
)

# Values for variables the template declares empty because on AWS they come from elsewhere.
LOCAL_DEFAULTS = {
    "WEBHOOK_SECRETS_JSON": json.dumps(
        {sender: [DEV_WEBHOOK_SECRET] for sender in DEV_WEBHOOK_SENDERS}
    ),
}

# Never let a developer's real AWS identity or profile reach a handler.
_SCRUBBED_PREFIXES = ("AWS_", "POWERTOOLS_")
#: What stands in for an AWS identity where handler code is only imported, never calling out.
_OFFLINE_AWS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
}


def scrubbed_environment(parent_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment (this process's by default) without its AWS and Powertools
    settings."""
    parent = os.environ if parent_env is None else parent_env
    return {k: v for k, v in parent.items() if not k.startswith(_SCRUBBED_PREFIXES)}


def offline_environment(path: Iterable[Path]) -> dict[str, str]:
    """The environment of a fresh interpreter that imports code from ``path`` and reaches no
    AWS: a region and dummy credentials instead of the developer's own (the cold-start bench,
    the import checks)."""
    env = scrubbed_environment()
    env.update(_OFFLINE_AWS)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    return env


def run_offline(
    code: str,
    *args: str,
    path: Iterable[Path],
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    wrapper: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``args`` in a fresh interpreter (``python -c``) that imports from
    ``path`` in the offline environment, plus ``env``; under ``wrapper`` (valgrind, say) if
    given. A child that fails raises RuntimeError with its last line of error output."""
    child_env = offline_environment(path)
    child_env.update(env or {})
    done = subprocess.run(
        [*wrapper, sys.executable, "-c", code, *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"the child exited with {done.returncode}")
    return done


def last_json(done: subprocess.CompletedProcess[str]) -> Any:
    """What a child printed as JSON on its last line of output: how the children report."""
    return json.loads(done.stdout.strip().splitlines()[-1])


def endpoint_environment(dynamodb_endpoint: str, moto_endpoint: str) -> dict[str, str]:
    """Endpoint and credential variables that send every AWS call to the local emulators."""
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
    }
    for service_id in MOTO_SERVICE_ENV_IDS:
        env[f"AWS_ENDPOINT_URL_{service_id}"] = moto_endpoint
    return env


def payment_environment(
    credentials: Mapping[str, object],
    *,
    api_base: str,
    alipay_gateway: str,
    wechatpay_base: str,
    stripe_base: str,
) -> dict[str, str]:
    """Where the functions find the providers locally, and the keys generated for them.

    Endpoint settings like the AWS ones: the adapters have no local branch. The keys stand in
    for the Secrets Manager secret (``PAYMENT_CREDENTIALS_JSON`` is never honoured in prod).
    """
    return {
        "PAYMENT_CREDENTIALS_JSON": json.dumps(credentials),
        "PAYMENT_NOTIFY_BASE_URL": api_base,
        "ALIPAY_GATEWAY_URL": alipay_gateway,
        "WECHATPAY_API_BASE": wechatpay_base,
        "STRIPE_API_BASE": stripe_base,
    }


def function_environment(
    spec: FunctionSpec,
    endpoints: Mapping[str, str],
    parent_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The full process environment of one function's workers."""
    parent = dict(os.environ if parent_env is None else parent_env)
    env = scrubbed_environment(parent)
    env.update(spec.environment)
    for name, value in LOCAL_DEFAULTS.items():
        if name in spec.environment and not spec.environment[name]:
            env[name] = value
    env.update(endpoints)
    env.update(runtime_variables(spec))
    env.update(
        {
            # No X-Ray daemon locally: Tracer becomes a no-op instead of failing to send.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in PASSTHROUGH:
        if name in parent:
            env[name] = parent[name]
    return env


def runtime_variables(spec: FunctionSpec) -> dict[str, str]:
    """What the Lambda runtime itself sets in a function's environment. Libraries read them to
    know they run in Lambda (the X-Ray SDK, for one, then takes its sampling from the service
    instead of building a client of its own), so a local worker or a cold-start measurement
    without them would do work Lambda never does."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
    }


def worker_config(spec: FunctionSpec, env: dict[str, str]) -> WorkerConfig:
    """Code directory first, then layers, like /var/task before /opt/python."""
    sys_path = [str(spec.code_dir), *(str(d) for d in spec.layer_dirs)]
    return WorkerConfig(
        function_name=spec.name,
        handler=spec.handler,
        code_dir=str(spec.code_dir),
        sys_path=sys_path,
        environment=env,
        memory_mb=spec.memory,
        timeout_s=spec.timeout,
        arn=spec.arn,
    )
