"""What template.yaml promises ops: every alarm reaches the topic and has its runbook entry,
every function, queue and table is watched, deploys roll back on the right alarms, and the
dashboard and alarms use metric names the code really emits."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from infra.local.stack import REPO_ROOT
from infra.local.template import NO_VALUE, Resolver, load_template

pytestmark = pytest.mark.integration

TEMPLATE = load_template(REPO_ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
RUNBOOK = (REPO_ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
PREFIX = "commerce-${Stage}-"


def of_type(rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == rtype}


ALARMS = of_type("AWS::CloudWatch::Alarm")
FUNCTIONS = of_type("AWS::Serverless::Function")
TABLES = of_type("AWS::DynamoDB::Table")
QUEUES = of_type("AWS::SQS::Queue")


def alarm_name(props: dict[str, Any]) -> str:
    name = props["AlarmName"]["Fn::Sub"]
    assert name.startswith(PREFIX), name
    return str(name[len(PREFIX) :])


def dimensions(props: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}


def alarms_on(metric: str, **dims: Any) -> list[str]:
    return [
        logical
        for logical, spec in ALARMS.items()
        if spec["Properties"].get("MetricName") == metric
        and all(dimensions(spec["Properties"]).get(k) == v for k, v in dims.items())
    ]


def test_every_alarm_reaches_the_topic_and_has_its_runbook_entry() -> None:
    assert len(ALARMS) >= 50
    headings = set(re.findall(r"^### (\S+)$", RUNBOOK, flags=re.MULTILINE))
    for logical, spec in ALARMS.items():
        props = spec["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], logical
        assert props["TreatMissingData"] == "notBreaching", logical
        name = alarm_name(props)
        anchor = props["AlarmDescription"].rsplit("docs/runbook.md#", 1)[1]
        assert anchor in headings, f"{logical}: no '### {anchor}' in docs/runbook.md"
        section = RUNBOOK.split(f"\n### {anchor}\n", 1)[1].split("\n### ", 1)[0]
        assert f"`{name}`" in section, f"{logical}: runbook section {anchor} does not name {name}"
    names = [alarm_name(spec["Properties"]) for spec in ALARMS.values()]
    assert len(names) == len(set(names))


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "OperationsKey"}
    statements = RESOURCES["OperationsKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = next(
        s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    )
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch["Action"])
    # Scoped to this stage's alarms, which every alarm's name must then match.
    scope = cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert scope.endswith(":alarm:" + PREFIX + "*")
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_every_function_is_watched_through_its_alias() -> None:
    for logical, spec in FUNCTIONS.items():
        alias = {"Fn::Sub": f"${{{logical}}}:live"}
        dims = {"FunctionName": {"Ref": logical}, "Resource": alias}
        for metric in ("Errors", "Throttles", "Duration"):
            assert len(alarms_on(metric, **dims)) == 1, (logical, metric)
        (duration,) = alarms_on("Duration", **dims)
        timeout = spec["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
        assert ALARMS[duration]["Properties"]["Threshold"] == timeout * 800  # 80% in ms
        # Stream consumers need an iterator-age alarm (docs/runbook.md#stream-iterator-age).
        events = (spec["Properties"].get("Events") or {}).values()
        if any(e["Type"] in ("DynamoDB", "Kinesis") for e in events):
            assert alarms_on("IteratorAge", **dims), f"{logical} reads a stream unwatched"


def test_every_dead_letter_queue_and_work_queue_is_watched() -> None:
    work = {k: v for k, v in QUEUES.items() if "RedrivePolicy" in v["Properties"]}
    assert work
    for logical, spec in work.items():
        dlq = spec["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        on_dlq = {"QueueName": {"Fn::GetAtt": [dlq, "QueueName"]}}
        assert alarms_on("ApproximateNumberOfMessagesVisible", **on_dlq), dlq
        assert alarms_on("ApproximateAgeOfOldestMessage", **on_dlq), dlq
        on_queue = {"QueueName": {"Fn::GetAtt": [logical, "QueueName"]}}
        assert alarms_on("ApproximateAgeOfOldestMessage", **on_queue), logical


def test_every_table_is_watched_for_throttles_and_system_errors() -> None:
    for logical, spec in TABLES.items():
        queries = [
            (alarm, q["Expression"]["Fn::Sub"])
            for alarm, a in ALARMS.items()
            for q in a["Properties"].get("Metrics", [])
            if isinstance(q.get("Expression"), dict)
            and f"TableName = '${{{logical}}}'" in q["Expression"]["Fn::Sub"]
        ]
        metrics = {re.search(r"SUM\((\w+)\)", text).group(1) for _, text in queries}  # type: ignore[union-attr]
        assert metrics == {"ThrottledRequests", "SystemErrors"}, logical
        for alarm, _ in queries:  # a table's alarms exist exactly when the table does
            assert ALARMS[alarm].get("Condition") == spec.get("Condition"), alarm


def test_tables_that_hold_money_stock_coupons_points_or_customers_can_be_restored() -> None:
    for logical in (
        "CatalogTable",
        "InventoryTable",
        "CartsTable",
        "OrdersTable",
        "CustomersTable",
    ):
        props = RESOURCES[logical]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
        assert RESOURCES[logical]["DeletionPolicy"] == "Retain"


def test_deploys_roll_back_on_the_function_and_api_alarms() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["AutoPublishAlias"] == "live"
    assert globals_["DeploymentPreference"]["Type"] == {
        "Fn::If": ["IsDev", "AllAtOnce", "Canary10Percent5Minutes"]
    }
    api_alarms = [{"Ref": "ApiErrorRateAlarm"}, {"Ref": "ApiLatencyAlarm"}]
    for logical, spec in FUNCTIONS.items():
        props = spec["Properties"]
        assert props["AutoPublishAliasAllProperties"] is True, logical
        rollback = props["DeploymentPreference"]["Alarms"]
        (errors,) = alarms_on("Errors", FunctionName={"Ref": logical})
        assert {"Ref": errors} in rollback, logical
        serves_api = any(e["Type"] == "Api" for e in (props.get("Events") or {}).values())
        assert all(a in rollback for a in api_alarms) == serves_api, logical


def emitted_metric_names() -> set[str]:
    names: set[str] = set()
    for path in [
        *REPO_ROOT.glob("layers/commerce/commerce/**/*.py"),
        *REPO_ROOT.glob("functions/*/app.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', text))
        names |= set(re.findall(r'^\w*METRIC: Final = "(\w+)"', text, flags=re.MULTILINE))
    return names


def test_business_metrics_on_the_dashboard_and_alarms_are_ones_the_code_emits() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # Valid JSON once CloudFormation has substituted the ${...} names.
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    assert len(dashboard["widgets"]) >= 10
    on_dashboard = set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    assert on_dashboard == {
        "OrdersPlaced",
        "PaymentsApproved",
        "PaymentsDeclined",
        "HoldsExpired",
        "LowStock",
        "TicketsUnanswered",
    }
    for logical in [
        *FUNCTIONS,
        *(q for q in QUEUES),
        *(t for t in TABLES if "Condition" not in TABLES[t]),
    ]:
        assert f"${{{logical}" in body, f"{logical} is not on the dashboard"
    in_alarms = {
        q["MetricStat"]["Metric"]["MetricName"]
        for spec in ALARMS.values()
        for q in spec["Properties"].get("Metrics", [])
        if "MetricStat" in q and q["MetricStat"]["Metric"]["Namespace"] == "Commerce"
    }
    assert in_alarms == {"PaymentsApproved", "PaymentsDeclined", "TicketsUnanswered"}
    assert (on_dashboard | in_alarms) <= emitted_metric_names()


def test_the_access_log_is_json_keyed_by_request_id_with_nothing_personal() -> None:
    setting = RESOURCES["CommerceApi"]["Properties"]["AccessLogSetting"]
    fmt = setting["Format"]
    line = json.loads(re.sub(r"\$context\.[\w.]+", "x", fmt).replace(":x", ':"x"'))
    assert line["requestId"] == "x"
    assert "$context.requestId" in fmt
    for personal in (
        "identity.sourceIp",
        "identity.userAgent",
        "authorizer",
        "requestOverride",
        'path"',
        "querystring",
        "body",
    ):
        assert personal not in fmt, personal


def test_the_web_acl_limits_rate_and_body_size_and_runs_the_managed_rules() -> None:
    acl = RESOURCES["WebAcl"]
    assert acl["Condition"] == "WafEnabled"
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    assert rules["rate-per-ip"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    size = rules["body-size"]["Statement"]["SizeConstraintStatement"]
    assert size["Size"] == {"Ref": "MaxRequestBodyBytes"}
    assert size["FieldToMatch"]["Body"]["OversizeHandling"] == "MATCH"
    assert rules["body-size"]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in rules.values()
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    # The inspection limit covers the largest body the parameter allows.
    assert TEMPLATE["Parameters"]["MaxRequestBodyBytes"]["MaxValue"] == 64 * 1024
    limit = acl["Properties"]["AssociationConfig"]["RequestBody"]["API_GATEWAY"]
    assert limit["DefaultSizeInspectionLimit"] == "KB_64"
    assert RESOURCES["WebAclAssociation"]["Condition"] == "WafEnabled"


def test_the_catalog_listing_indexes_can_be_added_one_per_deploy() -> None:
    """DynamoDB adds one index per table per update: each step of CatalogListingIndexes adds
    exactly one listing index to the step before, with exactly the attributes keys use."""
    steps = []
    for count in ("1", "2", "3"):
        resolver = Resolver(TEMPLATE, parameter_overrides={"CatalogListingIndexes": count})
        props = resolver.resolve(RESOURCES["CatalogTable"]["Properties"])
        indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
        keyed = {k["AttributeName"] for k in props["KeySchema"]} | {
            k["AttributeName"] for i in indexes.values() for k in i["KeySchema"]
        }
        assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == keyed
        steps.append(set(indexes))
    assert steps[0] == {"gsi1", "listing_newest"}
    for before, after in itertools.pairwise(steps):
        assert before < after
        assert len(after - before) == 1
    assert steps[-1] == steps[0] | {"listing_price", "listing_sold"}
    assert TEMPLATE["Parameters"]["CatalogListingIndexes"]["Default"] == "3"


SALE_TABLES = ("InventoryTable", "CartsTable", "OrdersTable", "IdempotencyTable")
SALE_LEVERS = {
    "TableWarmWriteUnits": "30000",
    "TableWarmReadUnits": "60000",
    "PaymentsReservedConcurrency": "200",
    "PaymentsMaxConcurrency": "150",
    "NotificationsMaxConcurrency": "20",
    "CampaignsMaxConcurrency": "5",
    "ApiThrottlingRateLimit": "9000",
    "ApiThrottlingBurstLimit": "5000",
    "CartLineThrottlingRateLimit": "6000",
    "CheckoutThrottlingRateLimit": "2000",
    "CheckoutThrottlingBurstLimit": "1000",
}


def _sale_day(overrides: dict[str, str]) -> tuple[Resolver, dict[str, Any]]:
    """A resolver with these parameter values and the resolved resources a sale touches."""
    resolver = Resolver(TEMPLATE, parameter_overrides={"Stage": "prod", **overrides})
    resolved = {
        name: resolver.resolve(RESOURCES[name]["Properties"])
        for name in (*SALE_TABLES, "CommerceApi")
    }
    for function in ("PaymentsFunction", "NotificationsFunction", "CampaignsFunction"):
        props = RESOURCES[function]["Properties"]
        resolved[function] = {
            "ReservedConcurrentExecutions": resolver.resolve(
                props.get("ReservedConcurrentExecutions")
            ),
            "ScalingConfig": [
                resolver.resolve(event["Properties"].get("ScalingConfig"))
                for event in props["Events"].values()
                if event["Type"] == "SQS"
            ],
        }
    return resolver, resolved


def test_the_sale_day_levers_default_to_the_everyday_stack() -> None:
    """Every capacity parameter exists with a description saying when to change it, and its
    default changes nothing: no warm throughput, no reserved concurrency, no new cap, and the
    stage's own throttle."""
    for name in SALE_LEVERS:
        spec = TEMPLATE["Parameters"][name]
        assert spec["Type"] == "Number", name
        assert len(spec["Description"]) > 40, name
    _, props = _sale_day({})
    for table in SALE_TABLES:
        assert "WarmThroughput" not in props[table], table
    assert props["PaymentsFunction"]["ReservedConcurrentExecutions"] is NO_VALUE
    assert props["PaymentsFunction"]["ScalingConfig"] == [NO_VALUE]
    assert props["NotificationsFunction"]["ScalingConfig"] == [NO_VALUE]
    assert props["CampaignsFunction"]["ScalingConfig"] == [{"MaximumConcurrency": 2}]
    (stage_wide,) = props["CommerceApi"]["MethodSettings"]
    prod = TEMPLATE["Mappings"]["StageConfig"]["prod"]
    assert stage_wide["ResourcePath"] == "/*"
    assert stage_wide["ThrottlingRateLimit"] == prod["ThrottlingRateLimit"]
    assert stage_wide["ThrottlingBurstLimit"] == prod["ThrottlingBurstLimit"]


