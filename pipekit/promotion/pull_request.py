"""A GitOps change by pull request: the same commit as a direct write, on its own branch, reviewed.

:meth:`PullRequestFlow.open` runs the step's edit through the GitOps writer, but force-pushes the
commit to ``pipekit/<service>/<env>/<version>`` and opens a pull request to the GitOps branch,
with the commit's subject and body (the release notes) as its description. Running again for the
same version finds the open pull request and changes nothing; a newer version opens its own pull
request and declines the ones it supersedes, with a comment naming it. A reviewer the server
does not know is exit 2, and the branch pushed for it is deleted again.

:meth:`PullRequestFlow.settle` then follows the pull request: with ``merge`` it merges once
enough people other than its author approved; a merge refused because the GitOps branch moved
on (a conflict with another service's change, or no fast-forward) re-applies the edit on the new
tip and force-pushes the branch (a rebase that keeps every other change), then tries again.
With ``wait`` it waits until merged (the full 40-character merge commit resolved from the
repository), declined (exit 1 naming who) or out of time (exit 4).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipekit.clients.git import Git, Workspace, remote_url
from pipekit.clients.pull_requests import MergeRefused, PullRequest, PullRequestHost, UnknownReviewers
from pipekit.core.errors import CheckFailed, ExternalError, TimedOut
from pipekit.gitops.writer import Change, Edit, WriteOutcome, Writer
from pipekit.promotion.pull_request_settings import PullRequestRule

BRANCH_PREFIX = "pipekit"
MAX_REBASES = 20
FULL_SHA = re.compile(r"[0-9a-f]{40}")


def branch_name(service: str, environment: str, version: str) -> str:
    """``pipekit/<service>/<env>/<version>``, each part made safe for a ref
    (a digest's ``:`` becomes ``-``)."""

    def part(text: str) -> str:
        cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-") or "x"
        return cleaned.replace("..", ".")[:100]

    return f"{BRANCH_PREFIX}/{part(service)}/{part(environment)}/{part(version)}"


def describe(commit_message: str, *, branch: str, target: str, environment: str) -> str:
    """The pull request's description: the release notes.

    The commit's subject and body (what a direct promotion's commit says: the image changes and,
    where ``promote`` writes them, the release notes) without the trailer block, then each
    service's image and source commit from the trailers, and where merging takes it.
    """
    paragraphs = commit_message.strip().split("\n\n")
    trailers: list[tuple[str, str]] = []
    if paragraphs and all(
        line.startswith("Pipekit-") for line in paragraphs[-1].splitlines() if line.strip()
    ):
        trailers = [
            (k, v.strip()) for k, _, v in (line.partition(": ") for line in paragraphs[-1].splitlines())
        ]
        paragraphs = paragraphs[:-1]
    text = "\n\n".join(paragraphs).strip()
    sources, service = [], ""
    for key, value in trailers:
        if key == "Pipekit-Service":
            service = value
        elif key == "Pipekit-Source-Commit" and value:
            sources.append(f"- {service}: built from source commit `{value}`")
    if sources:
        text += "\n\n" + "\n".join(sources)
    return (
        f"{text}\n\n---\nOpened by pipekit from branch `{branch}`: merging it into `{target}` deploys "
        f"to {environment}. The commit carries the `Pipekit-*` trailers the history reads.\n"
    )


@dataclass
class Opened:
    status: Literal[
        "opened", "open", "unchanged", "dry-run"
    ]  # open: already there; unchanged: the target has it
    pull_request: PullRequest | None
    branch: str
    outcome: WriteOutcome
    superseded: list[int] = field(default_factory=list)


@dataclass
class Settled:
    status: Literal["merged", "open"]
    pull_request: PullRequest
    merge_commit: str | None = None
    rebases: int = 0
    waiting_for: str = ""  # why it is still open


class _BranchEdit:
    """The step's edit, which also names the branch from what it writes and stops at an open pull request."""

    def __init__(
        self,
        inner: Edit,
        name: Callable[[], str],
        open_by_branch: dict[str, PullRequest],
        writer: Writer,
        *,
        rebase: bool = False,
    ) -> None:
        self.inner, self.name, self.open_by_branch, self.writer, self.rebase = (
            inner,
            name,
            open_by_branch,
            writer,
            rebase,
        )
        self.lookup: Callable[[], dict[str, PullRequest]] | None = None  # asked while git clones
        self.branch = ""
        self.base = ""  # the GitOps branch's commit the change was made on
        self.existing: PullRequest | None = None
        self.message = ""

    def render_dirs(self) -> list[str]:
        """The step's edit's overlays to render (the writer starts the renderer while git clones)."""
        dirs = getattr(self.inner, "render_dirs", None)
        return list(dirs()) if dirs is not None else []

    def warm(self) -> None:
        """While git clones: the step's own preparation, then the open pull requests (one API call)."""
        inner = getattr(self.inner, "warm", None)
        if inner is not None:
            inner()
        if self.lookup is not None:
            self.open_by_branch.update(self.lookup())
            self.lookup = None

    def __call__(self, root: Path, git: Git) -> Change:
        self.warm()  # when the writer did not call it (a sparse function of the clone)
        self.base = git.head()
        change = self.inner(root, git)
        if not change.paths:
            return change
        self.branch = self.name()
        existing = None if self.rebase else self.open_by_branch.get(self.branch)
        if existing is not None:
            self.existing = existing
            return Change([], change.message, note=f"pull request #{existing.id} is open for it")
        self.writer.push_branch = self.branch
        self.message = change.message
        return change


class PullRequestFlow:
    def __init__(
        self,
        host: PullRequestHost,
        writer: Writer,
        rule: PullRequestRule,
        *,
        environment: str,
        log: Callable[[str], None] = lambda _m: None,
        poll_s: float = 0.5,
        max_poll_s: float = 10.0,
    ) -> None:
        self.host, self.writer, self.rule, self.environment, self.log = host, writer, rule, environment, log
        self.poll_s, self.max_poll_s = poll_s, max_poll_s
        self.target = writer.branch
        self._redo: Callable[[], _BranchEdit] | None = None
        self._sparse: Any = None
        self.base = ""
        self.commit_message = ""  # the change's commit on the pull request's branch (this run's)

    # -- open -------------------------------------------------------------------------------------
    def open(
        self,
        sparse: Sequence[str] | Callable[[Git], Sequence[str]],
        edit: Edit,
        *,
        service: str,
        version: Callable[[], str],
        title: Callable[[], str],
        dry_run: bool = False,
    ) -> Opened:
        prefix = branch_name(service, self.environment, "x")[:-1]  # pipekit/<service>/<env>/
        by_branch: dict[str, PullRequest] = {}

        def lookup() -> dict[str, PullRequest]:
            return {
                pr.source: pr
                for pr in self.host.open_pull_requests(self.target)
                if pr.source.startswith(prefix)
            }

        def make(rebase: bool = False) -> _BranchEdit:
            return _BranchEdit(
                edit,
                lambda: branch_name(service, self.environment, version()),
                by_branch,
                self.writer,
                rebase=rebase,
            )

        wrapped = make()
        wrapped.lookup = lookup
        self._redo, self._sparse = lambda: make(rebase=True), sparse
        outcome = self.writer.write(sparse, wrapped, dry_run=dry_run)
        self.base = wrapped.base
        if wrapped.existing is not None:
            self.base = ""  # made by an earlier run, on a tip this run does not know
            return Opened("open", wrapped.existing, wrapped.existing.source, outcome)
        if outcome.status == "dry-run":
            return Opened("dry-run", None, wrapped.branch, outcome)
        if outcome.status != "pushed":
            return Opened("unchanged", None, "", outcome)
        self.commit_message = wrapped.message
        description = describe(
            wrapped.message, branch=wrapped.branch, target=self.target, environment=self.environment
        )
        try:
            pr = self.host.create(
                title=title(),
                description=description,
                source=wrapped.branch,
                target=self.target,
                reviewers=self.rule.reviewers,
                close_source_branch=self.rule.delete_branch,
            )
        except (UnknownReviewers, ExternalError, CheckFailed):
            self.delete_branch(
                wrapped.branch
            )  # no branch left behind for a pull request that was never opened
            raise
        superseded = []
        for old in list(by_branch.values()):
            if old.source != wrapped.branch:
                self.host.decline(old, f"Superseded by pull request #{pr.id} ({pr.url}): {title()}.")
                superseded.append(old.id)
                if self.rule.delete_branch:
                    self.delete_branch(old.source)
        return Opened("opened", pr, wrapped.branch, outcome, superseded)

    # -- settle -----------------------------------------------------------------------------------
    def settle(
        self,
        pr: PullRequest,
        *,
        merge: bool,
        wait: bool,
        timeout_s: float,
        after_merge: Callable[[str], None] | None = None,
    ) -> Settled:
        deadline = time.monotonic() + timeout_s
        rebases, delay, why = 0, self.poll_s, "nobody merged it yet"
        while True:
            pr = self.host.get(pr.id)
            if pr.state == "MERGED":
                return self._merged(pr, rebases, after_merge)
            if pr.state in ("DECLINED", "SUPERSEDED"):
                raise CheckFailed(
                    f"pull request #{pr.id} ({pr.url}) was declined by {self.host.declined_by(pr)}",
                    hint="nothing was deployed; promote again once the reviewers agree",
                )
            if merge:
                approvers = [a for a in self.host.approvers(pr) if a and a != pr.author]
                if len(approvers) >= self.rule.min_approvals:
                    try:
                        merged = self.host.merge(
                            pr,
                            strategy=self.rule.merge_strategy,
                            message=self._message(pr),
                            close_source_branch=self.rule.delete_branch,
                        )
                    except MergeRefused as refused:
                        if refused.kind in ("conflict", "stale") and rebases < MAX_REBASES and self._moved():
                            self._rebase(pr)
                            rebases += 1
                            continue
                        if not wait:
                            raise
                        why = refused.message
                    else:
                        if merged.state == "MERGED":
                            return self._merged(merged, rebases, after_merge)
                        why = "Bitbucket is still merging it"  # Cloud's 202: the merge runs in the background
                else:
                    why = f"{len(approvers)} of {self.rule.min_approvals} approval(s) other than its author's"
            if not wait:
                return Settled("open", pr, rebases=rebases, waiting_for=why if merge else "")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut(
                    f"pull request #{pr.id} ({pr.url}) not merged after {timeout_s:g}s: {why}",
                    hint="merge it, or run again with a longer --merge-timeout",
                )
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, self.max_poll_s)

    def _message(self, pr: PullRequest) -> str:
        if self.rule.merge_strategy == "squash" and self.commit_message:
            # the squash commit is the only one the GitOps branch keeps: it carries the change's message and
            # its Pipekit-* trailers (the history reads them), said to be the pull request's merge
            subject, _, rest = self.commit_message.strip().partition("\n")
            return f"{subject}\n\nMerged in {pr.source} (pull request #{pr.id}).\n{rest}"
        return f"Merged in {pr.source} (pull request #{pr.id})\n\n{pr.title}"

    def _merged(self, pr: PullRequest, rebases: int, after_merge: Callable[[str], None] | None) -> Settled:
        full = self.full_commit(pr.merge_commit)
        if self.rule.delete_branch:
            self.delete_branch(pr.source)
        if after_merge is not None:
            after_merge(full)
        return Settled("merged", pr, full, rebases)

    def _moved(self) -> bool:
        """True when the GitOps branch is no longer where the pull request's commit was made."""
        return self.remote_heads([self.target]).get(self.target) != self.base

    def _rebase(self, pr: PullRequest) -> None:
        """The edit again on the GitOps branch's new tip, force-pushed to the pull request's branch."""
        assert self._redo is not None
        wrapped = self._redo()
        self.log(f"{self.target} moved on: re-applying the change onto it for pull request #{pr.id}")
        outcome = self.writer.write(self._sparse, wrapped)
        self.base = wrapped.base
        self.commit_message = wrapped.message or self.commit_message
        if outcome.status != "pushed":  # the target already holds the change: nothing left to merge
            self.host.decline(pr, f"{self.target} already holds this change ({outcome.change.note}).")
            raise CheckFailed(f"pull request #{pr.id}: {self.target} already holds its change; declined it")

    # -- the repository ---------------------------------------------------------------------------
    def remote_heads(self, branches: Sequence[str]) -> dict[str, str]:
        with Workspace(self.writer.env, self.writer.username) as ws:
            git = Git(ws.root, ws.env)
            out = git.run(
                "ls-remote",
                "--heads",
                remote_url(self.writer.repo),
                *(f"refs/heads/{b}" for b in branches),
                network=True,
                timeout=60,
            ).stdout
        heads = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            heads[ref.removeprefix("refs/heads/")] = sha
        return heads

    def delete_branch(self, branch: str) -> None:
        if not branch or not self.remote_heads([branch]):
            return
        with Workspace(self.writer.env, self.writer.username) as ws:
            git = Git(ws.repo, ws.env)
            ws.repo.mkdir()
            git.run("init", "--quiet")
            proc = git.run(
                "push",
                "--quiet",
                remote_url(self.writer.repo),
                f":refs/heads/{branch}",
                network=True,
                check=False,
                timeout=60,
            )
        if proc.returncode != 0:
            self.log(f"could not delete branch {branch}: {proc.stderr.strip()}")

    def full_commit(self, given: str | None) -> str:
        """The full 40-character merge commit (Cloud names 12 characters of it): the GitOps branch's tip
        when it starts so, else found in the branch's recent history."""
        if not given:
            raise ExternalError(
                f"Bitbucket did not name the merge commit of the pull request in {self.host.repository}"
            )
        given = given.lower()
        if FULL_SHA.fullmatch(given):
            return given
        tip = self.remote_heads([self.target]).get(self.target, "")
        if tip.startswith(given):
            return tip
        with Workspace(self.writer.env, self.writer.username) as ws:
            git = Git(ws.repo, ws.env)
            ws.repo.mkdir()
            git.run("init", "--quiet", "--bare")
            git.run(
                "fetch",
                "--quiet",
                "--filter=blob:none",
                "--depth=500",
                "--no-tags",
                remote_url(self.writer.repo),
                f"refs/heads/{self.target}",
                network=True,
                timeout=300,
            )
            proc = git.run("rev-parse", "--verify", "--quiet", f"{given}^{{commit}}", check=False)
        if proc.returncode != 0 or not FULL_SHA.fullmatch(proc.stdout.strip()):
            raise ExternalError(f"merge commit {given} is not among the last 500 commits of {self.target}")
        return proc.stdout.strip()


def record(
    service: str,
    environment: str,
    pr: PullRequest | None,
    branch: str,
    *,
    state: str | None = None,
    merge_commit: str | None = None,
) -> dict[str, Any]:
    """What the run record keeps of one pull request."""
    out: dict[str, Any] = {"service": service, "environment": environment, "branch": branch}
    if pr is not None:
        out.update(id=pr.id, url=pr.url, state=state or pr.state)
    if merge_commit:
        out["merge_commit"] = merge_commit
    return out
