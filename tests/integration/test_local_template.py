"""The local stack reads template.yaml: short tags, intrinsics, and every resource created.

Resources are created in a real DynamoDB Local and the embedded moto server, from the fixture
template and from a temporary one that adds a table, which must appear with no code change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.functions import load_functions
from infra.local.moto_server import MotoServer
from infra.local.resources import (
    AWS_ONLY_TYPES,
    BUILT_TYPES,
    CreatedResources,
    create_all,
    create_buckets,
    create_external_resources,
    create_subscriptions,
    create_topics,
    unhandled_types,
)
from infra.local.routes import find_route, load_routes
from infra.local.stack import REPO_ROOT
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "local_stack" / "template.yaml"


@pytest.fixture(scope="module")
def emulators(empty_dynamodb_local: DynamoDBLocal) -> Iterator[tuple[DynamoDBLocal, MotoServer]]:
    moto = MotoServer()
    moto.start()
    yield empty_dynamodb_local, moto
    moto.stop()


@pytest.fixture(scope="module")
def built(emulators: tuple[DynamoDBLocal, MotoServer]) -> dict[str, Any]:
    dynamodb, moto = emulators
    template = load_template(FIXTURE)
    resolver = Resolver(template)
    created = create_all(resolver, dynamodb.client(), moto.client)
    return {"template": template, "resolver": resolver, "created": created}


# -- parsing and intrinsics ------------------------------------------------------------------
def test_short_tags_become_long_form() -> None:
    template = load_template(FIXTURE)
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ECHO_TABLE"] == {"Ref": "EchoTable"}
    assert env["ECHO_TABLE_ARN"] == {"Fn::GetAtt": ["EchoTable", "Arn"]}
    assert env["JOINED"]["Fn::Join"][1][2] == {"Fn::If": ["IsProd", "p", "np"]}


def test_intrinsics_resolve_with_local_pseudo_parameters() -> None:
    resolver = Resolver(load_template(FIXTURE))
    assert resolver.resolve({"Fn::Sub": "${AWS::StackName}-${AWS::Region}-${AWS::AccountId}"}) == (
        "commerce-local-us-east-1-123456789012"
    )
    assert resolver.resolve({"Fn::Sub": ["${A}-${Stage}-${!Literal}", {"A": "x"}]}) == (
        "x-dev-${Literal}"
    )
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolver.resolve({"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]}) is not None
    assert resolver.resolve({"K": {"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]}}) == {}
    assert resolver.resolve({"Fn::GetAtt": ["EchoTable", "Arn"]}) == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/commerce-local-EchoTable"
    )
    assert resolver.ref("AlertTopic") == "commerce-local-alerts"  # TopicName via !Sub


def test_parameter_overrides_flip_conditions() -> None:
    resolver = Resolver(load_template(FIXTURE), parameter_overrides={"Stage": "prod"})
    assert resolver.condition("IsProd") is True
    assert resolver.resource_enabled("ProdOnlyTable") is True
    assert Resolver(load_template(FIXTURE)).resource_enabled("ProdOnlyTable") is False


# -- resources -------------------------------------------------------------------------------
def test_tables_have_keys_indexes_billing_and_ttl(
    emulators: tuple[DynamoDBLocal, MotoServer], built: dict[str, Any]
) -> None:
    client = emulators[0].client()
    table = client.describe_table(TableName="commerce-local-EchoTable")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    gsi = {g["IndexName"]: g for g in table["GlobalSecondaryIndexes"]}
    assert [k["AttributeName"] for k in gsi["gsi1"]["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    ttl = client.describe_time_to_live(TableName="commerce-local-EchoTable")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"
    # A resource whose Condition is false is not created, as CloudFormation would skip it.
    assert "commerce-local-ProdOnlyTable" not in client.list_tables()["TableNames"]


def test_queue_redrive_policy_names_the_dlq(
    emulators: tuple[DynamoDBLocal, MotoServer], built: dict[str, Any]
) -> None:
    sqs = emulators[1].client("sqs")
    url = built["created"].queues["WorkQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == (
        "arn:aws:sqs:us-east-1:123456789012:commerce-local-WorkDLQ"
    )
    assert int(policy["maxReceiveCount"]) == 2
    assert attributes["VisibilityTimeout"] == "1"
    assert "WorkDLQ" in built["created"].queues


def test_topic_pool_client_and_groups_exist(
    emulators: tuple[DynamoDBLocal, MotoServer], built: dict[str, Any]
) -> None:
    moto = emulators[1]
    arns = [t["TopicArn"] for t in moto.client("sns").list_topics()["Topics"]]
    assert "arn:aws:sns:us-east-1:123456789012:commerce-local-alerts" in arns
    pool = built["created"].pools["UserPool"]
    cognito = moto.client("cognito-idp")
    described = cognito.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]
    assert described["Name"] == "commerce-local-users"
    groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool.pool_id)["Groups"]}
    assert groups == {"customer", "support", "ops", "admin"}
    assert len(pool.client_ids) == 1


def test_function_environment_resolves_to_created_resources(built: dict[str, Any]) -> None:
    created = built["created"]
    (echo,) = load_functions(built["template"], built["resolver"], FIXTURE.parent)
    assert echo.environment["ECHO_TABLE"] == "commerce-local-EchoTable"
    assert echo.environment["WORK_QUEUE_URL"] == created.queues["WorkQueue"]
    assert echo.environment["USER_POOL_ID"] == created.pools["UserPool"].pool_id
    assert echo.environment["GREETING"] == "hello from commerce-local in us-east-1 (dev)"
    assert echo.environment["JOINED"] == "a-dev-np"
    assert echo.environment["POWERTOOLS_SERVICE_NAME"] == "echo"  # function env merged on Globals
    assert echo.timeout == 5
    assert echo.memory == 256
    assert echo.code_dir == (FIXTURE.parent / "echo").resolve()


def test_routes_carry_the_authorizer_and_match_like_api_gateway(built: dict[str, Any]) -> None:
    functions = load_functions(built["template"], built["resolver"], FIXTURE.parent)
    routes = load_routes(built["template"], functions, built["resolver"])
    private, params = find_route(routes, "/private/7", "GET")
    assert private.authorizer_pool == "UserPool"
    assert params == {"item_id": "7"}
    public, _ = find_route(routes, "/public/7", "GET")
    assert public.authorizer_pool is None
    assert public.stage == "dev"
    proxy, params = find_route(routes, "/files/a/b.txt", "DELETE")
    assert (proxy.path, params) == ("/files/{proxy+}", {"proxy": "a/b.txt"})


def test_a_table_added_to_the_template_appears_with_its_gsi(
    emulators: tuple[DynamoDBLocal, MotoServer], tmp_path: Path
) -> None:
    dynamodb, moto = emulators
    added = FIXTURE.read_text(encoding="utf-8") + (
        "\n  LoyaltyTable:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        '      TableName: !Sub "${AWS::StackName}-loyalty-${Stage}"\n'
        "      BillingMode: PAY_PER_REQUEST\n"
        "      AttributeDefinitions:\n"
        "        - {AttributeName: id, AttributeType: S}\n"
        "        - {AttributeName: tier, AttributeType: S}\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
        "      GlobalSecondaryIndexes:\n"
        "        - IndexName: by_tier\n"
        "          KeySchema: [{AttributeName: tier, KeyType: HASH}]\n"
        "          Projection: {ProjectionType: KEYS_ONLY}\n"
    )
    path = tmp_path / "template.yaml"
    path.write_text(added, encoding="utf-8")
    client = dynamodb.client()
    assert "commerce-local-loyalty-dev" not in client.list_tables()["TableNames"]

    created = create_all(Resolver(load_template(path)), client, moto.client)

    assert created.tables["LoyaltyTable"] == "commerce-local-loyalty-dev"
    table = client.describe_table(TableName="commerce-local-loyalty-dev")["Table"]
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by_tier"
    assert gsi["Projection"]["ProjectionType"] == "KEYS_ONLY"


# -- resources the template names but CloudFormation cannot create ----------------------------
def test_push_platform_applications_are_made_and_passed_to_the_functions(
    emulators: tuple[DynamoDBLocal, MotoServer],
) -> None:
    moto = emulators[1]
    template = load_template(REPO_ROOT / "template.yaml")
    resolver = Resolver(template)
    created = CreatedResources()
    create_external_resources(resolver, moto.client("sns"), created)

    apps = moto.client("sns").list_platform_applications()["PlatformApplications"]
    platforms = {a["PlatformApplicationArn"].split(":app/")[1].split("/")[0] for a in apps}
    assert {"GCM", "APNS"} <= platforms
    fcm = created.platform_applications["FcmPlatformApplicationArn"]
    apns = created.platform_applications["ApnsPlatformApplicationArn"]
    assert ":app/GCM/" in fcm
    assert ":app/APNS/" in apns
    specs = {s.logical_id: s for s in load_functions(template, resolver, REPO_ROOT)}
    customers = specs["CustomersFunction"].environment
    assert customers["FCM_PLATFORM_APPLICATION_ARN"] == fcm
    assert customers["APNS_PLATFORM_APPLICATION_ARN"] == apns


def test_a_platform_application_passed_in_is_not_replaced(
    emulators: tuple[DynamoDBLocal, MotoServer],
) -> None:
    given = "arn:aws:sns:us-east-1:123456789012:app/GCM/ops-made"
    template = load_template(REPO_ROOT / "template.yaml")
    resolver = Resolver(template, parameter_overrides={"FcmPlatformApplicationArn": given})
    created = CreatedResources()
    create_external_resources(resolver, emulators[1].client("sns"), created)
    assert "FcmPlatformApplicationArn" not in created.platform_applications
    specs = {s.logical_id: s for s in load_functions(template, resolver, REPO_ROOT)}
    assert specs["CustomersFunction"].environment["FCM_PLATFORM_APPLICATION_ARN"] == given


def test_the_powertools_layer_is_the_pinned_version() -> None:
    """The managed layer is found by version (public SSM parameter): it must be the version the
    layer code is tested with."""
    text = (REPO_ROOT / "template.yaml").read_text(encoding="utf-8")
    found = re.findall(
        r"/aws/service/powertools/python/\$\{Architecture\}/python3\.11/([0-9.]+)\}\}", text
    )
    assert found == [version("aws-lambda-powertools")]


# -- resource types: built locally, or AWS-only by name --------------------------------------
def test_every_resource_type_of_the_template_is_built_or_listed_aws_only() -> None:
    template = load_template(REPO_ROOT / "template.yaml")
    types = {spec["Type"] for spec in template["Resources"].values()}
    assert unhandled_types(template) == set()
    # The AWS-only list names only types the template has (no stale entries), and never a
    # type the stack builds.
    assert types >= AWS_ONLY_TYPES
    assert not (AWS_ONLY_TYPES & BUILT_TYPES)


def test_a_type_in_neither_list_is_reported(tmp_path: Path) -> None:
    added = FIXTURE.read_text(encoding="utf-8") + (
        "\n  Workflow:\n    Type: AWS::StepFunctions::StateMachine\n"
        "\n  Errors:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {}\n"
    )
    path = tmp_path / "template.yaml"
    path.write_text(added, encoding="utf-8")
    assert unhandled_types(load_template(path)) == {"AWS::StepFunctions::StateMachine"}


def test_the_images_bucket_is_made_locally_with_its_cors_rules(
    emulators: tuple[DynamoDBLocal, MotoServer],
) -> None:
    s3 = emulators[1].client("s3")
    resolver = Resolver(load_template(REPO_ROOT / "template.yaml"))
    created = CreatedResources()
    create_buckets(resolver, s3, created)
    name = created.buckets["ImagesBucket"]
    assert name == name.lower()
    assert resolver.resolve({"Ref": "ImagesBucket"}) == name
    assert resolver.resolve({"Fn::GetAtt": ["ImagesBucket", "Arn"]}) == f"arn:aws:s3:::{name}"
    [rule] = s3.get_bucket_cors(Bucket=name)["CORSRules"]
    assert set(rule["AllowedMethods"]) == {"GET", "PUT"}
    create_buckets(resolver, s3, CreatedResources())  # a restart finds it made


def test_the_alarm_topic_gets_its_email_subscription_locally(
    emulators: tuple[DynamoDBLocal, MotoServer],
) -> None:
    sns = emulators[1].client("sns")
    resolver = Resolver(
        load_template(REPO_ROOT / "template.yaml"),
        parameter_overrides={"AlarmEmail": "oncall@shop.example"},
    )
    created = CreatedResources()
    create_topics(resolver, sns, created)
    create_subscriptions(resolver, sns, created)

    topic = created.topics["AlarmTopic"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("email", "oncall@shop.example")
    ]
    # Without an address (the default) there is no subscription resource at all.
    assert (
        Resolver(load_template(REPO_ROOT / "template.yaml")).resource_enabled(
            "AlarmEmailSubscription"
        )
        is False
    )


def test_a_function_knows_the_resources_its_policies_name() -> None:
    """What the stack reads to tell which functions may pay through the sandbox provider (and
    so must hear of its injected timeouts): their least-privilege policies, not a list."""
    template = load_template(REPO_ROOT / "template.yaml")
    functions = load_functions(template, Resolver(template), REPO_ROOT)
    payers = {f.logical_id for f in functions if "SandboxPaymentsTable" in f.policy_resources}
    assert payers == {"PaymentsFunction", "OrdersFunction", "WebhooksFunction", "SweeperFunction"}
    catalog = next(f for f in functions if f.logical_id == "CatalogFunction")
    assert "CatalogTable" in catalog.policy_resources
