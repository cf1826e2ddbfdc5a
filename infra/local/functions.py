"""The template's functions as Lambda would run them: code, handler, layers, environment.

SAM merges Globals.Function into each function; this module does the same merge so a worker
gets exactly the configuration the deployed function would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.template import Resolver, resources_of_type

FUNCTION_TYPES = ("AWS::Serverless::Function",)
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


@dataclass
class FunctionSpec:
    """One function of the template, resolved for the local stack."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    layer_dirs: list[Path]
    environment: dict[str, str]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Logical ids of the resources the function's policies name: what it may touch on AWS.
    policy_resources: frozenset[str] = frozenset()

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}"


def _merge_globals(global_props: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals merge: maps merge (function wins), lists concatenate, scalars override."""
    merged: dict[str, Any] = dict(global_props)
    for key, value in props.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = _merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = [*base, *value]
        else:
            merged[key] = value
    return merged


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _layer_dirs(layers: list[Any], template: dict[str, Any], base_dir: Path) -> list[Path]:
    """Local directories of the template's own layers; managed layer ARNs (Powertools) are
    served by the virtualenv instead."""
    own_layers = resources_of_type(template, *LAYER_TYPES)
    dirs: list[Path] = []
    for layer in layers:
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in own_layers:
            props = own_layers[layer["Ref"]].get("Properties") or {}
            uri = props.get("ContentUri") or props.get("Content")
            if isinstance(uri, str):
                dirs.append((base_dir / uri).resolve())
    return dirs


def _referenced(value: Any) -> set[str]:
    """Logical ids a template value refers to (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``'s names)."""
    if isinstance(value, list):
        return set().union(*(_referenced(item) for item in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        if key == "Ref" and isinstance(inner, str):
            found.add(inner)
        elif key == "Fn::GetAtt":
            target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
            found.add(str(target))
        else:
            found |= _referenced(inner)
    return found


def load_functions(
    template: dict[str, Any], resolver: Resolver, base_dir: Path
) -> list[FunctionSpec]:
    """Every enabled serverless function, with Globals merged and intrinsics resolved."""
    global_props = ((template.get("Globals") or {}).get("Function")) or {}
    specs: list[FunctionSpec] = []
    for logical_id, resource in resources_of_type(template, *FUNCTION_TYPES).items():
        if not resolver.resource_enabled(logical_id):
            continue
        props = _merge_globals(global_props, resource.get("Properties") or {})
        variables = (props.get("Environment") or {}).get("Variables") or {}
        resolved_env = resolver.resolve(variables)
        code_uri = props.get("CodeUri", ".")
        if not isinstance(code_uri, str):
            code_uri = "."
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                name=resolver.physical_name(logical_id),
                code_dir=(base_dir / code_uri).resolve(),
                handler=str(props.get("Handler", "app.lambda_handler")),
                timeout=int(resolver.resolve(props.get("Timeout", 3))),
                memory=int(resolver.resolve(props.get("MemorySize", 128))),
                layer_dirs=_layer_dirs(list(props.get("Layers") or []), template, base_dir),
                environment={key: _env_string(val) for key, val in resolved_env.items()},
                events=dict(props.get("Events") or {}),
                policy_resources=frozenset(_referenced(props.get("Policies"))),
            )
        )
    return specs