def test_the_sale_day_levers_reach_their_resources() -> None:
    _, props = _sale_day(SALE_LEVERS)
    for table in SALE_TABLES:
        assert props[table]["WarmThroughput"] == {
            "ReadUnitsPerSecond": "60000",
            "WriteUnitsPerSecond": "30000",
        }, table
    assert props["PaymentsFunction"]["ReservedConcurrentExecutions"] == "200"
    assert props["PaymentsFunction"]["ScalingConfig"] == [{"MaximumConcurrency": "150"}]
    assert props["NotificationsFunction"]["ScalingConfig"] == [{"MaximumConcurrency": "20"}]
    assert props["CampaignsFunction"]["ScalingConfig"] == [{"MaximumConcurrency": "5"}]
    settings = {
        (s["ResourcePath"], s["HttpMethod"]): s for s in props["CommerceApi"]["MethodSettings"]
    }
    assert set(settings) == {
        ("/*", "*"),
        ("/~1carts~1{cart_id}~1items~1{sku}", "PUT"),
        ("/~1orders", "POST"),
    }
    rates = {
        key: (s["ThrottlingRateLimit"], s["ThrottlingBurstLimit"]) for key, s in settings.items()
    }
    assert rates[("/*", "*")] == ("9000", "5000")
    assert rates[("/~1carts~1{cart_id}~1items~1{sku}", "PUT")] == ("6000", "6000")  # burst = rate
    assert rates[("/~1orders", "POST")] == ("2000", "1000")
    assert all(s["MetricsEnabled"] is True for s in settings.values())
    # The throttled routes are the routes the functions declare.
    events = [
        (e["Properties"]["Path"], e["Properties"]["Method"].upper())
        for spec in FUNCTIONS.values()
        for e in (spec["Properties"].get("Events") or {}).values()
        if e["Type"] == "Api"
    ]
    for path, method in settings:
        if path != "/*":
            assert (path[1:].replace("~1", "/"), method) in events


