"""pipekit's own lint of a ``bitbucket-pipelines.yml``: what Atlassian's schema lets through.

A step without a script, an undefined YAML anchor, a ``pipekit`` command or flag that does not
exist (read from ``pipekit.cli.STEPS`` and each command's click parameters), and a deployment
environment used twice in one pipeline. Then what Bitbucket does at run time (:func:`platform`):
each step is a fresh container with a docker service of its own, and pulls an ECR image with
the OIDC role only when the step has ``oidc: true``.
"""

from __future__ import annotations

import importlib
import re
import shlex
from collections.abc import Iterator
from functools import cache
from typing import Any

_SEPARATORS = {"&&", "||", ";", "|"}


def load(text: str, name: str) -> tuple[Any, list[str]]:
    """The document (aliases resolved) and the problems found while reading it."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster than the pure-Python parser
    try:
        return yaml.load(text, Loader=loader), []  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = str(exc.problem or exc.context)
        if "undefined alias" in problem and mark is not None:
            found = re.match(r"\*([^\s,\]\}]+)", text[mark.index :])  # libyaml does not name the alias
            alias = found.group(1) if found else "?"
            problem = f"found undefined alias '{alias}': no anchor &{alias} defined before it"
        return None, [f"{where}: {problem}"]


def lint(doc: Any, name: str) -> list[str]:
    problems: list[str] = []
    if not isinstance(doc, dict):
        return [f"{name}: the document must be a mapping"]
    seen_steps: set[int] = set()
    for where, step in steps(doc, ""):
        if id(step) in seen_steps:  # an alias (*build) of a step already looked at
            continue
        seen_steps.add(id(step))
        script = step.get("script") if isinstance(step, dict) else None
        label = f"{name}: {where}" + (
            f" ({step.get('name')})" if isinstance(step, dict) and step.get("name") else ""
        )
        if not isinstance(script, list) or not script:
            problems.append(f"{label}: step without a script")
            continue
        for key in ("script", "after-script"):
            for line in step.get(key) or []:
                if isinstance(line, str):
                    problems += [f"{label}: {p}" for p in check_command_line(line)]
        problems += [f"{label}: {p}" for p in platform(step, doc.get("image"))]
    pipelines = doc.get("pipelines")
    for where, listed in _pipelines(pipelines if isinstance(pipelines, dict) else {}):
        seen: dict[str, str] = {}
        for step_where, step in listed:
            env = step.get("deployment") if isinstance(step, dict) else None
            if not env:
                continue
            if env in seen:
                problems.append(
                    f"{name}: {where}: deployment environment {env!r} used twice "
                    f"({seen[env]} and {step_where}); Bitbucket allows one step per environment"
                )
            else:
                seen[env] = step_where
    return problems


def platform(step: dict[str, Any], image: Any) -> list[str]:
    """What fails when Bitbucket runs ``step``: an image it cannot pull, an image it cannot push."""
    problems = []
    own = step.get("image")
    pulled = own if own is not None else image
    role = (
        (pulled.get("aws") or {}).get("oidc-role")
        if isinstance(pulled, dict) and isinstance(pulled.get("aws"), dict)
        else None
    )
    if role and step.get("oidc") is not True:
        problems.append(
            f"no 'oidc: true': Bitbucket pulls the image with aws.oidc-role {role} only for a step "
            "with OIDC enabled"
        )
    built = uses_docker = False
    for argv in commands(step.get("script") or []):
        if argv[:2] == ["pipekit", "build"] and "--no-image" not in argv:
            built = uses_docker = True
        elif argv[:2] == ["docker", "build"] or argv[:3] == ["docker", "buildx", "build"]:
            built = uses_docker = True
        elif argv[:2] == ["pipekit", "ecr-push"] and not any(a.startswith("--retag-from") for a in argv):
            uses_docker = True
            if not built:
                problems.append(
                    "'pipekit ecr-push' finds no image: it pushes the image built earlier in the "
                    "same step (each step has its own docker service, and another step's images go "
                    "with it); build and push in one step"
                )
        elif argv[:1] == ["docker"]:
            uses_docker = True
    services = step.get("services") or []
    if uses_docker and "docker" not in services:
        problems.append("builds or pushes an image without 'services: [docker]'")
    if "docker" in (step.get("caches") or []) and not built:
        problems.append(
            "'caches: docker' on a step that builds no image does nothing (it only slows the step)"
        )
    return problems


def commands(lines: list[Any]) -> Iterator[list[str]]:
    """Each command of a step's script lines (split at ``&&``, ``||``, ``;``, ``|``), as words."""
    for line in lines:
        if not isinstance(line, str):
            continue
        try:
            tokens = shlex.split(line, posix=True)
        except ValueError:
            continue
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token in _SEPARATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(token)


def steps(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every ``step:`` value in the document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "step":
                yield path, value
            else:
                yield from steps(value, path)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from steps(item, f"{where}[{i}]")


def _pipelines(pipelines: dict[str, Any]) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    for kind, value in pipelines.items():
        if kind == "default":
            yield "pipelines.default", list(steps(value, "pipelines.default"))
        elif isinstance(value, dict):
            for pattern, items in value.items():
                where = f"pipelines.{kind}.{pattern}"
                yield where, list(steps(items, where))


def check_command_line(line: str) -> list[str]:
    """Problems with the ``pipekit`` commands in one script line."""
    try:
        tokens = shlex.split(line, posix=True)
    except ValueError:
        return []  # shell we do not parse (here-docs, odd quoting): Bitbucket's shell decides
    problems = []
    command: list[str] = []
    for token in [*tokens, ";"]:
        if token in _SEPARATORS:
            if command and command[0] == "pipekit":
                problems += _check_pipekit(command)
            command = []
        else:
            command.append(token)
    return problems


def _check_pipekit(argv: list[str]) -> list[str]:
    from pipekit.cli import STEPS

    if len(argv) < 2 or argv[1].startswith("-"):
        return []
    name = argv[1]
    if name not in STEPS:
        return [f"'pipekit {name}': no such command (commands: {', '.join(STEPS)})"]
    sub = argv[2] if len(argv) > 2 and not argv[2].startswith("-") else None
    known = flags_of(name, sub)
    problems = []
    for token in argv[3 if sub else 2 :]:
        if token == "--":
            break
        if token.startswith("--"):
            flag = token.split("=", 1)[0]
            if flag not in known:
                problems.append(f"'pipekit {name}{' ' + sub if sub else ''} {flag}': no such flag")
    return problems


@cache
def flags_of(name: str, sub: str | None = None) -> frozenset[str]:
    """The flags of ``pipekit NAME`` (of its subcommand ``sub`` when the step has subcommands)."""
    import click

    from pipekit.cli import STEPS

    command = importlib.import_module(STEPS[name][0]).main
    if isinstance(command, click.Group) and sub is not None:
        command = command.commands.get(sub, command)
    found = {"--help"}
    for param in command.params:
        found.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return frozenset(found)
