"""The report as CSV: one row per scope and ISO week (the trend), plus a ``total`` row per scope."""

from __future__ import annotations

import csv
import io

from pipekit.deployments.report import DoraReport
from pipekit.deployments.writers.interface import DoraWriter

COLUMNS = (
    "scope",
    "week",
    "deployments",
    "deployment_days",
    "lead_time_median_s",
    "lead_time_p90_s",
    "change_fail_rate",
    "recovery_median_s",
    "rework_rate",
    "deployment_frequency_level",
    "lead_time_level",
    "change_fail_rate_level",
    "recovery_time_level",
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _text(value: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula (``=``, ``+``, ``-``,
    ``@``, a tab or carriage return; a service name from the GitOps history is outside text) gets a
    leading ``'``, the escape spreadsheets understand (OWASP, "CSV Injection")."""
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


class CsvWriter(DoraWriter):
    name = "csv"
    media_type = "text/csv"

    def render(self, report: DoraReport) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for m in report.scopes:
            w.writerow(
                [
                    _text(m.scope),
                    "total",
                    m.deployments,
                    m.deployment_days,
                    _num(m.lead_time_median_s),
                    _num(m.lead_time_p90_s),
                    _num(m.change_fail_rate),
                    _num(m.recovery_median_s),
                    _num(m.rework_rate),
                    m.levels["deployment_frequency"],
                    m.levels["lead_time"],
                    m.levels["change_fail_rate"],
                    m.levels["recovery_time"],
                ]
            )
            for wk in m.weeks:
                w.writerow(
                    [
                        _text(m.scope),
                        wk.week,
                        wk.deployments,
                        wk.deployment_days,
                        _num(wk.lead_time_median_s),
                        "",
                        _num(wk.change_fail_rate),
                        _num(wk.recovery_median_s),
                        _num(wk.rework_rate),
                        "",
                        "",
                        "",
                        "",
                    ]
                )
        return out.getvalue()


WRITER = CsvWriter()
