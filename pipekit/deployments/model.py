"""Deployments read from the GitOps history, and incidents read from a file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pipekit.gitops.refs import reference


@dataclass(slots=True)
class Deployment:
    """One image reference that reached one environment of one service, as one GitOps commit wrote it."""

    commit: str
    deployed_at: datetime  # the GitOps commit's committer time (UTC): when Argo CD could sync it
    service: str
    environment: str
    image: str | None
    tag: str | None
    digest: str | None
    author: str
    subject: str = ""
    source_commit: str | None = None
    source_committed_at: datetime | None = None
    build_url: str | None = None
    build_number: int | None = None
    promoted_from: str | None = None
    rollback_of: str | None = None  # Pipekit-Rollback-Of: the commit this deployment undoes
    revert_of: str | None = None  # "This reverts commit X."
    rollback: bool = False  # explicit rollback, a revert, or a later deploy of an older image
    pipekit: bool = True  # written by pipekit (trailers); False: a hand-made commit attributed by path
    image_name: str | None = None  # the overlay's images[].name when it is not ``image`` (a newName is set)

    @property
    def reference(self) -> str:
        return reference(self.image or self.service, self.tag, self.digest)

    @property
    def version(self) -> str:
        """What identifies the image: its digest when known, else its tag."""
        return self.digest or self.tag or ""

    @property
    def lead_time_s(self) -> float | None:
        """Change lead time: deployed minus the source commit's time (None when not recorded)."""
        if self.source_committed_at is None:
            return None
        return max(0.0, (self.deployed_at - self.source_committed_at).total_seconds())

    @property
    def kind(self) -> str:
        if self.revert_of:
            return "revert"
        if self.rollback:
            return "rollback"
        if self.promoted_from:
            return "promotion"
        return "deploy"


@dataclass(slots=True)
class Incident:
    """A production incident: from the incidents file, one row or object."""

    row: str  # where in the file: 'row 3' (CSV line) or 'incident 2' (JSON index)
    opened: datetime
    resolved: datetime | None
    service: str
    environment: str
    cause_commit: str | None = None
    cause_image: str | None = None  # a tag, a digest or a full reference
    id: str = ""

    @property
    def recovery_s(self) -> float | None:
        return None if self.resolved is None else (self.resolved - self.opened).total_seconds()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed); a naive time is taken as UTC. ValueError when it is not one."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
