"""The five DORA metrics over a stream of deployments (oldest first) and a list of incidents.

Definitions (dora.dev, "DORA's software delivery metrics"), as pipekit measures them from the
GitOps history:

- Deployment frequency: deployments to the environment, and deployment days (days with at
  least one), per day, week and month of the range.
- Change lead time: deployment time minus the source commit's time (``Pipekit-Source-Committed-At``,
  which promotions carry forward); median and p90. With the service repositories, one per commit
  the deployment brings (the same source-commit walk as ``pipekit diff``), each counted once.
- Change fail rate: deployments that needed intervention / deployments. A deployment failed when
  it was rolled back (``Pipekit-Rollback-Of``, or the next deploy went back to an older image),
  reverted (``This reverts commit``), or an incident names it (cause commit or image) or, without a
  cause, it was the environment's latest deployment when the incident opened.
- Failed deployment recovery time: incident opened -> resolved; for a rolled-back or reverted
  deployment, the failed deployment -> the rollback that replaced it. Median.
- Deployment rework rate: unplanned deployments made because of an incident / deployments. A
  deployment is rework when it is a rollback or revert, or lands while an incident on that service
  and environment is open.

Memory: one small state object per deployment seen (for ``Rollback-Of`` look-ups) and one cell
per (service, ISO week) that had a deployment; the deployments themselves are not kept. Empty
weeks and months are counted, not listed: the work follows the deployments found, not the span of
the calendar (``--since 1900-01-01 --until 9000-12-31`` costs what its deployments cost). The
weekly trend lists every week of a range of up to :data:`DENSE_WEEKS` weeks, and only the weeks
with deployments beyond that.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pipekit.deployments import levels
from pipekit.deployments.model import Deployment, Incident

ALL = "all"
DENSE_WEEKS = 530  # about ten years: a trend that lists every week, empty ones too


@dataclass
class Cell:
    """What one service did in one ISO week (Monday)."""

    deployments: int = 0
    days: set[date] = field(default_factory=set)
    lead: list[float] = field(default_factory=list)
    failed: int = 0
    rework: int = 0
    recovery: list[float] = field(default_factory=list)
    last: float = 0.0  # the latest deployment's time (epoch seconds)

    def merge(self, other: Cell) -> None:
        self.last = max(self.last, other.last)
        self.deployments += other.deployments
        self.days |= other.days
        self.lead += other.lead
        self.failed += other.failed
        self.rework += other.rework
        self.recovery += other.recovery


@dataclass(slots=True)
class _State:
    at: datetime
    cell: Cell | None  # None: outside the range (still tracked for later rollbacks)
    version: str
    failed: bool = False


@dataclass
class Week:
    week: str  # the Monday, ISO date
    deployments: int
    deployment_days: int
    lead_time_median_s: float | None
    change_fail_rate: float | None
    recovery_median_s: float | None
    rework_rate: float | None


@dataclass
class Metrics:
    scope: str  # "all" or a service
    deployments: int
    deployment_days: int
    deployments_per_day: float
    deployments_per_week: float
    deployments_per_month: float
    deployment_days_per_week: float
    deployment_days_per_month: float
    median_deployment_days_per_week: float
    lead_time_median_s: float | None
    lead_time_p90_s: float | None
    lead_time_samples: int
    failed_deployments: int
    change_fail_rate: float | None
    recoveries: int
    recovery_median_s: float | None
    rework_deployments: int
    rework_rate: float | None
    last_deployment_at: float | None  # epoch seconds
    oldest_unrecovered_at: float | None  # the earliest still-open incident's start (epoch seconds)
    levels: dict[str, str]
    weeks: list[Week]


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def weeks_between(since: date, until: date) -> int:
    """How many ISO weeks (Mondays from ``since``'s Monday) start before ``until``."""
    first = monday(since)
    return max(0, -(-(until - first).days // 7))


def months_between(since: date, until: date) -> int:
    """How many calendar months the days ``since`` .. ``until`` (excluded) touch."""
    if until <= since:
        return 0
    last = until - timedelta(days=1)
    return (last.year * 12 + last.month) - (since.year * 12 + since.month) + 1


def median_with_zeros(values: Sequence[float], zeros: int) -> float:
    """``statistics.median(values + [0] * zeros)`` without building the zeros (values are >= 0)."""
    ordered = sorted(values)
    n = len(ordered) + zeros

    def at(i: int) -> float:
        return 0.0 if i < zeros else float(ordered[i - zeros])

    return at(n // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2


def p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


LeadTimes = Callable[[Deployment, "Deployment | None"], "list[float] | None"]


class Collector:
    def __init__(
        self,
        since: datetime,
        until: datetime,
        incidents: Iterable[Incident] = (),
        lead_times: LeadTimes | None = None,
    ) -> None:
        """``lead_times(deployment, the one running before)``: one lead time per change the deployment
        brings (:class:`pipekit.releases.leadtime.PerCommit`); None, or its None, falls back to
        the deployment's own source commit."""
        self.since, self.until = since, until
        self.lead_times = lead_times
        self.running: dict[tuple[str, str], Deployment] = {}
        self.cells: dict[tuple[str, date], Cell] = {}
        self.pending = sorted(incidents, key=lambda i: i.opened)
        self.open: dict[tuple[str, str], list[Incident]] = {}
        self.last: dict[tuple[str, str], _State] = {}
        self.by_commit: dict[tuple[str, str, str], _State] = {}  # (commit, service, env): a batch has several
        self.history: dict[tuple[str, str], list[tuple[str, _State]]] = {}  # only with incidents by image
        self.services: set[str] = set()
        self.unrecovered: dict[str, float] = {}  # service -> the earliest open incident's start
        self._keep_images = any(i.cause_image for i in self.pending)

    def _cell(self, service: str, at: datetime) -> Cell | None:
        if not self.since <= at < self.until:
            return None
        key = (service, monday(at.date()))
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell()
        return cell

    def add(self, dep: Deployment) -> None:
        self._incidents_before(dep.deployed_at)
        key = (dep.service, dep.environment)
        cell = self._cell(dep.service, dep.deployed_at)
        if cell is not None:
            self.services.add(dep.service)
        previous = self.last.get(key)
        if dep.rollback:  # rolled back: the failed deployment recovered with this one
            target = self._lookup(dep.rollback_of or dep.revert_of, key) or previous
            if target is not None and not target.failed:
                self._fail(target)
                if target.cell is not None:
                    target.cell.recovery.append((dep.deployed_at - target.at).total_seconds())
        state = _State(dep.deployed_at, cell, dep.version)
        self.last[key] = state
        before, self.running[key] = self.running.get(key), dep
        self.by_commit[(dep.commit, dep.service, dep.environment)] = state
        if self._keep_images:
            self.history.setdefault(key, []).append((dep.reference, state))
        if cell is None:
            return
        cell.deployments += 1
        cell.days.add(dep.deployed_at.date())
        cell.last = max(cell.last, dep.deployed_at.timestamp())
        if not dep.rollback:  # a rollback delivers no change: no lead time
            samples = self.lead_times(dep, before) if self.lead_times is not None else None
            cell.lead += (
                samples if samples is not None else ([] if dep.lead_time_s is None else [dep.lead_time_s])
            )
        active = [i for i in self.open.get(key, []) if i.resolved is None or dep.deployed_at <= i.resolved]
        self.open[key] = active
        if dep.rollback or active:
            cell.rework += 1

    def _lookup(self, commit: str | None, key: tuple[str, str]) -> _State | None:
        """The deployment ``commit`` (or a prefix of at least 7 characters) made to (service, env)."""
        if not commit:
            return None
        found = self.by_commit.get((commit, key[0], key[1]))
        if found is None and len(commit) < 40:
            found = next(
                (s for (c, *k), s in self.by_commit.items() if tuple(k) == key and c.startswith(commit)), None
            )
        return found

    def _fail(self, state: _State) -> None:
        state.failed = True
        if state.cell is not None:
            state.cell.failed += 1

    def _incidents_before(self, at: datetime | None) -> None:
        while self.pending and (at is None or self.pending[0].opened < at):
            self._incident(self.pending.pop(0))

    def _incident(self, incident: Incident) -> None:
        key = (incident.service, incident.environment)
        self.open.setdefault(key, []).append(incident)
        target = self._lookup(incident.cause_commit, key) if incident.cause_commit else None
        if incident.cause_image:
            target = next(
                (
                    s
                    for ref, s in reversed(self.history.get(key, []))
                    if incident.cause_image in (ref, s.version) or ref.endswith(incident.cause_image)
                ),
                None,
            )
        elif not incident.cause_commit:
            target = self.last.get(key)
        in_range = self.since <= incident.opened < self.until
        if in_range and incident.resolved is None:
            start = incident.opened.timestamp()
            self.unrecovered[incident.service] = min(start, self.unrecovered.get(incident.service, start))
        if target is not None and not target.failed:
            self._fail(target)
        if incident.recovery_s is not None and in_range:
            cell = (
                target.cell
                if target is not None and target.cell is not None
                else self._cell(incident.service, incident.opened)
            )
            if cell is not None:
                cell.recovery.append(incident.recovery_s)

    def finish(self) -> tuple[Metrics, list[Metrics]]:
        self._incidents_before(None)
        weeks: list[date] = []
        if weeks_between(self.since.date(), self.until.date()) <= DENSE_WEEKS:
            start = monday(self.since.date())
            while start < self.until.date():
                weeks.append(start)
                start += timedelta(days=7)
        overall = self._metrics(ALL, dict(self.cells), weeks, min(self.unrecovered.values(), default=None))
        by_service: dict[str, dict[tuple[str, date], Cell]] = {}
        for key, cell in self.cells.items():
            by_service.setdefault(key[0], {})[key] = cell
        per_service = [
            self._metrics(s, by_service.get(s, {}), weeks, self.unrecovered.get(s))
            for s in sorted(self.services)
        ]
        return overall, per_service

    def _metrics(
        self, scope: str, cells: dict[tuple[str, date], Cell], weeks: list[date], unrecovered: float | None
    ) -> Metrics:
        by_week: dict[date, Cell] = {w: Cell() for w in weeks}
        for (_service, week), cell in cells.items():
            by_week.setdefault(week, Cell()).merge(cell)
        total = Cell()
        for cell in by_week.values():
            total.merge(cell)
        span = max((self.until - self.since).total_seconds() / levels.DAY, 1.0)
        n = total.deployments
        months: dict[tuple[int, int], int] = {}
        for d in total.days:
            months[(d.year, d.month)] = months.get((d.year, d.month), 0) + 1
        all_weeks = weeks_between(self.since.date(), self.until.date())
        active = [len(c.days) for c in by_week.values() if c.days]
        mdw = median_with_zeros(active, max(0, all_weeks - len(active))) if all_weeks or active else 0.0
        all_months = months_between(self.since.date(), self.until.date())
        mdm = (
            median_with_zeros(list(months.values()), max(0, all_months - len(months))) if all_months else 0.0
        )
        lead_median = median(total.lead)
        recovery = median(total.recovery)
        cfr = total.failed / n if n else None
        rework = total.rework / n if n else None
        return Metrics(
            scope=scope,
            deployments=n,
            deployment_days=len(total.days),
            deployments_per_day=n / span,
            deployments_per_week=n / span * 7,
            deployments_per_month=n / span * 30,
            deployment_days_per_week=len(total.days) / span * 7,
            deployment_days_per_month=len(total.days) / span * 30,
            median_deployment_days_per_week=mdw,
            lead_time_median_s=lead_median,
            lead_time_p90_s=p90(total.lead),
            lead_time_samples=len(total.lead),
            failed_deployments=total.failed,
            change_fail_rate=cfr,
            recoveries=len(total.recovery),
            recovery_median_s=recovery,
            rework_deployments=total.rework,
            rework_rate=rework,
            last_deployment_at=total.last or None,
            oldest_unrecovered_at=unrecovered,
            levels={
                "deployment_frequency": levels.deployment_frequency(mdw, mdm, n),
                "lead_time": levels.lead_time(lead_median),
                "change_fail_rate": levels.change_fail_rate(cfr),
                "recovery_time": levels.recovery_time(recovery),
                "rework_rate": levels.NONE,
            },
            weeks=[
                Week(
                    w.isoformat(),
                    c.deployments,
                    len(c.days),
                    median(c.lead),
                    c.failed / c.deployments if c.deployments else None,
                    median(c.recovery),
                    c.rework / c.deployments if c.deployments else None,
                )
                for w, c in sorted(by_week.items())
            ],
        )
