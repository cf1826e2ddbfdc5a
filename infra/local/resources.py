"""Create the template's stateful resources in the emulators, from template.yaml itself.

Tables (with their streams) go to DynamoDB Local; queues, topics, buckets and the Cognito pool
to moto. Nothing here names a
particular table or queue: a resource added to the template appears locally with no code change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.local.functions import FUNCTION_TYPES, LAYER_TYPES
from infra.local.template import ACCOUNT_ID, REGION, Resolver, resources_of_type

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
QUEUE_TYPE = "AWS::SQS::Queue"
TOPIC_TYPE = "AWS::SNS::Topic"
SUBSCRIPTION_TYPE = "AWS::SNS::Subscription"
POOL_TYPE = "AWS::Cognito::UserPool"
CLIENT_TYPE = "AWS::Cognito::UserPoolClient"
GROUP_TYPE = "AWS::Cognito::UserPoolGroup"
BUCKET_TYPE = "AWS::S3::Bucket"

# Every resource type the local stack makes something of: created here, loaded as a function
# or its layer (functions.py), served as routes (routes.py) or fired as a schedule
# (schedules.py).
BUILT_TYPES: frozenset[str] = frozenset(
    {
        *TABLE_TYPES,
        QUEUE_TYPE,
        TOPIC_TYPE,
        SUBSCRIPTION_TYPE,
        POOL_TYPE,
        CLIENT_TYPE,
        GROUP_TYPE,
        BUCKET_TYPE,
        *FUNCTION_TYPES,
        *LAYER_TYPES,
        "AWS::Serverless::Api",
        "AWS::Events::Rule",
        "AWS::Scheduler::Schedule",
    }
)

# The one list of resource types the local stack leaves out on purpose: they only watch,
# protect or deploy the system on AWS, and nothing in it reads them back. A type in the
# template that is in neither list is reported at start (unhandled_types) and fails
# tests/integration/test_local_template.py, so a new kind of resource is a decision, not an
# accident.
AWS_ONLY_TYPES: frozenset[str] = frozenset(
    {
        "AWS::CloudWatch::Alarm",  # alarms and the dashboard watch AWS metrics
        "AWS::CloudWatch::Dashboard",
        "AWS::KMS::Key",  # encryption at rest; the emulators hold nothing outside the machine
        "AWS::KMS::Alias",
        "AWS::Logs::LogGroup",  # function logs go to the stack's own output
        "AWS::IAM::Role",  # the emulators do not enforce IAM
        "AWS::ApiGateway::Account",  # the account's logging role for API Gateway
        "AWS::WAFv2::WebACL",  # the edge firewall; the local gateway enforces the body limit
        "AWS::WAFv2::WebACLAssociation",
        # The payment providers' keys; the stack generates its own (PAYMENT_CREDENTIALS_JSON).
        "AWS::SecretsManager::Secret",
        "AWS::S3::BucketPolicy",  # TLS-only access; the emulator is reached on the loopback
        "AWS::Glue::Database",  # Athena's catalog of the export; tests read the Parquet itself
        "AWS::Glue::Table",
    }
)


def unhandled_types(template: Mapping[str, Any]) -> set[str]:
    """Resource types in the template that are neither built locally nor listed as AWS-only."""
    types = {
        str(spec.get("Type"))
        for spec in (template.get("Resources") or {}).values()
        if isinstance(spec, dict)
    }
    return types - BUILT_TYPES - AWS_ONLY_TYPES


DEFAULT_READ_ATTRIBUTES = ("email", "email_verified", "name", "phone_number")

# Queue properties that map one to one onto SQS attributes (stringified).
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


@dataclass
class UserPoolInfo:
    """A created user pool: what the token issuer and the authorizer need."""

    logical_id: str
    pool_id: str
    email_usernames: bool = False
    client_ids: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"


@dataclass
class CreatedResources:
    """Physical identities of everything created, by logical id."""

    tables: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue url
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic arn
    subscriptions: dict[str, str] = field(default_factory=dict)  # logical id -> subscription arn
    # parameter name -> platform application arn (Metadata.ExternalResources)
    platform_applications: dict[str, str] = field(default_factory=dict)
    pools: dict[str, UserPoolInfo] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name
    streams: dict[str, str] = field(default_factory=dict)  # table logical id -> stream arn


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def table_request(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """CreateTable arguments from AWS::DynamoDB::Table properties (already resolved)."""
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
    }
    billing = props.get("BillingMode", "PROVISIONED")
    throughput = props.get("ProvisionedThroughput") or {
        "ReadCapacityUnits": 5,
        "WriteCapacityUnits": 5,
    }
    if billing == "PAY_PER_REQUEST":
        request["BillingMode"] = "PAY_PER_REQUEST"
    else:
        request["ProvisionedThroughput"] = _int_throughput(throughput)
    gsis = []
    for gsi in props.get("GlobalSecondaryIndexes") or []:
        index = {key: gsi[key] for key in ("IndexName", "KeySchema", "Projection")}
        if billing != "PAY_PER_REQUEST":
            index["ProvisionedThroughput"] = _int_throughput(
                gsi.get("ProvisionedThroughput") or throughput
            )
        gsis.append(index)
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    lsis = [
        {key: lsi[key] for key in ("IndexName", "KeySchema", "Projection")}
        for lsi in props.get("LocalSecondaryIndexes") or []
    ]
    if lsis:
        request["LocalSecondaryIndexes"] = lsis
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    return request


def _int_throughput(throughput: dict[str, Any]) -> dict[str, int]:
    return {
        "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits", 5)),
    }


def _simple_table_props(props: dict[str, Any]) -> dict[str, Any]:
    """AWS::Serverless::SimpleTable expanded the way SAM expands it."""
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    attr_type = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    return {
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": attr_type}],
        "BillingMode": "PROVISIONED" if props.get("ProvisionedThroughput") else "PAY_PER_REQUEST",
        "ProvisionedThroughput": props.get("ProvisionedThroughput"),
    }


def create_tables(resolver: Resolver, dynamodb: Any, created: CreatedResources) -> None:
    """Every table of the template, with its keys, indexes, billing mode and TTL spec."""
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for logical_id, spec in resources_of_type(resolver.template, *TABLE_TYPES).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        if spec["Type"] == "AWS::Serverless::SimpleTable":
            props = {**_simple_table_props(props), **props}
        name = resolver.physical_name(logical_id)
        if name not in existing:
            dynamodb.create_table(**table_request(name, props))
        ttl = props.get("TimeToLiveSpecification")
        if name not in existing and ttl and ttl.get("Enabled") and ttl.get("AttributeName"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        created.tables[logical_id] = name
        resolver.physical.refs[logical_id] = name
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        resolver.physical.attrs[(logical_id, "Arn")] = arn
        stream = dynamodb.describe_table(TableName=name)["Table"].get("LatestStreamArn")
        if stream:
            created.streams[logical_id] = stream
            resolver.physical.attrs[(logical_id, "StreamArn")] = stream


def _queue_order(queues: dict[str, dict[str, Any]]) -> list[str]:
    """Dead-letter queues first, so a RedrivePolicy always names an existing queue."""
    with_redrive = [
        q for q, spec in queues.items() if "RedrivePolicy" in (spec.get("Properties") or {})
    ]
    return [q for q in queues if q not in with_redrive] + with_redrive


def create_queues(resolver: Resolver, sqs: Any, created: CreatedResources) -> None:
    """Every queue, with its attributes and its redrive policy resolved to the DLQ's arn."""
    queues = resources_of_type(resolver.template, QUEUE_TYPE)
    for logical_id in _queue_order(queues):
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(queues[logical_id].get("Properties") or {})
        name = resolver.physical_name(logical_id)
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {key: _stringify(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            policy = dict(props["RedrivePolicy"])
            policy["maxReceiveCount"] = int(policy.get("maxReceiveCount", 5))
            attributes["RedrivePolicy"] = json.dumps(policy)
        if "RedriveAllowPolicy" in props:
            attributes["RedriveAllowPolicy"] = _stringify(props["RedriveAllowPolicy"])
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        created.queues[logical_id] = url
        resolver.physical.refs[logical_id] = url
        resolver.physical.attrs[(logical_id, "QueueUrl")] = url
        resolver.physical.attrs[(logical_id, "QueueName")] = name
        resolver.physical.attrs[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"


def create_topics(resolver: Resolver, sns: Any, created: CreatedResources) -> None:
    """Every SNS topic (and its inline subscriptions' endpoints are left to the consumers)."""
    for logical_id, spec in resources_of_type(resolver.template, TOPIC_TYPE).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        name = resolver.physical_name(logical_id)
        attributes = {}
        if props.get("FifoTopic"):
            attributes["FifoTopic"] = "true"
            if not name.endswith(".fifo"):
                name += ".fifo"
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        created.topics[logical_id] = arn
        resolver.physical.refs[logical_id] = arn
        resolver.physical.attrs[(logical_id, "TopicArn")] = arn
        resolver.physical.attrs[(logical_id, "TopicName")] = name


def create_subscriptions(resolver: Resolver, sns: Any, created: CreatedResources) -> None:
    """Every SNS subscription (the alarm topic's email, ...); the emulator delivers nothing, but
    the topic lists its subscribers as it would on AWS."""
    for logical_id, spec in resources_of_type(resolver.template, SUBSCRIPTION_TYPE).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        arn = sns.subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        created.subscriptions[logical_id] = arn
        resolver.physical.refs[logical_id] = arn


PLATFORM_APPLICATION_TYPE = "AWS::SNS::PlatformApplication"


def create_external_resources(resolver: Resolver, sns: Any, created: CreatedResources) -> None:
    """What the template's ``Metadata.ExternalResources`` says ops create by hand on AWS (SNS
    platform applications for push): made in moto, and the parameter of each filled with its
    ARN unless the caller passed a value of their own."""
    external = (resolver.template.get("Metadata") or {}).get("ExternalResources") or {}
    for parameter, spec in external.items():
        if spec.get("Type") != PLATFORM_APPLICATION_TYPE or resolver.parameters.get(parameter):
            continue
        platform = str(spec["Platform"])
        arn = sns.create_platform_application(
            Name=f"{resolver.pseudo('AWS::StackName')}-{platform.lower()}",
            Platform=platform,
            # The emulator delivers nothing, so the credential is a placeholder.
            Attributes={"PlatformCredential": "local-emulator"},
        )["PlatformApplicationArn"]
        created.platform_applications[parameter] = arn
        resolver.parameters[parameter] = arn


def create_user_pools(resolver: Resolver, cognito: Any, created: CreatedResources) -> None:
    """User pools, their app clients and groups; ids are moto's, recorded for !Ref."""
    template = resolver.template
    for logical_id, spec in resources_of_type(template, POOL_TYPE).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        kwargs: dict[str, Any] = {"PoolName": resolver.physical_name(logical_id)}
        for key in ("UsernameAttributes", "AutoVerifiedAttributes", "Schema", "Policies"):
            if key in props:
                kwargs[key] = props[key]
        pool_id = cognito.create_user_pool(**kwargs)["UserPool"]["Id"]
        created.pools[logical_id] = UserPoolInfo(
            logical_id=logical_id,
            pool_id=pool_id,
            email_usernames="email" in (props.get("UsernameAttributes") or []),
        )
        resolver.physical.refs[logical_id] = pool_id
    for logical_id, spec in resources_of_type(template, CLIENT_TYPE).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        pool = next(p for p in created.pools.values() if p.pool_id == props["UserPoolId"])
        kwargs = {"UserPoolId": pool.pool_id, "ClientName": resolver.physical_name(logical_id)}
        for key in ("ExplicitAuthFlows", "GenerateSecret", "ReadAttributes", "WriteAttributes"):
            if key in props:
                kwargs[key] = props[key]
        kwargs["GenerateSecret"] = False  # the local issuer authenticates without a secret hash
        # Cognito lets a client read every standard attribute unless told otherwise; moto reads
        # none, so the default is spelled out to get the email claim into ID tokens.
        kwargs.setdefault("ReadAttributes", list(DEFAULT_READ_ATTRIBUTES))
        client_id = cognito.create_user_pool_client(**kwargs)["UserPoolClient"]["ClientId"]
        pool.client_ids.append(client_id)
        resolver.physical.refs[logical_id] = client_id
        resolver.physical.attrs[(logical_id, "ClientId")] = client_id
    for logical_id, spec in resources_of_type(template, GROUP_TYPE).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        pool = next(p for p in created.pools.values() if p.pool_id == props["UserPoolId"])
        group = str(props.get("GroupName") or logical_id)
        kwargs = {"UserPoolId": pool.pool_id, "GroupName": group}
        if "Precedence" in props:
            kwargs["Precedence"] = int(props["Precedence"])
        if "Description" in props:
            kwargs["Description"] = str(props["Description"])
        cognito.create_group(**kwargs)
        pool.groups.append(group)
        resolver.physical.refs[logical_id] = group


def create_buckets(resolver: Resolver, s3: Any, created: CreatedResources) -> None:
    """Every S3 bucket, with versioning as the template asks and its CORS rules (so a browser's
    presigned upload works locally too); names are lower-cased, as S3 requires. Encryption and
    public-access settings are AWS's to enforce."""
    for logical_id, spec in resources_of_type(resolver.template, BUCKET_TYPE).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = resolver.resolve(spec.get("Properties") or {})
        name = str(props.get("BucketName") or resolver.physical_name(logical_id)).lower()
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if name not in existing:
            s3.create_bucket(Bucket=name)
        if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        rules = (props.get("CorsConfiguration") or {}).get("CorsRules")
        if rules:
            s3.put_bucket_cors(
                Bucket=name,
                CORSConfiguration={
                    "CORSRules": [
                        {
                            key: rule[key]
                            for key in (
                                "AllowedMethods",
                                "AllowedOrigins",
                                "AllowedHeaders",
                                "ExposeHeaders",
                            )
                            if key in rule
                        }
                        | ({"MaxAgeSeconds": int(rule["MaxAge"])} if "MaxAge" in rule else {})
                        for rule in rules
                    ]
                },
            )
        created.buckets[logical_id] = name
        resolver.physical.refs[logical_id] = name
        resolver.physical.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        resolver.physical.attrs[(logical_id, "DomainName")] = f"{name}.s3.amazonaws.com"


def verify_senders(environments: Iterable[Mapping[str, str]], ses: Any) -> list[str]:
    """Verify in SES every address a function sends mail from (``SENDER_EMAIL``).

    On AWS the identity is verified once, out of band; moto refuses mail from an unverified
    source just as SES does, so the stack verifies what the template names.
    """
    senders = sorted({env["SENDER_EMAIL"] for env in environments if env.get("SENDER_EMAIL")})
    for sender in senders:
        ses.verify_email_identity(EmailAddress=sender)
    return senders


def create_all(resolver: Resolver, dynamodb: Any, moto_client: Any) -> CreatedResources:
    """Create everything in dependency order: external resources (their parameters are read by
    what follows), pools, topics and their subscriptions, queues (DLQs first), buckets, tables.

    moto_client is a callable(service) -> boto3 client for the moto server.
    """
    created = CreatedResources()
    create_external_resources(resolver, moto_client("sns"), created)
    create_user_pools(resolver, moto_client("cognito-idp"), created)
    create_topics(resolver, moto_client("sns"), created)
    create_subscriptions(resolver, moto_client("sns"), created)
    create_queues(resolver, moto_client("sqs"), created)
    create_buckets(resolver, moto_client("s3"), created)
    create_tables(resolver, dynamodb, created)
    return created
