"""The terminal table: one block per scope (all services, then each service)."""

from __future__ import annotations

from pipekit.deployments.report import METRICS, DoraReport, headline
from pipekit.deployments.writers.interface import DoraWriter


class TableWriter(DoraWriter):
    name = "table"

    def render(self, report: DoraReport) -> str:
        envs = ", ".join(report.environments) or "every environment"
        lines = [f"DORA metrics for {envs}, {report.since} .. {report.until} ({report.repo})"]
        width = max(len(label) for _k, label, _a, _u in METRICS)
        for scope in report.scopes:
            lines += ["", f"== {scope.scope}"]
            for key, label, _attr, _unit in METRICS:
                lines.append(f"  {label:<{width}}  {scope.levels[key]:<6}  {headline(scope, key)}")
        lines += ["", f"levels: {report.levels_source}"]
        return "\n".join(lines) + "\n"


WRITER = TableWriter()
