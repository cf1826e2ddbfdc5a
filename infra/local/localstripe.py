"""localstripe, the stateful Stripe-shaped server, run by the stack and the tests.

Started with ``--from-scratch`` on a free port, in its own working directory, dying with the
stack like DynamoDB Local. ``register_webhook`` tells it where to send its signed events
(``payment_intent.succeeded``, ...), with the endpoint's signing secret, as a Stripe dashboard
would. localstripe answers PaymentIntents, PaymentMethods and refunds of ``stripe`` 16.1 as
Stripe does, but ignores ``Idempotency-Key``: the adapter does not rely on it
(commerce/payments/stripe_provider.py).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import requests

from infra.local.processes import free_port, spawn, stop_process, wait_for_port


class LocalStripe:
    """One localstripe process for the life of the stack (or a test session)."""

    def __init__(self, quiet: bool = True) -> None:
        self.quiet = quiet
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="localstripe-")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.port = free_port()
        self.proc = spawn(
            [sys.executable, "-m", "localstripe", "--port", str(self.port), "--from-scratch"],
            quiet=self.quiet,
            cwd=self._workdir.name,
        )
        wait_for_port(self.port, timeout, self.proc)
        deadline = time.monotonic() + timeout
        while True:  # the port opens a moment before the application answers
            try:
                requests.get(f"{self.endpoint}/js.stripe.com/v3/", timeout=2).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def register_webhook(self, url: str, secret: str) -> None:
        """Send every event to ``url``, signed with ``secret`` (Stripe's scheme)."""
        response = requests.post(
            f"{self.endpoint}/_config/webhooks/commerce",
            data={"url": url, "secret": secret},
            timeout=10,
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self._workdir.cleanup()
