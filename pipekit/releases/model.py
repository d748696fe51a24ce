"""What the status and diff writers render: plain data classes, JSON-ready with :func:`to_dict`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Marks of a status cell (the legend every format shows).
AHEAD = "ahead"  # runs something newer than the environment it is promoted from: a hotfix straight in
ROLLED_BACK = "rolled-back"  # the last deployment was a rollback or a revert
BEHIND = "behind"  # Argo CD runs an older GitOps revision than the one that set this image
DRIFT = "drift"  # Argo CD's live state differs from the desired one (OutOfSync, another image)
UNHEALTHY = "unhealthy"  # Argo CD's health is not Healthy
NO_APP = "no-app"  # Argo CD has no application for this service and environment
MARKS = {
    AHEAD: "runs something newer than the environment it is promoted from (a hotfix straight in)",
    ROLLED_BACK: "the last deployment was a rollback or a revert",
    BEHIND: "Argo CD runs an older GitOps revision than the one that set this image",
    DRIFT: "Argo CD's live state differs from the desired state",
    UNHEALTHY: "Argo CD's health is not Healthy",
    NO_APP: "Argo CD has no application for it",
}


@dataclass
class Live:
    """One Argo CD application as it is now."""

    app: str
    sync: str = ""
    health: str = ""
    revision: str = ""
    images: list[str] = field(default_factory=list)
    drift: str | None = None  # why the live state is not the desired one


@dataclass
class Cell:
    """What one environment of one service runs (desired: the GitOps state)."""

    service: str
    environment: str
    image: str  # the full reference: name[:tag][@digest]
    tag: str | None
    digest: str | None
    deployed: bool = True  # False: the overlay was never deployed by any commit (only onboarded)
    since: str | None = None  # ISO time of the GitOps commit that set it
    age_s: float | None = None
    author: str = ""
    kind: str = ""  # deploy | promotion | rollback | revert
    promoted_from: str | None = None
    rollback_of: str | None = None
    build_url: str | None = None
    build_number: int | None = None
    gitops_commit: str | None = None
    source_commit: str | None = None
    source_committed_at: str | None = None
    marks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line per mark, saying why
    live: Live | None = None

    @property
    def short_digest(self) -> str | None:
        return self.digest.split(":", 1)[-1][:12] if self.digest else None

    @property
    def version(self) -> str:
        return self.tag or (self.short_digest or "")


@dataclass
class StatusReport:
    repo: str
    branch: str
    revision: str  # the GitOps commit read
    generated_at: str
    environments: list[str]
    services: list[str]
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)  # service -> environment -> cell
    upstream: dict[str, str] = field(default_factory=dict)  # environment -> the one it is promoted from
    argocd: str | None = None  # the server asked, with --argocd

    def cell(self, service: str, environment: str) -> Cell | None:
        return self.cells.get(service, {}).get(environment)

    def marked(self) -> list[Cell]:
        return [c for s in self.services for e in self.environments if (c := self.cell(s, e)) and c.marks]

    def counts(self) -> dict[str, int]:
        out = {mark: 0 for mark in MARKS}
        for cell in self.marked():
            for mark in cell.marks:
                out[mark] = out.get(mark, 0) + 1
        return {k: v for k, v in out.items() if v}

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "branch": self.branch,
            "revision": self.revision,
            "generated_at": self.generated_at,
            "environments": self.environments,
            "upstream": self.upstream,
            "argocd": self.argocd,
            "counts": self.counts(),
            "services": [
                {"service": s, "environments": {e: _plain(self.cell(s, e)) for e in self.environments}}
                for s in self.services
            ],
        }


# -- diff -----------------------------------------------------------------------------------
CARRIES = "carries"  # the promotion brings these commits
UNCHANGED = "unchanged"  # the same image on both sides
REBUILT = "rebuilt"  # another image of the same source commit
NEW = "new"  # not in the target yet: its first promotion there
ABSENT = "absent"  # runs in the target only: the promotion leaves it alone
BEHIND_TARGET = "to-ahead"  # the target already holds everything the source has, and more
DIVERGED = "diverged"  # the target runs commits the source lacks (a hotfix): promoting would roll them back
UNKNOWN = "unknown"  # the images differ, the commits could not be read (the note says why)
STATES = {
    CARRIES: "carries new commits",
    UNCHANGED: "unchanged",
    REBUILT: "another image of the same source commit",
    NEW: "first promotion to the target",
    ABSENT: "not in the source environment",
    BEHIND_TARGET: "the target is ahead of the source: promoting would roll it back",
    DIVERGED: "the target runs commits the source lacks (a hotfix): promoting would roll them back",
    UNKNOWN: "the images differ; the commits could not be read",
}


@dataclass
class SourceCommit:
    sha: str
    author: str
    date: str  # ISO, the commit's committer time
    subject: str
    jira: list[str] = field(default_factory=list)
    merge: bool = False


@dataclass
class Side:
    """One environment's image of a service."""

    image: str
    tag: str | None
    digest: str | None
    source_commit: str | None
    since: str | None
    gitops_commit: str | None

    @property
    def version(self) -> str:
        return self.tag or (self.digest.split(":", 1)[-1][:12] if self.digest else "")


@dataclass
class ServiceChange:
    service: str
    state: str
    source: Side | None  # what --from runs
    target: Side | None  # what --to runs
    commits: list[SourceCommit] = field(default_factory=list)  # what the promotion carries, newest first
    rolled_back: list[SourceCommit] = field(default_factory=list)  # in the target only: lost by promoting
    truncated: bool = False  # more commits than listed
    total: int = 0  # commits the promotion carries (also beyond the listed ones)
    repo: str | None = None  # the service repository read (display form)
    note: str = ""  # why the commits are not listed, or what else to know

    @property
    def jira(self) -> list[str]:
        keys: dict[str, None] = {}
        for commit in self.commits:
            keys.update(dict.fromkeys(commit.jira))
        return list(keys)


@dataclass
class Issue:
    key: str
    found: bool
    summary: str = ""
    status: str = ""
    url: str = ""
    allowed: bool | None = None  # None: no allowed statuses set


@dataclass
class DiffReport:
    repo: str
    branch: str
    revision: str
    generated_at: str
    source: str  # --from
    target: str  # --to
    services: list[ServiceChange] = field(default_factory=list)
    issues: dict[str, Issue] = field(default_factory=dict)  # with --jira
    jira: str | None = None  # the Jira site asked, with --jira
    jira_error: str | None = None  # Jira could not be asked: why
    allowed_statuses: list[str] = field(default_factory=list)

    def by_state(self, *states: str) -> list[ServiceChange]:
        return [s for s in self.services if s.state in states]

    @property
    def blocked(self) -> list[Issue]:
        return [i for i in self.issues.values() if i.allowed is False or not i.found]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.services:
            out[s.state] = out.get(s.state, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "branch": self.branch,
            "revision": self.revision,
            "generated_at": self.generated_at,
            "from": self.source,
            "to": self.target,
            "counts": self.counts(),
            "services": [{**_plain(s), "jira": s.jira} for s in self.services],
            "jira": self.jira,
            "jira_error": self.jira_error,
            "allowed_statuses": self.allowed_statuses,
            "issues": {k: _plain(v) for k, v in self.issues.items()},
        }


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if value is not None else None