def test_the_local_stack_honours_the_queue_caps_the_parameters_set() -> None:
    """The SQS pump takes MaximumConcurrency through parameters and conditions as Lambda does:
    no cap where the parameter is 0, the parameter's value where set."""
    from infra.local.functions import load_functions
    from infra.local.resources import CreatedResources
    from infra.local.sqs_pump import load_mappings

    created = CreatedResources(queues={q: f"http://local/000000000000/{q}" for q in QUEUES})
    for overrides, expected in (
        ({}, {"PaymentsFunction": None, "NotificationsFunction": None, "CampaignsFunction": 2}),
        (
            SALE_LEVERS,
            {"PaymentsFunction": 150, "NotificationsFunction": 20, "CampaignsFunction": 5},
        ),
    ):
        resolver = Resolver(TEMPLATE, parameter_overrides=overrides)
        functions = load_functions(TEMPLATE, resolver, REPO_ROOT)
        caps = {m.function: m.max_concurrency for m in load_mappings(functions, created, resolver)}
        assert {f: caps[f] for f in expected} == expected


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_one_parameter_sets_every_architecture(architecture: str) -> None:
    """Functions, the shared layer's build and the managed Powertools layer all follow the
    Architecture parameter: an arm64 function never loads an x86_64 wheel."""
    resolver = Resolver(TEMPLATE, parameter_overrides={"Architecture": architecture})
    function_globals = TEMPLATE["Globals"]["Function"]
    assert resolver.resolve(function_globals["Architectures"]) == [architecture]
    layer = RESOURCES["CommerceLayer"]
    assert resolver.resolve(layer["Properties"]["CompatibleArchitectures"]) == [architecture]
    assert resolver.resolve(layer["Metadata"]["BuildArchitecture"]) == architecture
    managed = resolver.resolve(function_globals["Layers"][0]["Fn::If"][2])
    assert f"/aws/service/powertools/python/{architecture}/python3.11/" in managed
    for name, spec in FUNCTIONS.items():
        assert "Architectures" not in spec["Properties"], f"{name} overrides the parameter"
