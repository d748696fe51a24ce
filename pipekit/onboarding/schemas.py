"""The public schemas init's checks use: Bitbucket Pipelines, Kustomization,
Argo CD's Application and AppProject.

They ship inside the package (``public_schemas/``, with their licences in ``LICENSES.md``), so init
and ``init --check`` check against them on every machine. ``PIPEKIT_SCHEMAS_DIR`` names a directory
whose files win over the shipped ones (a newer schema; the full Argo CD swagger, from which the
Application and AppProject shapes are then derived the same way ``scripts/derive_argocd_schema.py``
derived the shipped file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput

ENV = "PIPEKIT_SCHEMAS_DIR"
SHIPPED = Path(__file__).with_name("public_schemas")
BITBUCKET = "bitbucket-pipelines.schema.json"
KUSTOMIZATION = "kustomization.schema.json"
ARGOCD = "argocd-v3.5.1-swagger.json"  # the full swagger, in a PIPEKIT_SCHEMAS_DIR
ARGOCD_SHAPES_FILE = "argocd-v3.5.1-application.schema.json"  # shipped: derived from the swagger
ARGOCD_SHAPES = {"Application": "v1alpha1Application", "AppProject": "v1alpha1AppProject"}


def directory(env: Mapping[str, str]) -> Path:
    """Where the schemas are read from: ``PIPEKIT_SCHEMAS_DIR`` when set (it must exist),
    else the shipped ones."""
    value = env.get(ENV)
    if not value:
        return SHIPPED
    path = Path(value)
    if not path.is_dir():
        raise BadInput(
            f"{ENV}={value}: no such directory (it should hold {BITBUCKET}, {KUSTOMIZATION}, {ARGOCD})"
        )
    return path


def path_of(directory_: Path, name: str) -> Path:
    """``name`` in ``directory_`` when it is there, else the shipped copy."""
    found = directory_ / name
    return found if found.is_file() else SHIPPED / name


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
def argocd_validator(directory_: Path, kind: str) -> Any:
    """A validator of one Argo CD kind: the swagger's definitions made strict (see :func:`derive`)."""
    import jsonschema

    swagger = directory_ / ARGOCD
    definitions = (
        derive(_load(swagger))["definitions"]
        if swagger.is_file()
        else _load(SHIPPED / ARGOCD_SHAPES_FILE)["definitions"]
    )
    return jsonschema.Draft4Validator(
        {"$ref": f"#/definitions/{ARGOCD_SHAPES[kind]}", "definitions": definitions}
    )


def derive(swagger: Mapping[str, Any]) -> dict[str, Any]:
    """The Application and AppProject shapes of Argo CD's swagger, with only the definitions they use, strict.

    Swagger 2.0 leaves objects open; here an object with listed properties and no
    ``additionalProperties`` rejects unknown keys (a typo such as ``syncPolicy.automatic``),
    and int64/int32 fields take a JSON number (the wire shape) or a string.
    """
    definitions = json.loads(json.dumps(swagger["definitions"]))  # a fresh copy to tighten
    wanted: dict[str, Any] = {}
    todo = list(ARGOCD_SHAPES.values())
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted[name] = definitions[name]
        todo += [ref.rsplit("/", 1)[1] for ref in _refs(definitions[name])]
    for definition in wanted.values():
        _tighten(definition)
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "description": "Argo CD v3.5.1 Application and AppProject (argoproj/argo-cd assets/swagger.json, "
        "Apache-2.0), derived by scripts/derive_argocd_schema.py: only the definitions they "
        "use; objects with listed properties reject unknown keys; int64/int32 take a number "
        "or a string",
        "definitions": dict(sorted(wanted.items())),
    }


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


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
