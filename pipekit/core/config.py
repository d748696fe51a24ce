"""``pipekit.yaml``: loaded with line numbers, validated by the JSON schema shipped in the package.

The schema (``pipekit/core/schema/pipekit.schema.json``) is generated from the steps' option
declarations (:mod:`pipekit.core.config_schema`) and committed, so loading a config imports no
step. Scalars stay strings unless the schema asks for a number or boolean there:
a short SHA ``1234567`` or a tag ``true`` is never turned into a number or a bool.

Precedence for every option: flag > environment > file > default (:mod:`pipekit.core.options`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import BadInput

if TYPE_CHECKING:
    import yaml  # imported where a file is parsed: steps without a pipekit.yaml start quicker

SCHEMA_FILE = Path(__file__).with_name("schema") / "pipekit.schema.json"  # see pipekit.core.config_schema
DEFAULT_FILE = "pipekit.yaml"
_NULL_TAG = "tag:yaml.org,2002:null"

Location = tuple[Any, ...]


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The whole pipekit.yaml schema: the committed file generated from the steps' declarations."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@dataclass
class Config:
    """A validated pipekit.yaml (or an empty one)."""

    data: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    lines: dict[Location, int] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def where(self, *location: Any) -> str:
        """``file:line`` for a place in the document (the nearest known ancestor)."""
        name = str(self.path) if self.path else DEFAULT_FILE
        loc = tuple(location)
        while loc and loc not in self.lines:
            loc = loc[:-1]
        line = self.lines.get(loc)
        return f"{name}:{line}" if line else name


def find_config(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    e = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if e.get("PIPEKIT_CONFIG"):
        return Path(e["PIPEKIT_CONFIG"])
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find, read and validate pipekit.yaml; a missing default file is an empty config."""
    found = find_config(path, env)
    if found is None:
        return Config()
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{found}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{found}: not UTF-8 text (byte {exc.start}): save the file as UTF-8") from None
    return parse(text, found)


def parse(text: str, path: Path | None = None) -> Config:
    name = str(path) if path else DEFAULT_FILE
    data, lines = load_yaml_with_lines(text, name)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{name}:1: the document must be a mapping, got {type(data).__name__}")
    data = coerce(data, schema(), schema())
    config = Config(data=data, path=path, lines=lines)
    validate(config)
    return config


def load_yaml_with_lines(text: str, name: str) -> tuple[Any, dict[Location, int]]:
    """Parse YAML keeping every scalar a string (nulls excepted) and each node's line number."""
    from pipekit.core import yamlload

    root = yamlload.compose(text, name)
    lines: dict[Location, int] = {}
    if root is None:
        return None, lines
    try:
        return _build(root, (), lines, name), lines
    except RecursionError:
        raise BadInput(f"{name}: YAML nested too deeply for a configuration file") from None


def _build(node: yaml.Node, loc: Location, lines: dict[Location, int], name: str) -> Any:
    import yaml

    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise BadInput(f"{name}:{key_node.start_mark.line + 1}: mapping keys must be plain strings")
            key = key_node.value
            if key in out:
                raise BadInput(f"{name}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _build(value_node, loc + (key,), lines, name)
            lines[loc + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, loc + (i,), lines, name) for i, item in enumerate(node.value)]
    if node.tag == _NULL_TAG and getattr(node, "style", None) is None:
        return None
    return node.value


def _resolve(sub: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in sub and isinstance(sub["$ref"], str) and sub["$ref"].startswith("#/$defs/"):
        sub = root["$defs"].get(sub["$ref"].split("/")[-1], {})
    return sub


def _types(sub: dict[str, Any]) -> set[str]:
    t = sub.get("type")
    found = {t} if isinstance(t, str) else set(t or [])
    for key in ("oneOf", "anyOf"):
        for option in sub.get(key, []):
            if isinstance(option, dict):
                found |= _types(option)
    return found


def coerce(value: Any, sub: dict[str, Any], root: dict[str, Any]) -> Any:
    """Turn strings into numbers/booleans only where the schema wants them and not strings."""
    sub = _resolve(sub, root)
    if isinstance(value, dict):
        props = sub.get("properties", {})
        extra = sub.get("additionalProperties")
        out = {}
        for key, item in value.items():
            child = props.get(key)
            if child is None and isinstance(extra, dict):
                child = extra
            out[key] = coerce(item, child, root) if isinstance(child, dict) else item
        return out
    if isinstance(value, list):
        items = sub.get("items")
        return [coerce(v, items, root) if isinstance(items, dict) else v for v in value]
    if isinstance(value, str):
        types = _types(sub)
        if "string" in types or not types:
            return value
        from pipekit.core import parse as parsers  # the one boolean and number parser

        low = value.strip().lower()
        if "boolean" in types and low in parsers.TRUE | parsers.FALSE:
            return low in parsers.TRUE
        if "integer" in types and parsers.is_int_text(value):
            return int(value)
        if "number" in types and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value):
            return float(value)
    return value


def validate(config: Config) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config.data))
    if error is None:
        return
    location = tuple(error.absolute_path)
    dotted = ".".join(str(p) for p in location) or "(top level)"
    raise BadInput(f"{config.where(*location)}: {dotted}: {error.message}")
