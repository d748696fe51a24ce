"""``pipekit status``: what runs where, one row per service and one column per environment.

Read the GitOps history newest first until every overlay's current deployment is known (tag,
digest, since when, who, how), mark environments that run something newer than the one they are
promoted from (a hotfix straight in) and last deployments that were rollbacks; with ``--argocd``
add each application's live sync, health and revision, and mark drift from the GitOps state.
Write it as a table, JSON, Markdown or one self-contained HTML page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipekit.argocd.settings import AppsOptions
from pipekit.core.options import option, resolve
from pipekit.core.step import StepContext, step_command
from pipekit.deployments import settings

__all__ = ["StatusOptions", "StatusResult", "main", "options_from", "run"]


@dataclass(kw_only=True)
class StatusOptions(settings.RepoOptions, settings.ReportOptions, AppsOptions):
    app_template: str = option(
        "{service}-{env}",
        env="PIPEKIT_ARGOCD_APP_TEMPLATE",
        config="argocd.app_template",
        pattern=r"\{service\}",
        help="pipekit status: the application of a service in an environment ({service}, {env}).",
    )
    services: list[str] = option(
        default_factory=list,
        flag="--service",
        metavar="NAME",
        help="Only this service (repeatable) [default: every service].",
    )
    environments: list[str] = option(
        default_factory=list,
        flag="--env",
        metavar="ENV",
        help="Only this environment (repeatable) [default: every one].",
    )
    argocd: bool = option(
        False,
        flag="--argocd",
        env="PIPEKIT_STATUS_ARGOCD",
        help="Add Argo CD's live state (sync, health, revision) and mark drift.",
    )


@dataclass
class StatusResult:
    status: str  # read
    services: int
    environments: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # mark -> cells
    out: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


def run(options: StatusOptions, ctx: StepContext, now: datetime | None = None) -> StatusResult:
    from pipekit.clients.git import display_url
    from pipekit.deployments import reader, source
    from pipekit.promotion import rules
    from pipekit.releases import matrix, output
    from pipekit.releases.model import StatusReport
    from pipekit.releases.writers import writer

    output.check(options.out)
    now = now or datetime.now(timezone.utc)
    layout = settings.layout(ctx)
    chain = rules.load(options.chain)
    with source.open_repo(options.gitops_repo, options.branch, ctx.env) as (git, rev):
        overlays = reader.overlay_cells(git, layout, rev)
        envs = matrix.environments(list(chain), sorted({e for _s, e in overlays}), options.environments)
        services = matrix.services(sorted({s for s, _e in overlays}), options.services)
        upstream = {e: str(chain[e].source) for e in envs if e in chain and chain[e].source}
        only = reader.Filter(sorted({*envs, *upstream.values()}), services)
        current = reader.latest(git, layout, rev=rev, only=only, within=overlays)
        first = {
            key: matrix.onboarded(*key, reader.tip_image(git, layout, rev, path, key[0]))
            for key, path in overlays.items()
            if key not in current and only.wants(*key) and key[1] in envs
        }
        report = StatusReport(
            repo=display_url(options.gitops_repo),
            branch=options.branch,
            revision=git.output("rev-parse", rev),
            generated_at=now.isoformat(),
            environments=envs,
            services=services,
            upstream=upstream,
        )
        matrix.build(report, current, first, now)
        if options.argocd:
            add_live(options, report, git, rev)
    text = writer(options.format).status(report)
    output.emit(ctx, text, options.format, options.out, "status")
    return StatusResult(
        status="read",
        services=len(services),
        environments=envs,
        counts=report.counts(),
        out=str(options.out) if options.out else None,
        report=report.to_dict(),
    )


def add_live(options: StatusOptions, report: Any, git: Any, rev: str) -> None:
    from pipekit.core.masking import mask_url
    from pipekit.releases import live

    client = options.client()
    try:
        apps = client.list_apps(project=options.project, app_namespace=options.app_namespace)
    finally:
        client.close()
    report.argocd = mask_url(client.url)
    live.apply(report, apps, options.app_template, live.FirstParent(git, rev))


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> StatusOptions:
    from pipekit.argocd.settings import with_argocd_opts

    return with_argocd_opts(resolve(StatusOptions, ctx, flags))


@step_command(
    "status",
    StatusOptions,
    help="What runs where: services x environments from the GitOps history, "
    "with Argo CD's live state and drift.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> StatusResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
