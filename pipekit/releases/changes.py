"""What promoting one service from one environment to another would change: the source-commit walk.

Both sides' source commits come from the ``Pipekit-Source-Commit`` trailers of the deployments
running there; the commits between them are read from the service repository. The same walk
serves ``pipekit diff``, the release notes of ``pipekit promote`` and dora's lead time per commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipekit.deployments.model import Deployment
from pipekit.releases.model import (
    ABSENT,
    BEHIND_TARGET,
    CARRIES,
    DIVERGED,
    NEW,
    REBUILT,
    UNCHANGED,
    UNKNOWN,
    ServiceChange,
    Side,
)
from pipekit.releases.sources import SourceRepos, Unreadable

LIMIT = 200  # commits listed per service and side


def side(dep: Deployment | None) -> Side | None:
    if dep is None:
        return None
    return Side(
        image=dep.reference,
        tag=dep.tag,
        digest=dep.digest,
        source_commit=dep.source_commit,
        since=dep.deployed_at.isoformat(),
        gitops_commit=dep.commit,
    )


def same_image(a: Deployment, b: Deployment) -> bool:
    if a.digest and b.digest:
        return a.digest == b.digest
    return a.reference == b.reference


def compare(
    service: str,
    source: Deployment | None,
    target: Deployment | None,
    repos: SourceRepos | None,
    *,
    projects: Sequence[str] = (),
    limit: int = LIMIT,
) -> ServiceChange:
    """What promoting ``source`` (what --from runs) over ``target`` (what --to runs) would do."""
    change = ServiceChange(service=service, state=UNKNOWN, source=side(source), target=side(target))
    if source is None:
        change.state, change.note = ABSENT, "runs only in the target environment: the promotion leaves it"
        return change
    if target is None:
        change.state, change.note = NEW, "not in the target environment yet: its first promotion there"
        return change
    if same_image(source, target):
        change.state = UNCHANGED
        return change
    old, new = target.source_commit, source.source_commit
    if not old or not new:
        which = " and ".join(n for n, c in (("the target's", old), ("the source's", new)) if not c)
        change.note = f"no source commit recorded for {which} image (a hand-made deploy?)"
        return change
    return walk_into(change, old, new, repos, projects=projects, limit=limit)


def first_release(
    change: ServiceChange,
    new: str,
    repos: SourceRepos | None,
    *,
    projects: Sequence[str] = (),
    limit: int = LIMIT,
) -> ServiceChange:
    """What a service's first release into an environment brings: every commit up to ``new`` (the newest
    ``limit`` listed; the state stays NEW)."""
    if repos is None:
        return change
    try:
        repo = repos.open(change.service)
        change.repo = repo.display
        commits = repo.commits(None, new, limit + 1, projects)
        change.truncated = len(commits) > limit
        change.commits = commits[:limit]
        change.total = (
            int(repo.git.output("rev-list", "--count", new, "--"))
            if change.truncated
            else len(change.commits)
        )
    except Unreadable as exc:
        change.note += f" ({exc})"
    return change


def walk_into(
    change: ServiceChange,
    old: str,
    new: str,
    repos: SourceRepos | None,
    *,
    projects: Sequence[str] = (),
    limit: int = LIMIT,
) -> ServiceChange:
    """The commits between the target's source commit ``old`` and the source's ``new``,
    and the state they make."""
    if old == new:
        change.state = REBUILT
        return change
    if repos is None:
        change.note = "no service repository read"
        return change
    try:
        repo = repos.open(change.service)
        change.repo = repo.display
        walk = repo.walk(old, new, limit, projects)
    except Unreadable as exc:
        change.note = str(exc)
        return change
    change.commits, change.rolled_back, change.total = walk.carried, walk.rolled_back, walk.carried_total
    change.truncated = walk.truncated
    if walk.carried_total and walk.rolled_back_total:
        change.state = DIVERGED
        change.note = (
            f"the target runs {walk.rolled_back_total} commit{_s(walk.rolled_back_total)} the source "
            "lacks (a hotfix?): promoting would roll them back"
        )
    elif walk.rolled_back_total:
        change.state = BEHIND_TARGET
        change.note = (
            f"the target is ahead of the source by {walk.rolled_back_total} "
            f"commit{_s(walk.rolled_back_total)}: promoting would roll them back"
        )
    elif walk.carried_total:
        change.state = CARRIES
    else:
        change.state = REBUILT
    return change


def _s(n: int) -> str:
    return "" if n == 1 else "s"
