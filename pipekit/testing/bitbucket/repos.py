"""The stand-in's state: users, repositories backed by real bare git repositories, pull requests.

Merges are real git: ``merge-tree --write-tree`` then ``commit-tree`` for a merge commit (two
parents) or a squash (one parent), ``merge-base --is-ancestor`` for a fast-forward, and the
target branch moves with ``update-ref`` against its old value, so a push that lands while a
merge is being made is never overwritten. Both flavours' APIs (:mod:`.cloud`, :mod:`.datacenter`)
render these records in their own shapes.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.clients.git import Git, isolated_env


@dataclass
class User:
    name: str  # Data Center user name (= slug); Cloud nickname
    display_name: str = ""
    uuid: str = ""  # Cloud: "{...}"
    account_id: str = ""  # Cloud: "557058:..."

    def __post_init__(self) -> None:
        self.display_name = self.display_name or self.name.replace("-", " ").title()
        self.uuid = (
            self.uuid or "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"bitbucket-standin/{self.name}")) + "}"
        )
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
_SHA = re.compile(r"[0-9a-f]{40}")


class Repository:
    """One repository: ``owner`` is the Cloud workspace or the Data Center project key."""

    def __init__(
        self, owner: str, slug: str, path: Path, *, main_branch: str = "main", min_approvals: int = 0
    ) -> None:
        self.owner, self.slug, self.path, self.main_branch = owner, slug, Path(path), main_branch
        self.min_approvals = min_approvals  # the merge check: approvals needed, the author's never counting
        self.pull_requests: dict[int, PullRequest] = {}
        self.lock = threading.RLock()
        self.comment_ids = 0
        self.git = Git(self.path, isolated_env(os.environ))

    # -- git ---------------------------------------------------------------
    def head(self, branch: str) -> str | None:
        """The branch's commit, read from the ref files (no git process: every answer names heads)."""
        ref = f"refs/heads/{branch}"
        try:
            loose = (self.path / ref).read_text(encoding="utf-8").strip()
        except (OSError, ValueError):
            loose = ""
        if _SHA.fullmatch(loose):
            return loose
        try:
            packed = (self.path / "packed-refs").read_text(encoding="utf-8")
        except OSError:
            packed = ""
        for line in packed.splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _SHA.fullmatch(sha):
                return sha
        if loose:  # a symbolic or unusual ref: ask git
            proc = self.git.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
            return proc.stdout.strip() or None
        return None

    def delete_branch(self, branch: str) -> None:
        self.git.run("update-ref", "-d", f"refs/heads/{branch}", check=False)

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
            ident = {
                "GIT_AUTHOR_NAME": user.display_name,
                "GIT_AUTHOR_EMAIL": f"{user.name}@bitbucket.invalid",
                "GIT_COMMITTER_NAME": user.display_name,
                "GIT_COMMITTER_EMAIL": f"{user.name}@bitbucket.invalid",
            }
            if strategy == "fast_forward":
                if self.git.run("merge-base", "--is-ancestor", target, source, check=False).returncode != 0:
                    raise MergeRefused(
                        "not-fast-forward",
                        f"{pr.target} has moved on: {pr.source} cannot be fast-forwarded onto it",
                    )
                new = source
            else:
                proc = self.git.run(
                    "merge-tree", "--write-tree", "--no-messages", target, source, check=False
                )
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
                raise MergeRefused(
                    "moved",
                    "Unable to merge because one of the refs involved changed while attempting to merge",
                )
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
            return [
                (
                    "Not enough approvals",
                    f"You need {missing} more approval{'s' if missing > 1 else ''} before this pull request "
                    "can be merged.",
                )
            ]
        return []

    def conflicted(self, pr: PullRequest) -> bool:
        target, source = self.head(pr.target), self.head(pr.source)
        if target is None or source is None:
            return True
        return (
            self.git.run(
                "merge-tree", "--write-tree", "--no-messages", target, source, check=False
            ).returncode
            == 1
        )


@dataclass
class Token:
    user: User
    repos: set[tuple[str, str]] | None = None  # None: every repository


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    user: User
    base_url: str


