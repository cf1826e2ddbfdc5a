"""`make invoke`: every function answers its sample events, and the samples have AWS's shapes.

The emulators start once for the module (DynamoDB Local and moto with every resource of the
template), and one warm worker per function handles all of its samples in file order, as
`make invoke` would one at a time. The sample events are checked against what the SAM CLI's own
generator (`sam local generate-event`, from .venv-sam) produces for their trigger, and a handler
is invoked with the generator's output; `make test` builds .venv-sam first, so these only skip
when pytest runs on a checkout that has never built it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local import cli, sam_local
from infra.local.emulators import REPO_ROOT, Emulators
from infra.local.functions import load_functions
from infra.local.invoke import EVENTS_DIR, Invocation, Invoker, sample_events
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

_TEMPLATE = load_template(REPO_ROOT / "template.yaml")
SPECS = load_functions(_TEMPLATE, Resolver(_TEMPLATE), REPO_ROOT)
SAMPLES = [(spec.logical_id, path) for spec in SPECS for path in sample_events(spec)]
SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    started = Emulators(REPO_ROOT / "template.yaml")
    started.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def invoker(emulators: Emulators, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Invoker]:
    running = Invoker(emulators, tmp_path_factory.mktemp("invoke-logs"))
    try:
        yield running
    finally:
        running.close()


def kind_of(event: dict[str, Any]) -> str:
    """Which trigger an event comes from: "api", "sqs", "stream" or "schedule"."""
    if "httpMethod" in event and "requestContext" in event:
        return "api"
    records = event.get("Records") or [{}]
    if records[0].get("eventSource") == "aws:sqs":
        return "sqs"
    if records[0].get("eventSource") == "aws:dynamodb":
        return "stream"
    if event.get("detail-type") == "Scheduled Event":
        return "schedule"
    raise AssertionError(f"an event of no known trigger: {sorted(event)}")


def assert_answered(invocation: Invocation, kind: str) -> None:
    """The handler returned (no unhandled error) with the answer its trigger expects."""
    assert invocation.ok, (invocation.response, invocation.init_logs, invocation.logs)
    response = invocation.response
    if kind == "api":
        assert isinstance(response["statusCode"], int)
        assert response["statusCode"] < 500, response
    elif kind in ("sqs", "stream"):
        assert isinstance(response["batchItemFailures"], list), response
    assert invocation.duration_ms > 0
    assert "Duration:" in invocation.report_line()


# --- every function, every sample --------------------------------------------------------------


def test_every_function_has_a_sample_and_every_sample_a_function() -> None:
    assert [spec.logical_id for spec in SPECS if not sample_events(spec)] == []
    claimed = {path for _, path in SAMPLES}
    assert sorted(p.name for p in EVENTS_DIR.glob("*.json") if p not in claimed) == []


@pytest.mark.parametrize(("function", "sample"), SAMPLES, ids=[path.stem for _, path in SAMPLES])
def test_the_function_answers_its_sample_event(
    invoker: Invoker, function: str, sample: Path
) -> None:
    event = json.loads(sample.read_text(encoding="utf-8"))
    assert_answered(invoker.invoke(function, event), kind_of(event))


def test_a_handler_that_raises_is_reported_not_fatal(invoker: Invoker) -> None:
    failed = invoker.invoke("CatalogFunction", {"not": "an API Gateway event"})
    assert not failed.ok
    assert set(failed.response) == {"errorType", "errorMessage"}
    assert invoker.invoke("CatalogFunction", _sample("catalog_list_products.json")).ok


# --- the command line --------------------------------------------------------------------------


def test_make_invoke_prints_the_response_the_logs_and_the_durations() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.local.invoke", "CatalogFunction", "-"],
        input=(EVENTS_DIR / "catalog_create_product.json").read_text(encoding="utf-8"),
        cwd=REPO_ROOT,
        env={**os.environ, "LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout)["statusCode"] == 201
    assert '"message":"product created"' in done.stderr  # the handler's own log line
    assert re.search(
        r"^REPORT RequestId: [0-9a-f-]{36}\tInit Duration: [\d.]+ ms\tDuration: [\d.]+ ms\t"
        r"Billed Duration: \d+ ms\tMemory Size: 512 MB",
        done.stderr,
        re.MULTILINE,
    ), done.stderr[-2000:]
    assert "DynamoDB Local on Java" in done.stderr


def test_make_invoke_names_the_functions_when_one_is_unknown() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.local.invoke", "NoSuchFunction", "events/cart_get.json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "CatalogFunction" in done.stderr
    assert "WebhooksFunction" in done.stderr


# --- the shapes of `sam local generate-event` --------------------------------------------------

#: Maps whose keys are data, not shape: only that they are objects (or null) is compared.
FREE_MAPS = frozenset(
    {
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "messageAttributes",
        "detail",
        "authorizer",
        "Keys",
        "NewImage",
        "OldImage",
    }
)


def shape_gaps(ours: Any, theirs: Any, where: str = "$") -> list[str]:
    """Where ``ours`` lacks something ``theirs`` has, or holds another kind of value there.

    Extra keys in ours are fine (a superset), and null matches anything: API Gateway sends null
    for an absent body or map where the generator shows an example.
    """
    if ours is None or theirs is None:
        return []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{where}: an object in the generator's event"]
        gaps: list[str] = []
        for key, value in theirs.items():
            if key not in ours:
                gaps.append(f"{where}.{key}: missing")
            elif key in FREE_MAPS:
                if ours[key] is not None and not isinstance(ours[key], dict):
                    gaps.append(f"{where}.{key}: an object in the generator's event")
            else:
                gaps += shape_gaps(ours[key], value, f"{where}.{key}")
        return gaps
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{where}: a list in the generator's event"]
        if not theirs:
            return []
        return [
            gap
            for i, item in enumerate(ours)
            for gap in shape_gaps(item, theirs[0], f"{where}[{i}]")
        ]
    if type(ours) is not type(theirs) and not (
        isinstance(ours, int | float) and isinstance(theirs, int | float)
    ):
        return [f"{where}: {type(theirs).__name__} in the generator's event"]
    return []


def generate(*args: str) -> dict[str, Any]:
    """`sam local generate-event ARGS` from .venv-sam (no Docker, no AWS account)."""
    if not SAM.exists():
        pytest.skip("the SAM CLI is not built: `make test` (or `make validate`) builds .venv-sam")
    done = subprocess.run(
        [str(SAM), "local", "generate-event", *args],
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    event: dict[str, Any] = json.loads(done.stdout)
    return event


GENERATOR_ARGS = {
    "api": (
        "apigateway",
        "aws-proxy",
        "--method",
        "GET",
        "--path",
        "products",
        "--resource",
        "/products",
    ),
    "sqs": ("sqs", "receive-message"),
    "stream": ("dynamodb", "update"),
    "schedule": ("cloudwatch", "scheduled-event"),
}


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, Any]]:
    return {kind: generate(*args) for kind, args in GENERATOR_ARGS.items()}


def _sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event


@pytest.mark.parametrize("sample", [path for _, path in SAMPLES], ids=lambda path: path.stem)
def test_the_sample_has_the_generators_shape(
    generated: dict[str, dict[str, Any]], sample: Path
) -> None:
    ours = json.loads(sample.read_text(encoding="utf-8"))
    assert shape_gaps(ours, generated[kind_of(ours)]) == []


def test_the_shape_check_finds_a_missing_nested_key(generated: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(_sample("catalog_get_product.json"))
    del broken["requestContext"]["identity"]["sourceIp"]
    broken["multiValueHeaders"] = ["not", "a", "map"]
    assert shape_gaps(broken, generated["api"]) == [
        "$.multiValueHeaders: an object in the generator's event",
        "$.requestContext.identity.sourceIp: missing",
    ]


@pytest.mark.parametrize(
    ("function", "kind"),
    [
        ("CatalogFunction", "api"),
        ("PaymentsFunction", "sqs"),
        ("SweeperFunction", "schedule"),
        ("AnalyticsFunction", "stream"),
    ],
)
def test_a_handler_answers_the_generators_event(
    invoker: Invoker, generated: dict[str, dict[str, Any]], function: str, kind: str
) -> None:
    event = copy.deepcopy(generated[kind])
    if kind == "sqs":  # the generator cannot put JSON in --body; the message is the order id
        event["Records"][0]["body"] = json.dumps({"order_id": "7c1e9a2b4d6f48a0b2c4d6e8f0a1b3c5"})
    invocation = invoker.invoke(function, event)
    assert_answered(invocation, kind)
    if kind == "api":
        assert invocation.response["statusCode"] == 200
        assert "items" in json.loads(invocation.response["body"])


# --- `sam local start-api`, where Docker runs --------------------------------------------------


def test_the_sam_env_file_points_every_declared_variable_at_the_emulators(
    emulators: Emulators,
) -> None:
    document = sam_local.env_vars(emulators)
    assert set(document) == {spec.logical_id for spec in emulators.functions}
    for spec in emulators.functions:
        variables = document[spec.logical_id]
        # SAM applies only variables the template declares: nothing else may be in the file.
        assert set(variables) == set(spec.environment) | set(sam_local.ENDPOINT_VARIABLES)
        assert variables["AWS_ENDPOINT_URL_DYNAMODB"] == (
            f"http://host.docker.internal:{emulators.dynamodb.port}"
        )
        assert variables["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{emulators.moto.port}"
        assert not [value for value in variables.values() if "127.0.0.1" in value]
    catalog = document["CatalogFunction"]
    assert catalog["CATALOG_TABLE"] == emulators.created.tables["CatalogTable"]
    assert catalog["PAYMENTS_QUEUE_URL"] == emulators.created.queues["PaymentsQueue"].replace(
        "127.0.0.1", "host.docker.internal"
    )
    assert json.loads(document["WebhooksFunction"]["WEBHOOK_SECRETS_JSON"])  # the dev secret


def test_the_local_template_declares_the_endpoints_and_needs_no_aws_account(
    emulators: Emulators, tmp_path: Path
) -> None:
    files = sam_local.write(emulators, tmp_path)
    text = files.template.read_text(encoding="utf-8")
    template = json.loads(text)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {name: variables[name] for name in sam_local.ENDPOINT_VARIABLES} == {
        "AWS_ENDPOINT_URL": "",
        "AWS_ENDPOINT_URL_DYNAMODB": "",
    }
    assert (
        "AWS_ENDPOINT_URL"
        not in emulators.template["Globals"]["Function"]["Environment"]["Variables"]
    )  # the deployed template is left alone
    assert "{{resolve:" not in text  # the managed layer would need an AWS account to download
    code = [
        Path(props["CodeUri"])
        for props in (r.get("Properties") or {} for r in template["Resources"].values())
        if "CodeUri" in props
    ]
    assert code
    assert all(path.is_absolute() and (path / "app.py").is_file() for path in code)
    pins = (files.layer_dir / "requirements.txt").read_text(encoding="utf-8").split()
    assert [pin.split("==")[0].split("[")[0] for pin in pins] == list(
        sam_local.MANAGED_LAYER_PACKAGES
    )
    if not SAM.exists():
        pytest.skip("the SAM CLI is not built: `make test` (or `make validate`) builds .venv-sam")
    done = subprocess.run(
        [str(SAM), "validate", "--lint", "--template", str(files.template)],
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_make_run_writes_the_sam_files_only_where_a_docker_engine_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = cli.parse_args(["--sam-env-dir", ".aws-sam/local"])
    monkeypatch.setattr(cli, "docker_engine", lambda: None)
    assert not cli.writes_sam_env(asked)
    assert cli.options_from(asked).moto_host == "127.0.0.1"
    monkeypatch.setattr(cli, "docker_engine", lambda: "27.3.1")
    assert cli.writes_sam_env(asked)
    assert cli.options_from(asked).moto_host == "0.0.0.0"  # noqa: S104 - containers reach it
    assert not cli.writes_sam_env(cli.parse_args([]))
