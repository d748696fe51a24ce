"""Workspace, repository and deployment variables from ``--variables`` files, as Bitbucket stores them.

A YAML or JSON file holds sections ``workspace``, ``repository`` and ``deployments`` (one mapping
per environment); names outside a section are repository variables. A name maps to its value, or
to ``{value: ..., secured: true}`` (``key``/``value``/``secured`` lists, the shape Bitbucket's API
returns, are read too). A file that is neither (``.env``: ``NAME=value`` lines) holds unsecured
repository variables. Later files override earlier ones. In a step, deployment variables override
repository variables, which override workspace variables, and any of them may override one of
Bitbucket's default variables (Atlassian's "Variables and secrets" page). Secured values are
registered for masking the moment they are read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core import masking, yamlload
from pipekit.core.errors import BadInput
from pipekit.pipelines.model import CustomVariable

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SCOPES = ("workspace", "repository")


@dataclass(frozen=True)
class Variable:
    value: str
    secured: bool = False


@dataclass
class VariableSet:
    workspace: dict[str, Variable] = field(default_factory=dict)
    repository: dict[str, Variable] = field(default_factory=dict)
    deployments: dict[str, dict[str, Variable]] = field(default_factory=dict)
    environments_declared: bool = False  # a file named its deployment environments

    def merge(self, other: VariableSet) -> None:
        self.workspace.update(other.workspace)
        self.repository.update(other.repository)
        for env, values in other.deployments.items():
            self.deployments.setdefault(env, {}).update(values)
        self.environments_declared |= other.environments_declared

    def for_step(self, deployment: str | None) -> dict[str, Variable]:
        out = dict(self.workspace)
        out.update(self.repository)
        if deployment:
            out.update(self.deployments.get(deployment, {}))
        return out


def load_files(paths: list[Path]) -> VariableSet:
    out = VariableSet()
    for path in paths:
        out.merge(load_file(path))
    return out


def load_file(path: Path) -> VariableSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--variables {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"--variables {path}: not UTF-8 text") from None
    if path.suffix.lower() in (".yml", ".yaml", ".json"):
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise BadInput(f"--variables {path}: malformed JSON: {exc}") from None
        else:
            data = yamlload.load(text, f"--variables {path}")
        return _structured(data or {}, str(path))
    return _dotenv(text, str(path))


def _structured(data: Any, where: str) -> VariableSet:
    if not isinstance(data, dict):
        raise BadInput(f"--variables {where}: expected a mapping of sections or names")
    out = VariableSet()
    for key, value in data.items():
        if key in SCOPES:
            getattr(out, key).update(_section(value, f"{where}: {key}"))
        elif key in ("deployments", "deployment"):
            if not isinstance(value, dict):
                raise BadInput(f"--variables {where}: {key} must map each environment to its variables")
            out.environments_declared = True
            for env, values in value.items():
                out.deployments[str(env)] = _section(values or {}, f"{where}: {key}.{env}")
        else:
            out.repository.update(_section({key: value}, where))
    return out


def _section(value: Any, where: str) -> dict[str, Variable]:
    if isinstance(value, list):  # Bitbucket's API shape: [{key, value, secured}]
        pairs = []
        for item in value:
            if not isinstance(item, dict) or "key" not in item:
                raise BadInput(f"--variables {where}: a list holds {{key, value, secured}} entries")
            pairs.append((item["key"], {"value": item.get("value"), "secured": item.get("secured", False)}))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise BadInput(f"--variables {where}: expected a mapping of names to values")
    out: dict[str, Variable] = {}
    for name, raw in pairs:
        name = str(name)
        if not NAME.match(name):
            raise BadInput(
                f"--variables {where}: {name!r} is not a variable name (letters, digits, underscores)"
            )
        out[name] = _variable(raw, f"{where}: {name}")
    return out


def _variable(raw: Any, where: str) -> Variable:
    secured = False
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "secured", "key", "uuid", "type"}
        if unknown or "value" not in raw:
            raise BadInput(f"--variables {where}: expected a value or {{value: ..., secured: true}}")
        secured = raw.get("secured") is True
        raw = raw["value"]
    if isinstance(raw, (dict, list)):
        raise BadInput(f"--variables {where}: a value must be text")
    value = "" if raw is None else (str(raw).lower() if isinstance(raw, bool) else str(raw))
    if secured:
        masking.add_secret(value)
    return Variable(value, secured)


def _dotenv(text: str, where: str) -> VariableSet:
    out = VariableSet()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not NAME.match(name):
            raise BadInput(f"--variables {where}:{n}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out.repository[name] = Variable(value)
    return out


def custom_values(
    variables: list[CustomVariable], given: Mapping[str, str], pipeline: str
) -> dict[str, Variable]:
    """The values a person types when starting a custom pipeline (``--var NAME=VALUE``)."""
    known = {v.name for v in variables}
    for name in given:
        if name not in known:
            raise BadInput(
                f"--var {name}: {pipeline} declares no variable {name!r}",
                hint="declared: " + (", ".join(sorted(known)) or "none"),
            )
    out: dict[str, Variable] = {}
    for var in variables:
        value = given.get(var.name, var.default)
        if value is None:
            raise BadInput(f"{pipeline} needs variable {var.name}: pass --var {var.name}=VALUE")
        if var.allowed and value not in var.allowed:
            raise BadInput(
                f"--var {var.name}={value!r}: not one of the allowed values {', '.join(var.allowed)}"
            )
        out[var.name] = Variable(value)
    return out


def parse_assignments(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not NAME.match(name):
            raise BadInput(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out
