"""A self-contained HTML report: inline CSS and SVG only (no script, no network fetch), with
weekly trend charts per metric, for every service together and for each service."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from pipekit.deployments.dora import Metrics, Week
from pipekit.deployments.report import METRICS, DoraReport, duration, headline, ratio
from pipekit.deployments.writers.interface import DoraWriter
from pipekit.deployments.writers.svg import bars

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}\
td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
.level{font-weight:600;border-radius:3px;padding:1px 6px}.elite{background:#d4f4dd}.high{background:#e3f0ff}
.medium{background:#fff4cc}.low{background:#fde2e1}.n-a{background:#eee}
.charts{display:flex;flex-wrap:wrap;gap:12px}.muted{color:#666;font-size:12px}
"""
# (title, value of one week, formatter)
TRENDS: list[tuple[str, Callable[[Week], float | None], Callable[[float | None], str]]] = [
    ("Deployments per week", lambda w: float(w.deployments), lambda v: f"{v:.0f}" if v is not None else "-"),
    (
        "Deployment days per week",
        lambda w: float(w.deployment_days),
        lambda v: f"{v:.0f}" if v is not None else "-",
    ),
    ("Change lead time (median)", lambda w: w.lead_time_median_s, duration),
    ("Change fail rate", lambda w: w.change_fail_rate, ratio),
    ("Recovery time (median)", lambda w: w.recovery_median_s, duration),
    ("Rework rate", lambda w: w.rework_rate, ratio),
]


def _level(level: str) -> str:
    return f'<span class="level {escape(level.replace("/", "-"))}">{escape(level)}</span>'


def _summary(m: Metrics) -> str:
    rows = "".join(
        f"<tr><th>{escape(label)}</th><td>{_level(m.levels[key])}</td>"
        f"<td>{escape(headline(m, key))}</td></tr>"
        for key, label, _a, _u in METRICS
    )
    return f"<table>{rows}</table>"


def _charts(m: Metrics, width: int) -> str:
    charts = [
        bars([(w.week, value(w)) for w in m.weeks], title=f"{title}: {m.scope}", fmt=fmt, width=width)
        for title, value, fmt in TRENDS
    ]
    return '<div class="charts">' + "".join(charts) + "</div>"


class HtmlWriter(DoraWriter):
    name = "html"
    media_type = "text/html"

    def render(self, report: DoraReport) -> str:
        envs = ", ".join(report.environments) or "every environment"
        title = f"DORA metrics: {envs}, {report.since} .. {report.until}"
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="muted">GitOps repository {escape(report.repo)}; {report.incidents} incidents read. '
            f"Levels: {escape(report.levels_source)}.</p>",
            "<h2>All services</h2>",
            _summary(report.overall),
            _charts(report.overall, 320),
        ]
        for m in report.services:
            parts += [
                f'<h2 id="service-{escape(m.scope)}">{escape(m.scope)}</h2>',
                _summary(m),
                _charts(m, 240),
            ]
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


WRITER = HtmlWriter()
