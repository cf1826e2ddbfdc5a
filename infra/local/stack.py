"""The local stack as one object: start everything in order, stop everything in reverse.

Order matters: emulators first, then the resources the template declares (which give queues
their urls and the pool its id), the DynamoDB proxy when a fault needs it (its endpoint goes
into the functions' environment), then functions whose environment refers to those, then the
gateway, the pollers (queues and streams) and the schedules, the demo data through the gateway
itself, and the faults asked for on the command line last (``infra/local/faults.py``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer

from infra.local.auth import CognitoIssuer, CognitoVerifier
from infra.local.carrier import carrier_secrets
from infra.local.demo import load_demo_data
from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.dynamodb_proxy import DynamoDBProxy, TableKeys
from infra.local.emulators import REPO_ROOT, Emulators
from infra.local.environment import DEV_WEBHOOK_SECRET, payment_environment
from infra.local.faults import (
    PARTITION_THROTTLED,
    PROVIDER_TIMEOUT_VAR,
    DynamoDBFaults,
    FaultPlan,
    Faults,
)
from infra.local.functions import FunctionSpec
from infra.local.gateway import DEFAULT_MAX_BODY, Gateway, serve
from infra.local.lambda_worker import LOG_DIR_KEY, WorkerConfig
from infra.local.localstripe import LocalStripe
from infra.local.metering import CONFIG_KEY as metering_key
from infra.local.moto_server import MotoServer
from infra.local.openapi import OpenApiDocument, mark_secured, merge_job
from infra.local.outbox import Outbox
from infra.local.partition_ceilings import PartitionCeilings
from infra.local.payment_sandbox import PaymentSandbox
from infra.local.processes import descendants, free_port
from infra.local.provider_edge import ALIPAY_PATH, WECHAT_PREFIX, ProviderEdge
from infra.local.resources import CreatedResources
from infra.local.routes import Route, load_routes
from infra.local.schedules import Ticker, load_schedules, record_schedules
from infra.local.sqs_pump import SqsPump, load_mappings
from infra.local.stream_pump import StreamPump, load_stream_mappings
from infra.local.workers import FunctionPool, InvokeError, Spawner, run_once

log = logging.getLogger("infra.local")


@dataclass
class StackOptions:
    """How to run the stack (see cli.py for the command-line form)."""

    template: Path = REPO_ROOT / "template.yaml"
    port: int = 3000
    demo_data: bool = True
    max_concurrency: int = 4
    sweep_interval: float = 60.0
    max_body: int = DEFAULT_MAX_BODY
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    warm: bool = True
    verbose: bool = False
    metering_dir: Path | None = None  # opt-in cost metering (infra/local/metering.py)
    log_dir: Path | None = None  # each function worker's output in a file of its own here
    moto_host: str = "127.0.0.1"  # "0.0.0.0" lets Docker containers reach moto (sam_local.py)
    #: Faults armed once the stack is ready (infra/local/faults.py); none by default.
    faults: FaultPlan = field(default_factory=FaultPlan)


class LocalStack:
    """Everything the stack started, and the knowledge of how to stop it."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.emulators = Emulators(
            options.template,
            options.parameter_overrides,
            quiet=not options.verbose,
            moto_host=options.moto_host,
        )
        self.spawner = Spawner()
        self.pools: dict[str, FunctionPool] = {}
        self.routes: list[Route] = []
        self.pumps: list[SqsPump] = []
        self.stream_pumps: list[StreamPump] = []
        self.ticker: Ticker | None = None
        self.server: BaseWSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self.port = 0
        self.demo_products = 0
        self.outbox = Outbox()
        # The payment providers' edge (Alipay, WeChat Pay) and, for PAYMENT_PROVIDER=stripe,
        # localstripe: the outside world of payments, played locally with generated keys.
        self.edge = ProviderEdge()
        self.edge_server: BaseWSGIServer | None = None
        self.localstripe: LocalStripe | None = None
        self.card_provider = os.environ.get("PAYMENT_PROVIDER", "sandbox").strip().lower()
        # Faults on demand, and the DynamoDB proxy that injects DynamoDB's (only when asked).
        self.faults = Faults()
        self.dynamodb_proxy: DynamoDBProxy | None = None
        self.ceilings: PartitionCeilings | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dynamodb(self) -> DynamoDBLocal:
        return self.emulators.dynamodb

    @property
    def moto(self) -> MotoServer:
        return self.emulators.moto

    @property
    def created(self) -> CreatedResources:
        return self.emulators.created

    @property
    def functions(self) -> list[FunctionSpec]:
        return self.emulators.functions

    # -- start ------------------------------------------------------------------------------
    def start(self) -> None:
        self.emulators.start()
        template, resolver = self.emulators.template, self.emulators.resolver
        # The payment edge and localstripe are told the gateway's address, so it is chosen first.
        self.port = self.options.port or free_port()
        extra = self._start_payments()
        if self.options.faults.needs_proxy:
            extra.update(self._start_dynamodb_proxy())
        configs = self.emulators.worker_configs(extra_environment=extra)
        if self.options.metering_dir is not None:
            metering = {metering_key: str(self.options.metering_dir.resolve())}
            configs = {k: replace(c, extra={**c.extra, **metering}) for k, c in configs.items()}
        if self.options.log_dir is not None:
            self.options.log_dir.mkdir(parents=True, exist_ok=True)
            logs = {LOG_DIR_KEY: str(self.options.log_dir.resolve())}
            configs = {k: replace(c, extra={**c.extra, **logs}) for k, c in configs.items()}
        self.pools = {
            logical: FunctionPool(config, self.spawner, self.options.max_concurrency)
            for logical, config in configs.items()
        }
        self.routes = load_routes(template, self.functions, resolver)
        gateway = self._gateway(configs)
        self.server = serve(gateway, self.port, verbose=self.options.verbose)
        self._server_thread = threading.Thread(
            target=self.server.serve_forever, name="gateway", daemon=True
        )
        self._server_thread.start()
        if self.localstripe is not None:
            self.localstripe.register_webhook(
                f"{self.base_url}/webhooks/payments/stripe", self.edge.keys.stripe_webhook_secret
            )
        if self.options.warm:
            self._warm()
        self._start_pollers()
        schedules = load_schedules(template, resolver, self.functions)
        record_schedules(schedules, self.moto.client("events"))
        self.ticker = Ticker(schedules, self.pools, self.options.sweep_interval)
        self.ticker.start()
        if gateway.openapi is not None:
            gateway.openapi.prefetch()
        if self.options.demo_data:
            has_route = any(
                r.path == "/admin/products" and r.method in ("POST", "ANY") for r in self.routes
            )
            self.demo_products = load_demo_data(self.base_url, has_route)
        self.faults.listen(self._faults_changed)
        self.faults.apply(self.options.faults)

    # -- faults -----------------------------------------------------------------------------
    def _start_dynamodb_proxy(self) -> dict[str, str]:
        """Start the DynamoDB proxy with the fault and ceiling hooks; the endpoint variable
        that sends the functions through it."""
        keys = TableKeys(self.dynamodb.client())
        self.ceilings = PartitionCeilings(
            keys.partition_key, on_throttle=lambda n: self.faults.record(PARTITION_THROTTLED, n)
        )
        self.dynamodb_proxy = DynamoDBProxy(
            self.dynamodb.endpoint, [DynamoDBFaults(self.faults), self.ceilings]
        )
        self.dynamodb_proxy.start()
        log.info("DynamoDB proxy for faults on %s", self.dynamodb_proxy.endpoint)
        return {"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_proxy.endpoint}

    def _faults_changed(self, before: FaultPlan, after: FaultPlan) -> None:
        """Bring the stack in line with a new plan: the proxy started (and the functions sent
        through it) the first time a DynamoDB fault is asked for, the ceilings' scale, and the
        sandbox provider's timeouts in the environment of the functions that pay."""
        if after.needs_proxy and self.dynamodb_proxy is None:
            endpoint = self._start_dynamodb_proxy()
            for pool in self.pools.values():
                pool.reconfigure(endpoint)
        if self.ceilings is not None:
            self.ceilings.scale = after.partition_scale
        if after.provider_timeouts != before.provider_timeouts:
            rate = {PROVIDER_TIMEOUT_VAR: str(after.provider_timeouts)}
            for logical in self._sandbox_payers():
                self.pools[logical].reconfigure(rate)

    def _sandbox_payers(self) -> list[str]:
        """The functions whose policies grant them the sandbox provider's ledger: the ones that
        can charge or refund through it (every function is told where it is)."""
        named = {spec.environment.get("SANDBOX_PAYMENTS_TABLE") for spec in self.functions}
        ledgers = {logical for logical, name in self.created.tables.items() if name in named}
        return [
            spec.logical_id
            for spec in self.functions
            if spec.policy_resources & ledgers and spec.logical_id in self.pools
        ]

    def _start_payments(self) -> dict[str, str]:
        """Serve the provider edge, start localstripe when cards go to Stripe, and say where
        the functions find them."""
        self.edge_server = serve(self.edge, free_port())  # type: ignore[arg-type]
        threading.Thread(
            target=self.edge_server.serve_forever, name="provider-edge", daemon=True
        ).start()
        edge_url = f"http://127.0.0.1:{self.edge_server.server_port}"
        if self.card_provider == "stripe":
            self.localstripe = LocalStripe(quiet=not self.options.verbose)
            self.localstripe.start()
        return payment_environment(
            self.edge.keys.credentials(),
            api_base=self.base_url,
            alipay_gateway=edge_url + ALIPAY_PATH,
            wechatpay_base=edge_url + WECHAT_PREFIX,
            stripe_base=self.localstripe.endpoint if self.localstripe else "",
        )

    def _payment_sandbox(self) -> PaymentSandbox | None:
        orders = self.created.tables.get("OrdersTable")
        if orders is None:
            return None
        return PaymentSandbox(
            edge=self.edge,
            dynamodb=self.dynamodb.client(),
            orders_table=orders,
            api_base=self.base_url,
            card_provider=self.card_provider,
            webhook_secret=DEV_WEBHOOK_SECRET,
            stripe_base=self.localstripe.endpoint if self.localstripe else "",
        )

    def _gateway(self, configs: dict[str, WorkerConfig]) -> Gateway:
        verifiers: dict[str, CognitoVerifier] = {}
        for logical, pool in self.created.pools.items():
            jwks_url = f"{self.moto.endpoint}/{pool.pool_id}/.well-known/jwks.json"
            verifiers[logical] = CognitoVerifier.from_jwks_url(pool, jwks_url)
        guarded = [
            r.authorizer_pool for r in self.routes if r.authorizer_pool in self.created.pools
        ]
        issuer_pool = guarded[0] if guarded else next(iter(self.created.pools), None)
        issuer = None
        if issuer_pool is not None and self.created.pools[issuer_pool].client_ids:
            issuer = CognitoIssuer(self.moto.client("cognito-idp"), self.created.pools[issuer_pool])
        self.outbox.start_polling()
        return Gateway(
            routes=self.routes,
            pools=self.pools,
            verifiers=verifiers,
            issuer=issuer,
            outbox=self.outbox,
            openapi=OpenApiDocument(lambda: self._build_openapi(configs)),
            max_body=self.options.max_body,
            carrier_secrets=self._carrier_secrets(configs),
            payments=self._payment_sandbox(),
            faults=self.faults,
        )

    def _carrier_secrets(self, configs: dict[str, WorkerConfig]) -> dict[str, str]:
        """The carriers' signing secrets, as the function serving their webhook has them."""
        for route in self.routes:
            if route.path.startswith("/webhooks/carriers/") and route.function in configs:
                env = configs[route.function].environment
                return carrier_secrets(env.get("WEBHOOK_SECRETS_JSON", ""))
        return {}

    def _build_openapi(self, configs: dict[str, WorkerConfig]) -> dict[str, Any]:
        """Merge every API function's resolver in one short-lived worker."""
        job, event = merge_job(
            self.functions, self.routes, configs, repo_root=REPO_ROOT, servers=[self.base_url]
        )
        return mark_secured(run_once(job, event, self.spawner), self.routes)

    def _warm(self) -> None:
        """One worker per function now: import errors show at start, first calls are warm."""
        for logical, pool in self.pools.items():
            try:
                pool.warm()
            except InvokeError as exc:
                log.warning("function %s is not usable: %s", logical, exc)

    def _start_pollers(self) -> None:
        sqs = self.moto.client("sqs")
        for mapping in load_mappings(self.functions, self.created, self.emulators.resolver):
            if mapping.function in self.pools:
                pump = SqsPump(mapping, self.pools[mapping.function], sqs, self.faults)
                pump.start()
                self.pumps.append(pump)
        streams = self.dynamodb.streams_client()
        for stream in load_stream_mappings(self.functions, self.created, self.emulators.resolver):
            if stream.function in self.pools:
                poller = StreamPump(stream, self.pools[stream.function], streams, sqs)
                poller.start()
                self.stream_pumps.append(poller)

    # -- introspection ----------------------------------------------------------------------
    def ready_info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "docs_url": f"{self.base_url}/docs",
            "dynamodb_endpoint": self.dynamodb.endpoint,
            "moto_endpoint": self.moto.endpoint,
            "pid": os.getpid(),
            "children": sorted(descendants(os.getpid())),
            "tables": self.created.tables,
            "queues": self.created.queues,
            "topics": self.created.topics,
            "buckets": self.created.buckets,
            "platform_applications": self.created.platform_applications,
            "user_pools": {
                logical: {"pool_id": p.pool_id, "client_ids": p.client_ids, "groups": p.groups}
                for logical, p in self.created.pools.items()
            },
            "functions": {spec.logical_id: spec.name for spec in self.functions},
            "demo_products": self.demo_products,
            "card_provider": self.card_provider,
            "provider_edge": (
                f"http://127.0.0.1:{self.edge_server.server_port}" if self.edge_server else None
            ),
            "localstripe": self.localstripe.endpoint if self.localstripe else None,
            "metering_dir": str(self.options.metering_dir) if self.options.metering_dir else None,
            "dynamodb_proxy": self.dynamodb_proxy.endpoint if self.dynamodb_proxy else None,
            "faults": self.faults.plan.to_dict(),
            "log_dir": str(self.options.log_dir) if self.options.log_dir else None,
        }

    def write_ready_file(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.ready_info(), indent=2), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Reverse order; every step runs even if an earlier one fails."""
        steps = [
            self._stop_server,
            self.outbox.stop,
            self._stop_pumps,
            self._close_pools,
            self.spawner.shutdown,
            self._stop_edge,
            self.dynamodb_proxy.stop if self.dynamodb_proxy else None,
            self.localstripe.stop if self.localstripe else None,
            self.emulators.stop,
        ]
        for step in steps:
            if step is not None:
                _stop_step(step)

    def _stop_pumps(self) -> None:
        """Queue pumps, stream pollers and the schedule ticker stop side by side: each waits
        out a long poll or an interval, and one after the other those waits add up."""
        stops = [pump.stop for pump in self.pumps]
        stops += [poller.stop for poller in self.stream_pumps]
        if self.ticker:
            stops.append(self.ticker.stop)
        _side_by_side(stops)

    def _close_pools(self) -> None:
        """Every function's workers wind down at once (each exit takes a few hundred ms)."""
        _side_by_side([pool.close for pool in self.pools.values()])

    def _stop_edge(self) -> None:
        if self.edge_server is not None:
            self.edge_server.shutdown()
            self.edge_server.server_close()

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _stop_step(step: Callable[[], None]) -> None:
    """One step of stopping: a failure is logged, and the steps after it still run."""
    try:
        step()
    except Exception:
        log.exception("error while stopping")


def _side_by_side(steps: list[Callable[[], None]]) -> None:
    """Run the stop steps in threads of their own and wait for all."""
    threads = [threading.Thread(target=_stop_step, args=(step,), daemon=True) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
