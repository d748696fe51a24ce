"""Promotion gates: small hooks that decide whether a promotion into a ``gated`` environment may go.

A gate is a function ``evaluate(request: GateRequest, ctx: StepContext) -> GateResult``. Gates
are named in ``environments.<env>.gates``: a built-in name (``jira`` -> :func:`pipekit.jira.release.evaluate`)
or ``package.module:function`` for your own. A gate that cannot be loaded or evaluated is
*unavailable*, and an unavailable gate refuses the promotion: nothing is promoted on a gate
nobody could check.

The built-in ``jira`` gate (also ``pipekit.jira_gate:evaluate``): it checks the Jira version of
the promoted images' tags (or ``PIPEKIT_JIRA_VERSION``) and raises :class:`GateUnavailable`
when Jira cannot be asked (no URL, no credentials, unreachable). The built-in ``signature`` gate
(:func:`pipekit.promotion.signature.evaluate`) checks each promoted digest's cosign signature. A gate of your own has the same
shape: ``def evaluate(request: GateRequest, ctx: StepContext) -> GateResult``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipekit.core.errors import CheckFailed

if TYPE_CHECKING:
    from pipekit.core.step import StepContext

BUILTIN: dict[str, str] = {"jira": "pipekit.jira.release:evaluate", "signature": "pipekit.promotion.signature:evaluate"}


@dataclass
class GateRequest:
    """What is being promoted: environments, services and their image references."""

    source: str
    target: str
    images: dict[str, str] = field(default_factory=dict)  # service -> image reference


@dataclass
class GateResult:
    passed: bool
    reason: str = ""
    details: dict[str, str] = field(default_factory=dict)


class GateUnavailable(Exception):
    """The gate cannot be evaluated (not installed, not configured, its system unreachable)."""


Gate = Callable[["GateRequest", "StepContext"], GateResult]


def load(name: str) -> Gate:
    target = BUILTIN.get(name, name)
    if ":" not in target:
        raise GateUnavailable(f"unknown gate {name!r} (built-in gates: {', '.join(sorted(BUILTIN))}; "
                              "or name a hook as package.module:function)")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise GateUnavailable(f"gate {name!r} is not available: module {module_name} is not installed") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise GateUnavailable(f"gate {name!r} is not available: {module_name} has no function {attr}")
    gate: Gate = fn
    return gate


def check(names: Sequence[str], request: GateRequest, ctx: StepContext) -> list[tuple[str, GateResult]]:
    """Evaluate every gate; the first unavailable or failing gate refuses (CheckFailed, exit 1)."""
    rule = f"promotion {request.source} -> {request.target}"
    if not names:
        raise CheckFailed(f"{rule} refused by rule 'gated': environments.{request.target}.gates lists no gate")
    results: list[tuple[str, GateResult]] = []
    for name in names:
        try:
            result = load(name)(request, ctx)
        except GateUnavailable as exc:
            raise CheckFailed(f"{rule} refused by rule 'gated': {exc}") from None
        if not result.passed:
            raise CheckFailed(f"{rule} refused by gate {name!r}: {result.reason or 'did not pass'}")
        results.append((name, result))
    return results
