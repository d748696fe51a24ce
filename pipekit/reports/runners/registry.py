"""``pipekit scan --run TOOL``: the scanner runners by name, and the one way to run them.

A new scanner is one module beside this one (a :class:`~.interface.Runner`) and one line in
:data:`RUNNERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipekit.core import process
from pipekit.core.errors import BadInput, ExternalError, TimedOut
from pipekit.core.registry import Registry
from pipekit.reports.runners.interface import Planned, Run, Runner

DEFAULT_TIMEOUT_S = 1800

RUNNERS: Registry[Runner] = Registry(
    {
        "bandit": "pipekit.reports.runners.bandit:RUNNER",
        "grype": "pipekit.reports.runners.grype:RUNNER",
        "semgrep": "pipekit.reports.runners.semgrep:RUNNER",
        "srcclr": "pipekit.reports.runners.srcclr:RUNNER",
        "trivy": "pipekit.reports.runners.trivy:RUNNER",
        "veracode": "pipekit.reports.runners.veracode:RUNNER",
    }
)
TOOLS = tuple(sorted(RUNNERS))


def plan(tool: str, cfg: Mapping[str, Any], out_dir: Path, env: Mapping[str, str]) -> Run:
    """The command for ``tool`` with its settings from ``scan.run.<tool>``."""
    runner = RUNNERS.find(tool)
    if runner is None:
        raise BadInput(f"--run {tool!r} is not known; use one of: {', '.join(TOOLS)}")
    return runner.plan(
        Planned(
            cfg,
            str(cfg.get("target") or "."),
            [str(a) for a in cfg.get("args") or []],
            out_dir / f"{tool}-report.json",
            env,
        )
    )


def execute(
    run: Run, env: Mapping[str, str], *, timeout_s: float = DEFAULT_TIMEOUT_S, cwd: str | Path | None = None
) -> Path:
    """Run it; the report path when its exit code means "scanned", else a clear error."""
    run.report.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = process.run(
            run.argv,
            env={**env, **run.env},
            cwd=cwd,
            timeout=timeout_s,
            check=False,
            what=f"--run {run.tool}",
        )
    except TimedOut:
        raise TimedOut(f"--run {run.tool}: no result after {timeout_s:.0f} s") from None
    if run.stdout_is_report:
        run.report.write_text(proc.stdout, encoding="utf-8")
    if not run.ok(proc.returncode):
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:300]
        raise ExternalError(f"--run {run.tool}: exited {proc.returncode}: {last}")
    if not run.report.is_file() or run.report.stat().st_size == 0:
        raise ExternalError(f"--run {run.tool}: exited {proc.returncode} but wrote no report at {run.report}")
    return run.report
