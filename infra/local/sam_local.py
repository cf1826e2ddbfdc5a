"""Point `sam local start-api` at the running local stack's emulators, where Docker runs.

`sam local start-api` runs each function in a Docker container, and its ``--env-vars`` file
sets only the variables the template declares. The endpoint variables that send AWS calls to
the emulators (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_DYNAMODB``) must never be declared in the
template AWS deploys, so `make run` writes, when a Docker engine answers, a local copy of the
template beside the env file, in ``.aws-sam/local/``:

- ``template.json``: template.yaml with the two endpoint variables declared in Globals, code
  paths made absolute, and the managed Powertools layer (which SAM could only download from an
  AWS account) replaced by a local layer of the versions pinned in pyproject.toml, built by
  ``sam build``;
- ``env.json``: every declared variable of every function with its local value (table names,
  queue URLs, the user pool, the development webhook secret), the endpoints included, with the
  host written as ``host.docker.internal``, which reaches the host from a container.

README, "The SAM emulator", has the commands.
"""

from __future__ import annotations

import copy
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.emulators import REPO_ROOT, Emulators
from infra.local.environment import endpoint_environment, function_environment

CONTAINER_HOST = "host.docker.internal"
#: The endpoint variables declared in the local template: the specific one wins for DynamoDB,
#: the general one sends every other service to moto.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")
LOCAL_LAYER = "LocalPowertoolsLayer"
#: What the managed Powertools layer brings, at the versions pinned in pyproject.toml.
MANAGED_LAYER_PACKAGES = ("aws-lambda-powertools", "pydantic")
OUT_DIR = REPO_ROOT / ".aws-sam" / "local"


@dataclass(frozen=True)
class SamFiles:
    template: Path
    env_vars: Path
    layer_dir: Path


def in_container(value: str) -> str:
    """A URL on the host's loopback, as a container reaches it."""
    return value.replace("http://127.0.0.1:", f"http://{CONTAINER_HOST}:")


def env_vars(emulators: Emulators) -> dict[str, dict[str, str]]:
    """The ``--env-vars`` document: each function's declared variables with local values."""
    endpoints = endpoint_environment(
        in_container(emulators.dynamodb.endpoint), in_container(emulators.moto.endpoint)
    )
    document: dict[str, dict[str, str]] = {}
    for spec in emulators.functions:
        full = function_environment(spec, endpoints)
        declared = [*spec.environment, *ENDPOINT_VARIABLES]
        document[spec.logical_id] = {name: in_container(full[name]) for name in declared}
    return document


def _absolute(template: dict[str, Any], base: Path) -> None:
    for resource in (template.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = str((base / props[key]).resolve())


def _resolves_to_local_layer(value: Any) -> Any:
    """Every ``{{resolve:ssm:...}}`` layer ARN (the managed Powertools layer, named per
    architecture through ``!Sub``) replaced by the local layer; a ``PowertoolsLayerArn`` passed
    with --parameter-overrides still wins."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        value = value["Fn::Sub"]
    if isinstance(value, str) and value.startswith("{{resolve:"):
        return {"Ref": LOCAL_LAYER}
    if isinstance(value, list):
        return [_resolves_to_local_layer(item) for item in value]
    if isinstance(value, dict):
        return {key: _resolves_to_local_layer(item) for key, item in value.items()}
    return value


def local_template(template: dict[str, Any], base: Path, layer_dir: Path) -> dict[str, Any]:
    """The template as `sam local` needs it (see the module docstring); the original is kept."""
    local = copy.deepcopy(template)
    _absolute(local, base)
    function = local.setdefault("Globals", {}).setdefault("Function", {})
    variables = function.setdefault("Environment", {}).setdefault("Variables", {})
    for name in ENDPOINT_VARIABLES:
        variables[name] = ""
    function["Layers"] = _resolves_to_local_layer(function.get("Layers") or [])
    local["Resources"][LOCAL_LAYER] = {
        "Type": "AWS::Serverless::LayerVersion",
        "Properties": {
            "ContentUri": str(layer_dir),
            "CompatibleRuntimes": [function.get("Runtime", "python3.11")],
        },
        "Metadata": {"BuildMethod": function.get("Runtime", "python3.11")},
    }
    return local


def managed_layer_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The pinned requirements of pyproject.toml that the managed Powertools layer stands for."""
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    wanted = []
    for requirement in dependencies:
        name = requirement.split("[", 1)[0].split("=", 1)[0].strip()
        if name in MANAGED_LAYER_PACKAGES:
            wanted.append(requirement)
    return wanted


def write(emulators: Emulators, out_dir: Path = OUT_DIR) -> SamFiles:
    """Write the local template, its Powertools layer and the env file for these emulators."""
    layer_dir = out_dir / "powertools-layer"
    layer_dir.mkdir(parents=True, exist_ok=True)
    requirements = "\n".join(managed_layer_requirements()) + "\n"
    (layer_dir / "requirements.txt").write_text(requirements, encoding="utf-8")
    files = SamFiles(out_dir / "template.json", out_dir / "env.json", layer_dir)
    template = local_template(emulators.template, emulators.template_path.parent, layer_dir)
    files.template.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    files.env_vars.write_text(json.dumps(env_vars(emulators), indent=2) + "\n", encoding="utf-8")
    return files
