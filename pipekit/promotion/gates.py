"""Promotion gates: small hooks that decide whether a promotion into a ``gated`` environment may go.

A gate is a function ``evaluate(request: GateRequest, ctx: StepContext) -> GateResult``. Gates
are named in ``environments.<env>.gates``: a built-in name (``jira`` ->
:func:`pipekit.jira.release.evaluate`), ``package.module:function`` of an *installed* module (site-packages,
``PYTHONPATH``; never the working directory, under ``python -m pipekit`` as under the ``pipekit`` script), or
``path/to/gate.py:function``, a file the config names explicitly (relative to pipekit.yaml's
folder). A config naming a gate is code that runs in the pipeline: review it like code. A gate
that cannot be loaded or evaluated is *unavailable*, and an unavailable gate refuses the
promotion (exit 1): nothing is promoted on a gate nobody could check; a gate that raises is
unavailable too.

The built-in ``jira`` gate (also ``pipekit.jira_gate:evaluate``): it checks the Jira version of
the promoted images' tags (or ``PIPEKIT_JIRA_VERSION``) and raises :class:`GateUnavailable`
when Jira cannot be asked (no URL, no credentials, unreachable). The built-in ``signature`` gate
(:func:`pipekit.promotion.signature.evaluate`) checks each promoted digest's cosign signature. A gate of your
own has the same shape: ``def evaluate(request: GateRequest, ctx: StepContext) -> GateResult``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipekit.core.errors import CheckFailed

if TYPE_CHECKING:
    from pipekit.core.step import StepContext

BUILTIN: dict[str, str] = {
    "jira": "pipekit.jira.release:evaluate",
    "signature": "pipekit.promotion.signature:evaluate",
}


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


def load(name: str, base: Path | None = None) -> Gate:
    """The gate ``name``: built-in, an installed module's function, or a ``.py`` file's
    (relative to ``base``)."""
    target = BUILTIN.get(name, name)
    if ":" not in target:
        raise GateUnavailable(
            f"unknown gate {name!r} (built-in gates: {', '.join(sorted(BUILTIN))}; "
            "or name a hook as package.module:function or path/to/gate.py:function)"
        )
    module_name, _, attr = target.rpartition(":")
    module = (
        _from_file(name, module_name, base) if module_name.endswith(".py") else _installed(name, module_name)
    )
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise GateUnavailable(f"gate {name!r} is not available: {module_name} has no function {attr}")
    gate: Gate = fn
    return gate


def _installed(name: str, module_name: str) -> object:
    """Import ``module_name`` from the installed modules only: the working directory is not searched."""
    here = {"", ".", os.getcwd()}
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p not in here and os.path.abspath(p) != os.getcwd()]
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise GateUnavailable(
            f"gate {name!r} is not available: module {module_name} is not installed "
            "(a file of your own: name it as path/to/gate.py:function)"
        ) from None
    finally:
        sys.path[:] = saved


def _from_file(name: str, path: str, base: Path | None) -> object:
    import importlib.util

    file = Path(path) if Path(path).is_absolute() else (base or Path.cwd()) / path
    spec = importlib.util.spec_from_file_location(f"pipekit_gate_{file.stem}", file)
    if spec is None or spec.loader is None or not file.is_file():
        raise GateUnavailable(f"gate {name!r} is not available: no file {file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(names: Sequence[str], request: GateRequest, ctx: StepContext) -> list[tuple[str, GateResult]]:
    """Evaluate every gate; the first unavailable or failing gate refuses (CheckFailed, exit 1)."""
    rule = f"promotion {request.source} -> {request.target}"
    if not names:
        raise CheckFailed(
            f"{rule} refused by rule 'gated': environments.{request.target}.gates lists no gate"
        )
    results: list[tuple[str, GateResult]] = []
    config = getattr(getattr(ctx, "config", None), "path", None)
    base = Path(config).parent if config else None
    for name in names:
        try:
            result = load(name, base)(request, ctx)
        except GateUnavailable as exc:
            raise CheckFailed(f"{rule} refused by rule 'gated': {exc}") from None
        except Exception as exc:  # a gate that raises refuses the promotion, as documented
            raise CheckFailed(
                f"{rule} refused by rule 'gated': gate {name!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(result, GateResult):
            raise CheckFailed(
                f"{rule} refused by rule 'gated': gate {name!r} returned {type(result).__name__}, "
                "not a GateResult"
            )
        if not result.passed:
            raise CheckFailed(f"{rule} refused by gate {name!r}: {result.reason or 'did not pass'}")
        results.append((name, result))
    return results
