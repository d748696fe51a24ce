"""Environments in promotion order and the rules that allow a promotion.

``environments:`` in pipekit.yaml lists the environments in order; each may set ``promotion``
(``auto`` | ``gated`` | ``manual``), ``gates``, ``from`` (default: the environment listed
before it), ``allow_skip`` and ``overlay``. Without that section the chain is
dev -> qa -> preprod -> prod, all ``auto`` except prod, which is ``manual``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipekit.core.errors import BadInput, CheckFailed

DEFAULT_CHAIN = ("dev", "qa", "preprod", "prod")


@dataclass
class Environment:
    name: str
    promotion: str = "auto"
    gates: list[str] = field(default_factory=list)
    source: str | None = None  # promoted from
    allow_skip: bool = False


def load(section: dict[str, Any]) -> dict[str, Environment]:
    if not section:
        envs = {
            name: Environment(name, "manual" if name == "prod" else "auto", source="\0")
            for name in DEFAULT_CHAIN
        }
    else:
        envs = {}
        for name, raw in section.items():
            raw = raw or {}
            envs[name] = Environment(
                name,
                str(raw.get("promotion", "auto")),
                list(raw.get("gates") or []),
                raw.get("from", "\0"),
                bool(raw.get("allow_skip", False)),
            )
    names = list(envs)
    for i, env in enumerate(envs.values()):
        if env.source == "\0":
            env.source = names[i - 1] if i else None
        if env.source is not None and env.source not in envs:
            raise BadInput(f"environments.{env.name}.from: unknown environment {env.source!r}")
    return envs


def ancestors(envs: dict[str, Environment], name: str) -> list[str]:
    """The chain behind ``name``, nearest first (dev -> qa -> preprod: ancestors of preprod = [qa, dev])."""
    out: list[str] = []
    current = envs[name].source
    while current is not None and current not in out and current != name:
        out.append(current)
        current = envs[current].source
    return out


@dataclass
class Decision:
    rule: str
    gates: list[str] = field(default_factory=list)


def decide(
    envs: dict[str, Environment],
    source: str,
    target: str,
    *,
    approve: bool,
    in_bitbucket: bool,
    deployment_env: str | None,
) -> Decision:
    """Apply the chain and the target's promotion rule; a refusal is CheckFailed naming the rule."""
    for name in (source, target):
        if name not in envs:
            raise BadInput(f"unknown environment {name!r} (known: {', '.join(envs)})")
    if source == target:
        raise BadInput(f"--from and --to are both {source!r}")
    env = envs[target]
    what = f"promotion {source} -> {target}"
    chain = ancestors(envs, target)
    if env.source != source:
        if source not in chain:
            raise CheckFailed(
                f"{what} refused by the chain rule: {target} is promoted from "
                f"{env.source or 'nowhere'}, and {source} is not before it"
            )
        if not env.allow_skip:
            raise CheckFailed(
                f"{what} refused by the chain rule: {target} is promoted from {env.source}; "
                f"skipping {', '.join(reversed(chain[: chain.index(source)]))} is not allowed",
                hint=f"set environments.{target}.allow_skip: true to allow it",
            )
    if env.promotion == "manual":
        if not approve:
            raise CheckFailed(f"{what} refused by rule 'manual': {target} needs --approve")
        if in_bitbucket and deployment_env != target:
            raise CheckFailed(
                f"{what} refused by rule 'manual': run it in a Bitbucket deployment step for "
                f"{target!r} (BITBUCKET_DEPLOYMENT_ENVIRONMENT is {deployment_env or 'unset'})"
            )
    elif env.promotion == "gated":
        return Decision("gated", list(env.gates))
    elif env.promotion != "auto":
        raise BadInput(f"environments.{target}.promotion: {env.promotion!r} is not auto, gated or manual")
    return Decision(env.promotion)
