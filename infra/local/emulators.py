"""The emulated AWS a function runs against: DynamoDB Local, moto, and the template's resources.

The whole local stack and `make invoke` (one handler, one event) need the same thing before any
handler runs: both emulators up; every table, queue, topic, user pool and sender the template
declares created in them; the template's functions read with Globals merged and intrinsics
resolved against what was created; and each function's worker configured with the endpoints.
This is that, once, so the two cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.environment import endpoint_environment, function_environment, worker_config
from infra.local.functions import FunctionSpec, load_functions
from infra.local.lambda_worker import WorkerConfig
from infra.local.moto_server import MotoServer
from infra.local.resources import CreatedResources, create_all, unhandled_types, verify_senders
from infra.local.template import Resolver, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("infra.local")


class Emulators:
    """DynamoDB Local and moto holding every resource of one template."""

    def __init__(
        self,
        template: Path,
        parameter_overrides: Mapping[str, str] | None = None,
        quiet: bool = True,
        moto_host: str = "127.0.0.1",
    ) -> None:
        self.template_path = template.resolve()
        self.parameter_overrides = dict(parameter_overrides or {})
        self.dynamodb = DynamoDBLocal(REPO_ROOT, quiet=quiet)
        self.moto = MotoServer(moto_host)
        self.template: dict[str, Any] = {}
        self.resolver = Resolver({})
        self.created = CreatedResources()
        self.functions: list[FunctionSpec] = []

    def start(self) -> None:
        """Start both emulators and create the template's resources in them."""
        self.template = load_template(self.template_path)
        for rtype in sorted(unhandled_types(self.template)):
            log.warning(
                "resource type %s is neither built locally nor listed in AWS_ONLY_TYPES "
                "(infra/local/resources.py); its resources are left out",
                rtype,
            )
        self.dynamodb.start()
        self.moto.start()
        self.resolver = Resolver(self.template, parameter_overrides=self.parameter_overrides)
        self.created = create_all(self.resolver, self.dynamodb.client(), self.moto.client)
        self.functions = load_functions(self.template, self.resolver, self.template_path.parent)
        verify_senders((spec.environment for spec in self.functions), self.moto.client("ses"))

    def endpoints(self) -> dict[str, str]:
        """The variables that send a function's AWS calls to these emulators."""
        return endpoint_environment(self.dynamodb.endpoint, self.moto.endpoint)

    def function(self, logical_id: str) -> FunctionSpec:
        """One function of the template by logical id (KeyError names the ones there are)."""
        for spec in self.functions:
            if spec.logical_id == logical_id:
                return spec
        known = ", ".join(spec.logical_id for spec in self.functions)
        raise KeyError(f"no function {logical_id!r} in the template; there are: {known}")

    def worker_configs(
        self, extra_environment: Mapping[str, str] | None = None
    ) -> dict[str, WorkerConfig]:
        """Each function's worker configuration: its environment plus the endpoints (and
        ``extra_environment``: where the stack's payment providers are, say)."""
        endpoints = {**self.endpoints(), **(extra_environment or {})}
        return {
            spec.logical_id: worker_config(spec, function_environment(spec, endpoints))
            for spec in self.functions
        }

    def stop(self) -> None:
        """Stop moto, then DynamoDB Local; the second runs even if the first fails."""
        try:
            self.moto.stop()
        finally:
            self.dynamodb.stop()
