"""The rehearsal's scan stage: semgrep with local rules over the sample, plus the bundled SCA report.

The real ``scan`` step gates both, as a service's pipeline does with ``pipekit scan --run semgrep``:
semgrep runs offline in the sample's checkout with the rules in :data:`RULES`
(``scan.run.semgrep.config``), and the bundled Trivy report (``scan.reports``,
:data:`pipekit.rehearsal.workspace.SCAN_REPORT`) stands in for the SCA scan, which would need the
network. Without semgrep (the base image does not ship it) the gate runs on the bundled report
alone and the stage says so; it does not fail for it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.rehearsal import workspace

if TYPE_CHECKING:
    from pipekit.rehearsal.session import Rehearsal

RULES = Path(__file__).with_name("semgrep-rules.yaml")
INSTALL_SEMGREP = "pip install semgrep, in a virtualenv of its own: it pins older click and rich than pipekit"


def scan_settings(workdir: Path) -> dict[str, Any]:
    """The rehearsal's ``scan:`` section of ``pipekit.yaml``.

    ``--jobs 1``: on two source files, semgrep's worker processes cost more than they save
    (docs/architecture.md)."""
    return {"reports": [str(workspace.SCAN_REPORT)], "sarif_out": str(workdir / "scan.sarif"),
            "run": {"semgrep": {"config": str(RULES), "args": ["--jobs", "1"]}}}


def scan_stage(r: Rehearsal) -> str:
    from pipekit import scan
    from pipekit.reports.runners.interface import find_binary

    has_semgrep = find_binary("semgrep", r.env) is not None
    if not has_semgrep:
        r.console.warn(f"scan: semgrep not found, so the local rules ({RULES.name}) do not run; "
                       f"the gate runs on the bundled report alone ({INSTALL_SEMGREP})")
    ctx = r.context()
    options = scan.options_from(ctx, {"run_tools": ["semgrep"]} if has_semgrep else {})
    run_dir = r.workdir / "scan"  # the scanners' own reports; nothing is written where the rehearsal runs
    options = dataclasses.replace(options, run_dir=str(run_dir), run_cwd=str(r.repo))
    result = scan.run(options, ctx)
    s = result.summary
    ran = [f"semgrep ({rule_count()} local rules): {_findings(rep)}" for rep in result.reports
           if Path(rep["path"]).parent == run_dir]
    bundled = [f"{rep['format']} (bundled report): {_findings(rep)}" for rep in result.reports
               if Path(rep["path"]).parent != run_dir]
    missing = [] if has_semgrep else ["semgrep not found, its local rules did not run"]
    return (f"gate passed: {s['critical']} critical, {s['high']} high, {s['medium']} medium, {s['low']} low; "
            + "; ".join([", ".join(ran + bundled), *missing]))


def rule_count() -> int:
    from pipekit.core import yamlload

    doc = yamlload.load(RULES.read_text(encoding="utf-8"), str(RULES))
    return len(doc.get("rules") or []) if isinstance(doc, dict) else 0


def _findings(report: dict[str, Any]) -> str:
    n = report["findings"]
    return f"{n} finding" + ("" if n == 1 else "s")
