"""The stand-in's state: users, repositories backed by real bare git repositories, pull requests.

Merges are real git: ``merge-tree --write-tree`` then ``commit-tree`` for a merge commit (two
parents) or a squash (one parent), ``merge-base --is-ancestor`` for a fast-forward, and the
target branch moves with ``update-ref`` against its old value, so a push that lands while a
merge is being made is never overwritten. Both flavours' APIs (:mod:`.cloud`, :mod:`.datacenter`)
render these records in their own shapes.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.clients.git import Git, isolated_env


@dataclass
class User:
    name: str  # Data Center user name (= slug); Cloud nickname
    display_name: str = ""
    uuid: str = ""  # Cloud: "{...}"
    account_id: str = ""  # Cloud: "557058:..."

    def __post_init__(self) -> None:
        self.display_name = self.display_name or self.name.replace("-", " ").title()
        self.uuid = self.uuid or "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"bitbucket-standin/{self.name}")) + "}"
        self.account_id = self.account_id or f"557058:{self.uuid.strip('{}')}"


@dataclass
class Activity:
    action: str  # OPENED, APPROVED, UNAPPROVED, COMMENTED, DECLINED, MERGED, UPDATED, RESCOPED
    user: User
    at: float
    text: str = ""


@dataclass
class PullRequest:
    id: int
    title: str
    description: str
    source: str  # branch name
    target: str
    author: User
    reviewers: list[User]
    close_source_branch: bool = False
    state: str = "OPEN"  # OPEN | MERGED | DECLINED
    version: int = 0  # Data Center's optimistic-locking version
    approvals: dict[str, bool] = field(default_factory=dict)  # user name -> approved
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    merge_commit: str | None = None
    closed_by: User | None = None
    reason: str = ""
    activities: list[Activity] = field(default_factory=list)
    comments: list[tuple[int, User, str]] = field(default_factory=list)

    def touch(self, *, version: bool = True) -> None:
        self.updated = time.time()
        if version:
            self.version += 1


class MergeRefused(Exception):
    """A merge that cannot be made: ``kind`` is conflict, not-fast-forward, vetoed, not-open or moved."""

    def __init__(self, kind: str, message: str, vetoes: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.vetoes = kind, message, vetoes or []


STRATEGIES = {"merge_commit", "squash", "fast_forward"}  # the stand-in's (Cloud's) names


class Repository:
    """One repository: ``owner`` is the Cloud workspace or the Data Center project key."""

    def __init__(self, owner: str, slug: str, path: Path, *, main_branch: str = "main", min_approvals: int = 0) -> None:
        self.owner, self.slug, self.path, self.main_branch = owner, slug, Path(path), main_branch
        self.min_approvals = min_approvals  # the merge check: approvals needed, the author's never counting
        self.pull_requests: dict[int, PullRequest] = {}
        self.lock = threading.RLock()
        self.comment_ids = 0
        self.git = Git(self.path, isolated_env(os.environ))

    # -- git ---------------------------------------------------------------
    def head(self, branch: str) -> str | None:
        proc = self.git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
        return proc.stdout.strip() or None

    def delete_branch(self, branch: str) -> None:
        self.git.run("update-ref", "-d", f"refs/heads/{branch}", check=False)

    def full_hash(self, prefix: str) -> str | None:
        proc = self.git.run("rev-parse", "--verify", "--quiet", f"{prefix}^{{commit}}", check=False)
        return proc.stdout.strip() or None

    def merge(self, pr: PullRequest, strategy: str, message: str, user: User) -> str:
        """Merge ``pr`` for real; returns the commit the target branch now points at."""
        with self.lock:
            if pr.state != "OPEN":
                raise MergeRefused("not-open", f"pull request #{pr.id} is {pr.state.lower()}, not open")
            vetoes = self.vetoes(pr)
            if vetoes:
                raise MergeRefused("vetoed", vetoes[0][1], vetoes)
            target, source = self.head(pr.target), self.head(pr.source)
            if target is None or source is None:
                missing = pr.target if target is None else pr.source
                raise MergeRefused("conflict", f"branch {missing} does not exist")
            ident = {"GIT_AUTHOR_NAME": user.display_name, "GIT_AUTHOR_EMAIL": f"{user.name}@bitbucket.invalid",
                     "GIT_COMMITTER_NAME": user.display_name, "GIT_COMMITTER_EMAIL": f"{user.name}@bitbucket.invalid"}
            if strategy == "fast_forward":
                if self.git.run("merge-base", "--is-ancestor", target, source, check=False).returncode != 0:
                    raise MergeRefused("not-fast-forward",
                                       f"{pr.target} has moved on: {pr.source} cannot be fast-forwarded onto it")
                new = source
            else:
                proc = self.git.run("merge-tree", "--write-tree", "--no-messages", target, source, check=False)
                if proc.returncode == 1:
                    raise MergeRefused("conflict", "Conflicts during merge.")
                if proc.returncode != 0:
                    raise MergeRefused("conflict", f"merge failed: {proc.stderr.strip()}")
                tree = proc.stdout.split()[0]
                parents = ["-p", target] + (["-p", source] if strategy == "merge_commit" else [])
                saved = self.git.env
                self.git.env = {**saved, **ident}
                try:
                    new = self.git.output("commit-tree", tree, *parents, "-F", "-", input_text=message + "\n")
                finally:
                    self.git.env = saved
            moved = self.git.run("update-ref", f"refs/heads/{pr.target}", new, target, check=False)
            if moved.returncode != 0:
                raise MergeRefused("moved", "Unable to merge because one of the refs involved changed while "
                                            "attempting to merge")
            pr.state, pr.merge_commit, pr.closed_by = "MERGED", new, user
            pr.activities.append(Activity("MERGED", user, time.time()))
            pr.touch()
            if pr.close_source_branch:
                self.delete_branch(pr.source)
            return new

    def vetoes(self, pr: PullRequest) -> list[tuple[str, str]]:
        """The merge check: (summary, detail) for each reason the merge is blocked."""
        approved = [n for n, ok in pr.approvals.items() if ok and n != pr.author.name]
        missing = self.min_approvals - len(approved)
        if missing > 0:
            return [("Not enough approvals",
                     f"You need {missing} more approval{'s' if missing > 1 else ''} before this pull request "
                     "can be merged.")]
        return []

    def conflicted(self, pr: PullRequest) -> bool:
        target, source = self.head(pr.target), self.head(pr.source)
        if target is None or source is None:
            return True
        return self.git.run("merge-tree", "--write-tree", "--no-messages", target, source, check=False).returncode == 1
