"""The report in the Prometheus text exposition format (0.0.4), for a Pushgateway or a textfile.

Every value is a gauge over the report's range, labelled ``service`` (``all`` for every service
together) and ``environment``. ``docs/alerts/dora.rules.yml`` alerts on these names.
"""

from __future__ import annotations

from collections.abc import Callable

from pipekit.deployments.dora import Metrics
from pipekit.deployments.report import DoraReport
from pipekit.deployments.writers.interface import DoraWriter

LEVELS = {"elite": 4, "high": 3, "medium": 2, "low": 1}
# (name, help, value of a scope; None leaves the sample out)
GAUGES: list[tuple[str, str, Callable[[Metrics], float | None]]] = [
    ("pipekit_dora_deployments", "Deployments in the range.", lambda m: m.deployments),
    (
        "pipekit_dora_deployment_dates",
        "Deployment days: distinct dates (UTC) with at least one deployment in the range "
        "(promtool reserves _days).",
        lambda m: m.deployment_days,
    ),
    (
        "pipekit_dora_deployments_per_day",
        "Deployments per day over the range.",
        lambda m: m.deployments_per_day,
    ),
    (
        "pipekit_dora_deployment_dates_per_week",
        "Deployment days per week over the range.",
        lambda m: m.deployment_days_per_week,
    ),
    (
        "pipekit_dora_lead_time_median_seconds",
        "Median change lead time (source commit to deployment).",
        lambda m: m.lead_time_median_s,
    ),
    ("pipekit_dora_lead_time_p90_seconds", "90th percentile change lead time.", lambda m: m.lead_time_p90_s),
    (
        "pipekit_dora_failed_deployments",
        "Deployments that needed intervention (rollback, revert, incident).",
        lambda m: m.failed_deployments,
    ),
    (
        "pipekit_dora_change_fail_rate",
        "Failed deployments / deployments (0..1).",
        lambda m: m.change_fail_rate,
    ),
    (
        "pipekit_dora_recovery_time_median_seconds",
        "Median failed deployment recovery time.",
        lambda m: m.recovery_median_s,
    ),
    (
        "pipekit_dora_rework_rate",
        "Unplanned deployments made because of an incident / deployments (0..1).",
        lambda m: m.rework_rate,
    ),
    (
        "pipekit_dora_last_deployment_timestamp_seconds",
        "When the latest deployment in the range was made.",
        lambda m: m.last_deployment_at,
    ),
    (
        "pipekit_dora_oldest_unrecovered_failure_timestamp_seconds",
        "When the oldest incident still open (a failure not recovered) was opened.",
        lambda m: m.oldest_unrecovered_at,
    ),
]


def label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class PrometheusWriter(DoraWriter):
    name = "prometheus"
    media_type = "text/plain; version=0.0.4; charset=utf-8"

    def render(self, report: DoraReport) -> str:
        env = label(",".join(report.environments) or "all")
        lines: list[str] = []
        for name, help_, value in GAUGES:
            samples = [(m.scope, value(m)) for m in report.scopes]
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
            lines += [
                f'{name}{{service="{label(s)}",environment="{env}"}} {number(v)}'
                for s, v in samples
                if v is not None
            ]
        name = "pipekit_dora_performance_level"
        lines += [
            f"# HELP {name} 2024 DORA cluster of each metric: 4 elite, 3 high, 2 medium, 1 low.",
            f"# TYPE {name} gauge",
        ]
        for m in report.scopes:
            for metric, level in m.levels.items():
                if level in LEVELS:
                    lines.append(
                        f'{name}{{service="{label(m.scope)}",environment="{env}",metric="{metric}"}} '
                        f"{LEVELS[level]}"
                    )
        return "\n".join(lines) + "\n"


WRITER = PrometheusWriter()
