"""Change lead time per commit, from the same source-commit walk as ``pipekit diff``.

A deployment brings the commits its source commit has and the one running before lacked (what
``pipekit diff`` listed before the promotion); each gives one lead time, the deployment's time
minus the commit's. A commit is counted once per service and environment: at its first delivery
(after a rollback, a later deployment that brings it again does not count it twice). The same
source commit again (a rebuild, a re-promotion) brings no change: no sample. When the walk
cannot be made (no repository, a commit missing, nothing running before), the caller falls back
to the deployment's own source commit time.
"""

from __future__ import annotations

from datetime import datetime

from pipekit.deployments.model import Deployment
from pipekit.releases.sources import SourceRepos, Unreadable


class PerCommit:
    def __init__(self, repos: SourceRepos, limit: int = 1000) -> None:
        self.repos, self.limit = repos, limit
        self.counted: dict[tuple[str, str], set[str]] = {}
        self.walks = 0

    def __call__(self, dep: Deployment, before: Deployment | None) -> list[float] | None:
        new, old = dep.source_commit, before.source_commit if before is not None else None
        if not new or not old:
            return None
        if new == old:
            return []
        try:
            commits = self.repos.open(dep.service).commits(old, new, self.limit)
        except Unreadable:
            return None
        self.walks += 1
        seen = self.counted.setdefault((dep.service, dep.environment), set())
        out: list[float] = []
        for commit in commits:
            if commit.sha not in seen:
                seen.add(commit.sha)
                out.append(max(0.0, (dep.deployed_at - datetime.fromisoformat(commit.date)).total_seconds()))
        return out
