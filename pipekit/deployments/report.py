"""The DORA report: what every writer renders (one overall scope and one per service)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pipekit.deployments.dora import Metrics

METRICS = (  # (key in Metrics.levels, label, the Metrics attribute of its headline value, unit)
    ("deployment_frequency", "Deployment frequency", "deployments_per_week", "per week"),
    ("lead_time", "Change lead time (median)", "lead_time_median_s", "duration"),
    ("change_fail_rate", "Change fail rate", "change_fail_rate", "ratio"),
    ("recovery_time", "Failed deployment recovery time (median)", "recovery_median_s", "duration"),
    ("rework_rate", "Deployment rework rate", "rework_rate", "ratio"),
)


@dataclass
class DoraReport:
    repo: str
    since: str
    until: str
    environments: list[str]
    overall: Metrics
    services: list[Metrics] = field(default_factory=list)
    levels_source: str = ""
    incidents: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def scopes(self) -> list[Metrics]:
        return [self.overall, *self.services]


def duration(seconds: float | None) -> str:
    """``3d 4h``, ``2h 5m``, ``40m``, ``12s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def headline(metrics: Metrics, key: str) -> str:
    """The value shown for one metric in a table cell."""
    if key == "deployment_frequency":
        return (
            f"{metrics.deployments} deploys, {metrics.deployment_days} days "
            f"({metrics.deployments_per_week:.1f}/week, {metrics.deployment_days_per_week:.1f} days/week)"
        )
    if key == "lead_time":
        return f"{duration(metrics.lead_time_median_s)} (p90 {duration(metrics.lead_time_p90_s)})"
    if key == "change_fail_rate":
        return f"{ratio(metrics.change_fail_rate)} ({metrics.failed_deployments}/{metrics.deployments})"
    if key == "recovery_time":
        return f"{duration(metrics.recovery_median_s)} ({metrics.recoveries} recoveries)"
    return f"{ratio(metrics.rework_rate)} ({metrics.rework_deployments}/{metrics.deployments})"
