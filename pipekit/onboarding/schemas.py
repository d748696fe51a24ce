"""The public schemas init's checks use: Bitbucket Pipelines, Kustomization, Argo CD (swagger).

They are data files that pipekit does not ship: ``PIPEKIT_SCHEMAS_DIR`` names the directory
holding them. Without it the schema checks are skipped (and said so); the lint and the
kustomize renders still run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput

ENV = "PIPEKIT_SCHEMAS_DIR"
BITBUCKET = "bitbucket-pipelines.schema.json"
KUSTOMIZATION = "kustomization.schema.json"
ARGOCD = "argocd-v3.5.1-swagger.json"
ARGOCD_SHAPES = {"Application": "v1alpha1Application", "AppProject": "v1alpha1AppProject"}


def directory(env: Mapping[str, str]) -> Path | None:
    value = env.get(ENV)
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise BadInput(f"{ENV}={value}: no such directory (it should hold {BITBUCKET}, {KUSTOMIZATION}, {ARGOCD})")
    return path


@lru_cache(maxsize=8)
def _load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read the schema: {exc}") from None
    return data


@lru_cache(maxsize=8)
def validator(path: Path) -> Any:
    import jsonschema

    schema = _load(path)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


@lru_cache(maxsize=4)
def argocd_validator(path: Path, kind: str) -> Any:
    """A validator of one Argo CD kind from the swagger definitions, made strict.

    Swagger 2.0 leaves objects open; here an object with listed properties and no
    ``additionalProperties`` rejects unknown keys (a typo such as ``syncPolicy.automatic``),
    and int64/int32 fields take a JSON number (the wire shape) or a string.
    """
    import jsonschema

    definitions = json.loads(path.read_text(encoding="utf-8"))["definitions"]  # a fresh copy to tighten
    for definition in definitions.values():
        _tighten(definition)
    schema = {"$ref": f"#/definitions/{ARGOCD_SHAPES[kind]}", "definitions": definitions}
    return jsonschema.Draft4Validator(schema)


def _tighten(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        if node.get("format") in ("int64", "int32") and node.get("type") in ("string", "integer"):
            node["type"] = ["integer", "string"]
        for value in node.values():
            _tighten(value)
    elif isinstance(node, list):
        for item in node:
            _tighten(item)


def errors(validator_: Any, doc: Any, name: str, limit: int = 5) -> list[str]:
    found = sorted(validator_.iter_errors(doc), key=lambda e: list(e.absolute_path))
    out = []
    for error in found[:limit]:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        out.append(f"{name}: {where}: {error.message[:200]}")
    return out
