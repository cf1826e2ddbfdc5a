"""Read template.yaml and resolve its intrinsic functions to local physical values.

The local stack builds everything from the same template SAM deploys, so this module must
understand CloudFormation's short tags and resolve !Ref/!GetAtt/!Sub the way CloudFormation
would, only with names and urls that point at the local emulators.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "commerce-local"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"


class _NoValue:
    """AWS::NoValue: a property that resolves to it disappears from its parent."""


NO_VALUE = _NoValue()


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags into their long (JSON) form."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical, _, attr = value.partition(".")
        return {"Fn::GetAtt": [logical, attr]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template file into plain dicts and lists."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def default_physical_name(logical_id: str) -> str:
    """Name CloudFormation would derive (minus its random suffix) when the template sets none."""
    return f"{STACK_NAME}-{logical_id}"


@dataclass
class Physical:
    """What each logical id resolves to locally: its Ref value and its GetAtt attributes.

    Filled while resources are created (a queue's url or a pool's id exist only then) and read
    by the resolver; anything not recorded falls back to a deterministic stand-in.
    """

    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)


class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and Physical values."""

    def __init__(
        self,
        template: Mapping[str, Any],
        physical: Physical | None = None,
        parameter_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self.physical = physical if physical is not None else Physical()
        self.parameters: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if "Default" in spec:
                self.parameters[name] = spec["Default"]
        for name, value in (parameter_overrides or {}).items():
            self.parameters[name] = value
        self.resources: dict[str, Any] = template.get("Resources") or {}
        self._conditions: dict[str, bool] = {}

    # -- pseudo parameters and references -------------------------------------------------
    def pseudo(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::StackName": STACK_NAME,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise KeyError(f"unknown pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            value = self.parameters[name]
            return self.resolve(value) if isinstance(value, dict) else value
        if name in self.physical.refs:
            return self.physical.refs[name]
        if name in self.resources:
            return self.physical_name(name)
        raise KeyError(f"!Ref to unknown name {name}")

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets: its own name property if it sets one, else a default."""
        resource = self.resources.get(logical_id) or {}
        props = resource.get("Properties") or {}
        name_props = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::Cognito::UserPool": "UserPoolName",
            "AWS::Cognito::UserPoolClient": "ClientName",
            "AWS::Scheduler::Schedule": "Name",
            "AWS::Events::Rule": "Name",
            "AWS::Serverless::Api": "Name",
            "AWS::S3::Bucket": "BucketName",
        }
        prop = name_props.get(str(resource.get("Type")))
        if prop and prop in props:
            value = self.resolve(props[prop])
            if isinstance(value, str) and value:
                return value
        if resource.get("Type") == "AWS::S3::Bucket":
            # Bucket names are lowercase (CloudFormation lowercases the names it derives).
            return default_physical_name(logical_id).lower()
        return default_physical_name(logical_id)

    def get_att(self, logical_id: str, attr: str) -> Any:
        if (logical_id, attr) in self.physical.attrs:
            return self.physical.attrs[(logical_id, attr)]
        resource = self.resources.get(logical_id)
        if resource is None:
            raise KeyError(f"!GetAtt to unknown resource {logical_id}")
        rtype = str(resource.get("Type"))
        name = self.physical_name(logical_id)
        arn_prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}:"
        if attr == "Arn":
            by_type = {
                "AWS::DynamoDB::Table": arn_prefix.format("dynamodb") + f"table/{name}",
                "AWS::SQS::Queue": arn_prefix.format("sqs") + name,
                "AWS::SNS::Topic": arn_prefix.format("sns") + name,
                "AWS::Serverless::Function": arn_prefix.format("lambda") + f"function:{name}",
                "AWS::Lambda::Function": arn_prefix.format("lambda") + f"function:{name}",
                "AWS::Scheduler::Schedule": arn_prefix.format("scheduler") + f"schedule/{name}",
                "AWS::Events::Rule": arn_prefix.format("events") + f"rule/{name}",
                "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            }
            if rtype == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{name}"
            if rtype == "AWS::Cognito::UserPool":
                pool_id = self.ref(logical_id)
                return arn_prefix.format("cognito-idp") + f"userpool/{pool_id}"
            return by_type.get(rtype, arn_prefix.format("local") + name)
        if attr in ("QueueName", "TopicName", "Name"):
            return name
        if attr == "QueueUrl":
            return self.ref(logical_id)
        if attr == "StreamArn":
            return self.get_att(logical_id, "Arn") + "/stream/local"
        if rtype == "AWS::Cognito::UserPool":
            pool_id = self.ref(logical_id)
            if attr == "ProviderName":
                return f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
            if attr == "ProviderURL":
                return f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
            if attr == "UserPoolId":
                return pool_id
        return f"{name}.{attr}"

    # -- conditions -------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise KeyError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    def resource_enabled(self, logical_id: str) -> bool:
        """False when the resource's Condition is false, as CloudFormation would skip it."""
        cond = (self.resources.get(logical_id) or {}).get("Condition")
        return True if cond is None else self.condition(cond)

    # -- the resolver proper ----------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside value; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(str(self.resolve(parts[0])), str(self.resolve(parts[1])))
        if name == "Sub":
            return self._sub(arg)
        if name == "Join":
            delimiter, items = arg
            return str(delimiter).join(str(item) for item in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Split":
            delimiter, text = self.resolve(arg)
            return str(text).split(delimiter)
        if name == "If":
            cond, when_true, when_false = arg
            return self.resolve(when_true if self.condition(cond) else when_false)
        if name == "Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "And":
            return all(self.resolve(item) for item in arg)
        if name == "Or":
            return any(self.resolve(item) for item in arg)
        if name == "FindInMap":
            mapping, top, second = self.resolve(arg)
            return self.template["Mappings"][mapping][top][second]
        if name == "GetAZs":
            return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        if name == "Base64":
            return self.resolve(arg)
        if name == "ImportValue":
            return f"{STACK_NAME}-import-{self.resolve(arg)}"
        if name == "ToJsonString":
            import json

            return json.dumps(self.resolve(arg))
        raise KeyError(f"unsupported intrinsic Fn::{name}")

    _SUB_RE = re.compile(r"\$\{([^}]+)\}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1]) if len(arg) > 1 else {}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and not token.startswith("AWS::"):
                logical, attr = token.split(".", 1)
                return str(self.get_att(logical, attr))
            return str(self.ref(token))

        return self._SUB_RE.sub(replace, str(text))


def resources_of_type(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    """The template's resources of the given types, by logical id, in template order."""
    return {
        logical: spec
        for logical, spec in (template.get("Resources") or {}).items()
        if isinstance(spec, dict) and spec.get("Type") in types
    }
