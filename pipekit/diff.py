"""``pipekit diff --from ENV --to ENV``: what promoting one environment to the next would carry.

For each service: both images, the source commits between them read from the service
repository (their authors, subjects and Jira keys), the services that would not change, and the
ones whose target runs commits the source lacks (a hotfix the promotion would roll back). With
``--jira`` each key's summary and status, flagged when not in an allowed status. The Markdown
form is the release notes to paste into a Jira version or a pull request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.core.options import option, resolve
from pipekit.core.step import StepContext, step_command
from pipekit.deployments import settings
from pipekit.jira.settings import JiraOptions, StatusesOptions
from pipekit.releases.settings import SourceOptions

__all__ = ["DiffOptions", "DiffResult", "main", "options_from", "run"]


def _projects(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


@dataclass(kw_only=True)
class DiffOptions(settings.RepoOptions, settings.ReportOptions, SourceOptions, JiraOptions, StatusesOptions):
    source: str = option(
        flag="--from",
        metavar="ENV",
        required="name the environment promoted from, e.g. qa",
        help="The environment promoted from.",
    )
    target: str = option(
        flag="--to",
        metavar="ENV",
        required="name the environment promoted to, e.g. prod",
        help="The environment promoted to.",
    )
    services: list[str] = option(
        default_factory=list,
        flag="--service",
        metavar="NAME",
        help="Only this service (repeatable) [default: every service in either].",
    )
    max_commits: int = option(
        200,
        flag="--max-commits",
        config="releases.max_commits",
        minimum=1,
        help="Commits listed per service (the count says how many more).",
    )
    jira: bool = option(
        False,
        flag="--jira",
        env="PIPEKIT_DIFF_JIRA",
        help="Look the Jira keys up: summary and status, flagged when not allowed.",
    )
    jira_projects: list[str] = option(
        flag="--jira-project",
        env="PIPEKIT_JIRA_PROJECT",
        config="jira.project",
        min_length=1,
        convert=_projects,
        metavar="KEY[,KEY]",
        help="Only keys of these Jira projects count [default: any key].",
    )


@dataclass
class DiffResult:
    status: str  # read
    source: str
    target: str
    counts: dict[str, int] = field(default_factory=dict)  # state -> services
    commits: int = 0
    jira_keys: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # Jira keys not found or not in an allowed status
    out: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


def run(options: DiffOptions, ctx: StepContext, now: datetime | None = None) -> DiffResult:
    from pipekit.clients.git import display_url
    from pipekit.deployments import reader, source
    from pipekit.promotion import rules
    from pipekit.releases import changes, matrix, output
    from pipekit.releases.model import DiffReport

    output.check(options.out)
    if options.source == options.target:
        raise BadInput(f"--from and --to are both {options.source!r}")
    repos = options.repos(ctx.env)
    repos.check()
    now = now or datetime.now(timezone.utc)
    layout = settings.layout(ctx)
    with source.open_repo(options.gitops_repo, options.branch, ctx.env) as (git, rev):
        overlays = reader.overlay_cells(git, layout, rev)
        known = sorted({e for _s, e in overlays})
        chain = list(rules.load(options.chain))
        for flag, env in (("--from", options.source), ("--to", options.target)):
            matrix.environments(chain, known, [env], flag)
        pair = (options.source, options.target)
        present = sorted({s for s, e in overlays if e in pair})
        services = matrix.services(present, options.services, f"{options.source} or {options.target}")
        current = reader.latest(
            git, layout, rev=rev, only=reader.Filter(list(pair), services), within=overlays
        )
        report = DiffReport(
            repo=display_url(options.gitops_repo),
            branch=options.branch,
            revision=git.output("rev-parse", rev),
            generated_at=now.isoformat(),
            source=options.source,
            target=options.target,
        )
    for service in services:
        before, after = current.get((service, options.target)), current.get((service, options.source))
        if before is None and after is None:
            continue
        change = changes.compare(
            service, after, before, repos, projects=options.jira_projects, limit=options.max_commits
        )
        if before is None and (service, options.target) not in overlays:
            change.note = f"has no {options.target} overlay: onboard it there first (pipekit init)"
        report.services.append(change)
    if options.jira:
        look_up(options, report, ctx)
    from pipekit.releases.writers import writer

    output.emit(ctx, writer(options.format).diff(report), options.format, options.out, "diff")
    keys = list(dict.fromkeys(k for s in report.services for k in s.jira))
    return DiffResult(
        status="read",
        source=options.source,
        target=options.target,
        counts=report.counts(),
        commits=sum(s.total for s in report.services),
        jira_keys=keys,
        flagged=[i.key for i in report.blocked],
        out=str(options.out) if options.out else None,
        report=report.to_dict(),
    )


def look_up(options: DiffOptions, report: Any, ctx: StepContext) -> None:
    """Each Jira key's summary and status; Jira unreachable is said in the report (exit 0), rejected
    credentials are bad input (exit 2)."""
    from pipekit.core.errors import ExternalError
    from pipekit.releases import issues

    client = options.client()
    report.jira = client.site_url
    report.allowed_statuses = [s.strip() for s in options.allowed_statuses if s.strip()]
    keys = list(dict.fromkeys(k for s in report.services for k in s.jira))
    try:
        report.issues = issues.lookup(client, keys, report.allowed_statuses)
    except ExternalError as exc:
        report.jira_error = exc.message
        ctx.console.warn(f"Jira could not be asked: {exc.message}")


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> DiffOptions:
    return resolve(DiffOptions, ctx, flags).options


@step_command(
    "diff",
    DiffOptions,
    help="What promoting --from to --to would carry: images, source commits, "
    "authors, Jira issues, hotfixes it would roll back.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> DiffResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
