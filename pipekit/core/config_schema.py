"""The ``pipekit.yaml`` JSON schema, generated from the steps' option declarations.

Each option with a ``config`` key gives its property: type, bounds, choices, help, and its
declaration's ``schema=``/``pattern=``/lengths. A mapping's structure is a ``$ref`` into the
hand-kept ``schema/defs.json`` (written out in place where other keys extend it), which also holds
the keys no option reads. Committed as ``schema/pipekit.schema.json`` (``scripts/gen_schema.py``;
a test fails while it differs), so loading a config imports no step.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipekit.core.options import Option, OptionTable

SCHEMA_DIR = Path(__file__).with_name("schema")
GENERATED = SCHEMA_DIR / "pipekit.schema.json"
DEFS = SCHEMA_DIR / "defs.json"
_SCALARS = {"str": "string", "path": "string", "bool": "boolean", "int": "integer", "float": "number"}
_STRING_KEYS = ("pattern", "minLength", "maxLength")  # of each item, for a list
_SHAPED = ("type", "$ref", "oneOf", "anyOf", "enum")


def generate(tables: Iterable[OptionTable], defs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole schema from the tables (in order: the first description of a shared key stays)."""
    kept = json.loads(DEFS.read_text(encoding="utf-8")) if defs is None else defs
    root: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pipekit.yaml",
        "type": "object",
        "additionalProperties": False,
        "properties": {},
        "$defs": copy.deepcopy(kept.get("$defs", {})),
    }
    for option in (o for table in tables for o in table if o.config):
        if callable(option.schema):  # a structure made by other code: its definitions join the root's
            made = dict(option.schema())
            root["$defs"].update(copy.deepcopy(made.pop("$defs", {})))
            option = dataclasses.replace(option, schema=made)
        node = root
        parts = option.config.split(".")
        for part in parts[:-1]:
            props = node.setdefault("properties", {})
            props[part] = _merge(props.get(part, {}), _section(), root, option.config)
            node = props[part]
        props = node.setdefault("properties", {})
        props[parts[-1]] = _merge(props.get(parts[-1], {}), property_of(option), root, option.config)
    for key, extra in kept.get("properties", {}).items():  # keys no option reads, sections' descriptions
        root["properties"][key] = _merge(root["properties"].get(key, {}), extra, root, key)
    return root


def property_of(option: Option) -> dict[str, Any]:
    """One option's property: type, bounds, choices, description and its declared ``schema``."""
    assert not callable(option.schema), "generate() calls a schema function first"
    extra = dict(option.schema or {})
    if option.type == "data":
        if not extra:
            raise ValueError(
                f"option {option.name} ({option.config}): a mapping or list needs schema= "
                "(its structure, or a $ref to pipekit/core/schema/defs.json)"
            )
        prop = extra if any(k in extra for k in _SHAPED) else {"type": "object", **extra}
    else:
        item: dict[str, Any] = (
            {"enum": list(option.choices)}
            if option.type == "choice"
            else {"type": _SCALARS.get(option.type, "string")}
        )
        for key, bound in (
            ("minimum", option.minimum),
            ("maximum", option.maximum),
            ("exclusiveMinimum", option.above),
        ):
            if bound is not None:
                item[key] = bound
        if option.multiple or option.type == "list" or option.argument:
            item.update({k: extra.pop(k) for k in _STRING_KEYS if k in extra})
            prop = {"type": "array", "items": item}
        else:
            prop = item
        if any(k in extra for k in ("oneOf", "anyOf", "$ref")):
            prop = {}  # the declaration says the whole shape
        prop.update(extra)
    if option.help:
        prop["description"] = option.help
    return prop


def _section() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False}


def _merge(a: dict[str, Any], b: Mapping[str, Any], root: dict[str, Any], where: str) -> dict[str, Any]:
    """``a`` and ``b`` as one schema: properties merged key by key, a ``$ref`` written out when the other
    side adds properties, the first description kept; any other keyword must agree."""
    if not a:
        return copy.deepcopy(dict(b))
    a, b = dict(a), dict(b)
    if _without_description(a) == _without_description(b):
        return a
    if "$ref" in a or "$ref" in b:
        a, b = _resolved(a, root), _resolved(b, root)
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif key == "properties":
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = _merge(props.get(name, {}), sub, root, f"{where}.{name}")
            out[key] = props
        elif key != "description" and out[key] != value:
            raise ValueError(
                f"pipekit.yaml schema: {where}: {key} {out[key]!r} and {value!r} declared for the same key"
            )
    return out


def _without_description(node: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != "description"}


def _resolved(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    name = str(node["$ref"]).rsplit("/", 1)[-1]
    rest = {k: v for k, v in node.items() if k != "$ref"}
    return {**copy.deepcopy(root["$defs"][name]), **rest}


def dump(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
