"""The registry of check kinds, and running the chosen checks in parallel."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from pipekit.core.errors import BadInput, PipekitError
from pipekit.core.registry import Registry
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail

# kind -> checks(plan); the order is the order of the report
KINDS: Registry[Callable[[DoctorPlan], list[Check]]] = Registry(
    {
        "tools": "pipekit.diagnostics.tool_checks:checks",
        "python": "pipekit.diagnostics.python_deps:checks",
        "pipeline": "pipekit.diagnostics.pipeline:checks",
        "argocd": "pipekit.diagnostics.argocd:checks",
        "gitops": "pipekit.diagnostics.gitops:checks",
        "aws": "pipekit.diagnostics.aws:checks",
        "jira": "pipekit.diagnostics.jira:checks",
        "webhooks": "pipekit.diagnostics.webhooks:checks",
        "signing": "pipekit.diagnostics.signing:checks",
    }
)
MAX_WORKERS = 8


def collect(plan: DoctorPlan) -> list[Check]:
    """Every check the plan calls for (a manifest naming an unknown tool is BadInput)."""
    return [check for build in KINDS.all().values() for check in build(plan)]


def select(checks: Sequence[Check], wanted: Iterable[str]) -> list[Check]:
    """Keep the checks named by ``--check`` (a check name such as tool:kubectl, or a kind such as tools)."""
    names = list(wanted)
    if not names:
        return list(checks)
    known = {c.name for c in checks} | {c.kind for c in checks}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadInput(
            f"--check {unknown[0]}: no such check here (pipekit doctor --list-checks shows them: "
            f"{', '.join(sorted(known))})"
        )
    return [c for c in checks if c.name in names or c.kind in names]


def run_all(checks: Sequence[Check]) -> list[tuple[Check, CheckOutcome]]:
    if not checks:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(checks))) as pool:
        outcomes = list(pool.map(_run_one, checks))
    return list(zip(checks, outcomes, strict=True))


def _run_one(check: Check) -> CheckOutcome:
    started = time.monotonic()
    try:
        outcome = check.run()
    except PipekitError as exc:
        outcome = fail(str(exc), "see the message")
    except Exception as exc:  # a check that crashed is reported, the others still run
        outcome = fail(f"the check itself failed: {type(exc).__name__}: {exc}", "a pipekit bug: report it")
    outcome.details["elapsed_s"] = round(time.monotonic() - started, 3)
    return outcome
