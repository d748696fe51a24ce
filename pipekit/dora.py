"""``pipekit dora``: the five DORA metrics from the GitOps history, with 2024 performance levels.

Read the deployments of the environment(s) from the GitOps log (trailers, or hand-made commits
attributed by overlay path), fold in the incidents file, compute deployment frequency, change
lead time, change fail rate, failed deployment recovery time and deployment rework rate, and
write them as a table, JSON, CSV, Prometheus text or a self-contained HTML report; optionally
push the Prometheus text to a Pushgateway.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.options import option, resolve
from pipekit.core.step import StepContext, step_command
from pipekit.deployments import settings
from pipekit.deployments.writers import Format
from pipekit.releases.settings import SourceOptions

__all__ = ["DoraOptions", "DoraResult", "main", "options_from", "run"]

JOB = "pipekit_dora"


@dataclass(kw_only=True)
class DoraOptions(settings.RepoOptions, SourceOptions):  # SourceOptions: lead time per commit
    since: str | None = option(
        flag="--since",
        metavar="DATE",
        help="Start of the range (YYYY-MM-DD or ISO time, UTC) [default: 90 days before --until].",
    )
    until: str | None = option(
        flag="--until", metavar="DATE", help="End of the range, that day included [default: now]."
    )
    environments: tuple[str, ...] = option(
        ("prod",), flag="--env", env="PIPEKIT_DORA_ENV", help="Environment to measure (repeatable)."
    )
    services: tuple[str, ...] = option(
        (), flag="--service", help="Only this service (repeatable) [default: every service]."
    )
    incidents: str | None = option(
        flag="--incidents",
        metavar="FILE",
        help="Incidents, CSV or JSON: opened, resolved, service, environment[, cause_commit, cause_image].",
    )
    format: Format = option("table", flag="--format", help="Output format.")
    out: str | None = option(flag="--out", metavar="FILE", help="Write the report here instead of stdout.")
    push_gateway: str | None = option(
        flag="--push-gateway",
        env="PIPEKIT_PUSHGATEWAY_URL",
        metavar="URL",
        help="Push the Prometheus text to this Pushgateway (job pipekit_dora).",
    )


@dataclass
class DoraResult:
    status: str  # measured | empty
    since: str
    until: str
    environments: list[str]
    deployments: int
    report: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    pushed_to: str | None = None


def run(options: DoraOptions, ctx: StepContext) -> DoraResult:
    from pipekit.clients.git import display_url
    from pipekit.deployments import incidents as incidents_file
    from pipekit.deployments import levels, reader, source
    from pipekit.deployments.dora import Collector
    from pipekit.deployments.report import DoraReport
    from pipekit.deployments.writers import writer

    since, until = settings.window(options.since, options.until)
    found = incidents_file.load(options.incidents) if options.incidents else []
    layout = settings.layout(ctx)
    collector = Collector(
        since,
        until,
        [
            i
            for i in found
            if (not options.environments or i.environment in options.environments)
            and (not options.services or i.service in options.services)
        ],
        lead_times=per_commit(options, ctx),
    )
    only = reader.Filter(options.environments, options.services)
    with source.open_repo(options.gitops_repo, options.branch, ctx.env) as (git, rev):
        for deployment in reader.read(git, layout, rev=rev, only=only):
            collector.add(deployment)
    overall, per_service = collector.finish()
    report = DoraReport(
        repo=display_url(options.gitops_repo),
        since=since.isoformat(),
        until=until.isoformat(),
        environments=list(options.environments),
        overall=overall,
        services=per_service,
        levels_source=levels.SOURCE,
        incidents=len(found),
    )
    result = DoraResult(
        status="measured" if overall.deployments else "empty",
        since=report.since,
        until=report.until,
        environments=report.environments,
        deployments=overall.deployments,
        report=report.to_dict(),
        out=options.out,
    )
    if not overall.deployments:
        ctx.console.info(
            f"no deployments in range {report.since} .. {report.until} "
            f"({', '.join(report.environments) or 'every environment'})"
        )
        return result
    text = writer(options.format).render(report)
    if options.out:
        Path(options.out).write_text(text, encoding="utf-8")
        ctx.console.success(f"DORA report ({options.format}) written to {options.out}")
    elif options.format == "table":
        ctx.console.print(text.rstrip("\n"))
    elif not ctx.console.json_mode:  # a machine format, byte for byte on stdout
        sys.stdout.write(text)
        sys.stdout.flush()
    if options.push_gateway:
        from pipekit.clients import pushgateway

        body = text if options.format == "prometheus" else writer("prometheus").render(report)
        result.pushed_to = pushgateway.push(options.push_gateway, JOB, body)
        ctx.console.success(f"pushed {overall.deployments} deployments' metrics to the Pushgateway")
    return result


def per_commit(options: DoraOptions, ctx: StepContext) -> Any:
    """Lead time per commit when service repositories are named (else None: the trailer's time)."""
    from pipekit.releases.leadtime import PerCommit

    repos = options.repos(ctx.env)
    repos.check()
    return PerCommit(repos) if repos.any else None


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> DoraOptions:
    return resolve(DoraOptions, ctx, flags).options


@step_command(
    "dora", DoraOptions, help="The five DORA metrics from the GitOps history, with 2024 performance levels."
)
def main(ctx: StepContext, flags: dict[str, Any]) -> DoraResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