class Site:
    """Users, tokens and repositories, and what a person does in the web UI; the HTTP server serves it."""

    def __init__(self, page_size: int | None = None) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.repositories: dict[tuple[str, str], Repository] = {}
        self.page_size = page_size  # force a page size (tests of paging)
        self.races = (
            0  # Data Center: the next N merges/declines find the version moved on (a 409 for the client)
        )
        self.auto_approvers: list[str] = []  # users who approve every new pull request at once
        self.lock = threading.RLock()

    def add_user(self, name: str, display_name: str = "") -> User:
        with self.lock:
            if name not in self.users:
                self.users[name] = User(name, display_name)
            return self.users[name]

    def add_token(self, token: str, user: str, repos: list[tuple[str, str]] | None = None) -> User:
        """A token acting as ``user`` (created if new), limited to ``repos`` (owner, slug) if given."""
        who = self.add_user(user)
        self.tokens[token] = Token(who, set(repos) if repos is not None else None)
        return who

    def repository(self, owner: str, slug: str) -> Repository:
        return self.repositories[(owner, slug)]

    def visible(self, token: Token, owner: str, slug: str) -> Repository | None:
        repo = self.repositories.get((owner, slug))
        if repo is None or (token.repos is not None and (owner, slug) not in token.repos):
            return None
        return repo

    def approve(self, repo: Repository, pr_id: int, user: str, approved: bool = True) -> None:
        """``user`` approves (or withdraws approval), as if in the web UI."""
        who = self.add_user(user)
        with repo.lock:
            pr = repo.pull_requests[pr_id]
            pr.approvals[who.name] = approved
            pr.activities.append(Activity("APPROVED" if approved else "UNAPPROVED", who, time.time()))
            pr.touch(version=False)

    def decline(self, repo: Repository, pr_id: int, user: str, reason: str = "") -> None:
        """``user`` declines the pull request, as if in the web UI."""
        who = self.add_user(user)
        with repo.lock:
            decline(repo.pull_requests[pr_id], who, reason)

    def merge(self, repo: Repository, pr_id: int, user: str, strategy: str = "merge_commit") -> str:
        """``user`` merges the pull request, as if in the web UI (the merge check applies)."""
        pr = repo.pull_requests[pr_id]
        return repo.merge(
            pr, strategy, f"Merged in {pr.source} (pull request #{pr.id})\n\n{pr.title}", self.add_user(user)
        )

    def edit(self, repo: Repository, pr_id: int, user: str, *, title: str | None = None) -> None:
        """Someone edits the pull request: Data Center's ``version`` goes up (a client's copy is stale)."""
        who = self.add_user(user)
        with repo.lock:
            pr = repo.pull_requests[pr_id]
            pr.title = title or pr.title
            pr.activities.append(Activity("UPDATED", who, time.time()))
            pr.touch()

    def new_pull_request(
        self,
        repo: Repository,
        *,
        title: str,
        description: str,
        source: str,
        target: str,
        author: User,
        reviewers: list[User],
        close_source_branch: bool,
    ) -> PullRequest:
        with repo.lock:
            pr = PullRequest(
                len(repo.pull_requests) + 1,
                title,
                description,
                source,
                target,
                author,
                reviewers,
                close_source_branch,
            )
            pr.activities.append(Activity("OPENED", author, time.time()))
            repo.pull_requests[pr.id] = pr
        for name in self.auto_approvers:
            self.approve(repo, pr.id, name)
        return pr


def decline(pr: PullRequest, user: User, reason: str = "") -> None:
    pr.state, pr.closed_by, pr.reason = "DECLINED", user, reason
    pr.activities.append(Activity("DECLINED", user, time.time(), reason))
    pr.touch()


def comment(repo: Repository, pr: PullRequest, user: User, text: str) -> int:
    with repo.lock:
        repo.comment_ids += 1
        pr.comments.append((repo.comment_ids, user, text))
        pr.activities.append(Activity("COMMENTED", user, time.time(), text))
        pr.touch(version=False)
        return repo.comment_ids
