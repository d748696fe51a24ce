"""``pipekit history``: what ran where and since when, newest first, from the GitOps history.

Each deployment of one service (in one environment, or every one) with its image, source
commit, who made it, lead time, whether it was a promotion, rollback or revert, and links.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.core.options import option, resolve
from pipekit.core.revision import short_revision
from pipekit.core.step import StepContext, step_command
from pipekit.deployments import settings

__all__ = ["Entry", "HistoryOptions", "HistoryResult", "main", "options_from", "run"]


@dataclass(kw_only=True)
class HistoryOptions(settings.RepoOptions):
    service: str = option(
        "", flag="--service", config="service", help="The service whose deployments to list."
    )
    environment: str | None = option(
        flag="--env", env="PIPEKIT_ENV", help="Only this environment [default: every one]."
    )
    limit: int = option(20, flag="--limit", minimum=1, maximum=1_000_000, help="Show at most this many.")


@dataclass
class Entry:
    commit: str
    deployed_at: str
    environment: str
    image: str
    tag: str | None
    digest: str | None
    kind: str  # deploy | promotion | rollback | revert
    author: str
    source_commit: str | None
    lead_time_s: float | None
    build_url: str | None
    promoted_from: str | None
    rollback_of: str | None
    current: bool  # what runs in that environment now
    since: str  # running since (its deploy time) / until the next one replaced it
    until: str | None


@dataclass
class HistoryResult:
    service: str
    environment: str | None
    deployments: list[Entry] = field(default_factory=list)


def run(options: HistoryOptions, ctx: StepContext) -> HistoryResult:
    from pipekit.deployments import reader, source

    if not options.service:
        raise BadInput("no service: pass --service NAME (or set service in pipekit.yaml)")
    only = reader.Filter([options.environment] if options.environment else [], [options.service])
    kept: deque[Any] = deque(maxlen=options.limit)  # the newest N; replaced-at times filled as we go
    last: dict[str, Any] = {}
    with source.open_repo(options.gitops_repo, options.branch, ctx.env) as (git, rev):
        for dep in reader.read(git, settings.layout(ctx), rev=rev, only=only):
            before = last.get(dep.environment)
            if before is not None:
                before["until"] = dep.deployed_at.isoformat()
            item = {"dep": dep, "until": None}
            last[dep.environment] = item
            kept.append(item)
    entries = [_entry(item["dep"], item["until"]) for item in reversed(kept)]
    result = HistoryResult(service=options.service, environment=options.environment, deployments=entries)
    report(ctx, result)
    return result


def _entry(dep: Any, until: str | None) -> Entry:
    return Entry(
        commit=dep.commit,
        deployed_at=dep.deployed_at.isoformat(),
        environment=dep.environment,
        image=dep.reference,
        tag=dep.tag,
        digest=dep.digest,
        kind=dep.kind,
        author=dep.author,
        source_commit=dep.source_commit,
        lead_time_s=dep.lead_time_s,
        build_url=dep.build_url,
        promoted_from=dep.promoted_from,
        rollback_of=dep.rollback_of or dep.revert_of,
        current=until is None,
        since=dep.deployed_at.isoformat(),
        until=until,
    )


def report(ctx: StepContext, result: HistoryResult) -> None:
    from pipekit.deployments.report import duration

    con = ctx.console
    where = result.environment or "every environment"
    if not result.deployments:
        con.info(f"no deployments of {result.service} in {where}")
        return
    con.info(f"{result.service} in {where}, newest first:")
    for e in result.deployments:
        mark = "*" if e.current else " "
        what = e.kind + (
            f" from {e.promoted_from}"
            if e.promoted_from
            else f" of {short_revision(e.rollback_of)}"
            if e.rollback_of
            else ""
        )
        con.print(
            f"{mark} {e.deployed_at[:16].replace('T', ' ')}  {e.environment:<8} {what:<25} "
            f"{e.tag or (e.digest or '')[:19]:<20} by {e.author}, lead {duration(e.lead_time_s)}, "
            f"gitops {short_revision(e.commit)}"
            + (f", source {short_revision(e.source_commit)}" if e.source_commit else "")
            + (f", {e.build_url}" if e.build_url else "")
        )


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> HistoryOptions:
    options = resolve(HistoryOptions, ctx, flags).options
    return replace(options, service=options.service or ctx.service or "")


@step_command(
    "history", HistoryOptions, help="What ran where and since when, newest first, from the GitOps history."
)
def main(ctx: StepContext, flags: dict[str, Any]) -> HistoryResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
