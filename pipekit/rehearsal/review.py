"""The reviewers of the rehearsal's pull requests, played on the Bitbucket stand-in.

An environment onboarded with ``init --via-pull-request`` goes by pull request: its step's
``pipekit promote`` (or ``update-tag``) opens one on the stand-in and, as ``pipekit.yaml`` says,
waits for it to be approved and merged. Nobody is there to review it, so :class:`Reviewer` does
what the people would, on a thread beside the pipeline: once pipekit has looked at a new pull
request (the step is waiting for it), the environment's reviewers approve it (its configured
``reviewers``, else ``release-manager``; as many as ``min_approvals``), never its author; where
the rule leaves the merge to them (``merge: false``), the first of them merges it, as in the web
UI. What they did, and what the pull request held, is the summary's account (:func:`outcomes`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipekit.promotion.pull_request_settings import PullRequestRule
    from pipekit.testing.bitbucket import BitbucketStandIn, Repository

PULL_REQUEST_REPO = (
    "demo-team",
    "gitops",
)  # the stand-in's Cloud workspace and repository of the GitOps repository
BOT = "pipekit-bot"  # the user the pipeline's PIPEKIT_GITOPS_TOKEN acts as (the pull requests' author)
REVIEWER = "release-manager"
STRATEGIES = {"merge": "merge_commit", "squash": "squash", "fast-forward": "fast_forward"}


@dataclass
class Reviewed:
    """One pull request the reviewers dealt with, and what the pipeline made of it."""

    environment: str
    id: int
    url: str
    title: str = ""
    author: str = ""
    state: str = "OPEN"
    approved_by: list[str] = field(default_factory=list)
    while_waiting: bool = False  # approved after pipekit had looked at it: the step was waiting
    merged_by: str = ""
    merge_commit: str = ""
    description: str = ""
    notes: list[str] = field(default_factory=list)  # the release-notes lines promote recorded
    commits: int = 0  # ... the commits they count, and their Jira keys
    jira: list[str] = field(default_factory=list)
    notes_in_description: bool = False
    deployed: str = ""  # the revision the step's wait-for-argocd saw synced

    def line(self) -> str:
        counted = f"{self.commits} commit(s)" + (f", {' '.join(self.jira)}" if self.jira else "")
        held = (
            f"the release notes in its description ({counted})"
            if self.notes_in_description
            else "its description lacks the release notes"
            if self.notes
            else "no release notes recorded"
        )
        approved = (
            (
                f"approved by {', '.join(self.approved_by)}"
                + (" while the step waited" if self.while_waiting else "")
            )
            if self.approved_by
            else "not approved"
        )
        merged = (
            f"merged by {self.merged_by} as {self.merge_commit[:12]}"
            if self.state == "MERGED"
            else f"{self.state.lower()}"
        )
        synced = (
            "; Argo CD synced the merge commit"
            if self.merge_commit and self.deployed == self.merge_commit
            else f"; Argo CD was waited for at {self.deployed[:12]}"
            if self.deployed
            else ""
        )
        return (
            f'{self.environment} by pull request #{self.id} {self.url} "{self.title}": {held}; {approved}; '
            f"{merged}{synced}"
        )


def approvers(rule: PullRequestRule) -> list[str]:
    """Who approves: the configured reviewers, then release managers, as many as ``min_approvals``."""
    names = list(rule.reviewers)
    while len(names) < rule.min_approvals:
        names.append(REVIEWER if REVIEWER not in names else f"{REVIEWER}-{len(names) + 1}")
    return names[: max(rule.min_approvals, 1)]


def add_reviewers(standin: BitbucketStandIn, rules: Mapping[str, PullRequestRule]) -> None:
    """The configured reviewers are users the stand-in knows
    (a Cloud reviewer is named by account id or uuid)."""
    from pipekit.testing.bitbucket import User

    for rule in rules.values():
        for name in rule.reviewers:
            if name not in standin.users:
                uuid = name if name.startswith("{") else ""
                standin.users[name] = User(name, uuid=uuid, account_id="" if uuid else name)


class Reviewer:
    def __init__(
        self,
        standin: BitbucketStandIn,
        repo: Repository,
        rules: Mapping[str, PullRequestRule],
        *,
        poll_s: float = 0.05,
        patience_s: float = 3.0,
    ) -> None:
        self.standin, self.repo, self.rules = standin, repo, dict(rules)
        self.poll_s, self.patience_s = (
            poll_s,
            patience_s,
        )  # approve anyway when pipekit does not look for so long
        self.reviewed: dict[int, Reviewed] = {}
        self.problems: list[str] = []
        self._first_seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rehearsal-reviewer", daemon=True)

    def start(self) -> Reviewer:
        self._thread.start()
        return self

    def stop(self) -> list[Reviewed]:
        self._stop.set()
        self._thread.join(timeout=5)
        for entry in self.reviewed.values():  # what became of each
            pr = self.repo.pull_requests[entry.id]
            entry.state, entry.merge_commit = pr.state, pr.merge_commit or ""
            entry.merged_by = pr.closed_by.name if pr.state == "MERGED" and pr.closed_by else ""
            entry.title, entry.description, entry.author = pr.title, pr.description, pr.author.name
        return [self.reviewed[n] for n in sorted(self.reviewed)]

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.review()
            except Exception as exc:  # said in the summary; the step then waits in vain and says so
                self.problems.append(f"the rehearsal's reviewer: {type(exc).__name__}: {exc}")
                return

    def review(self) -> None:
        for pr in list(self.repo.pull_requests.values()):
            if pr.id in self.reviewed or pr.state != "OPEN":
                continue
            parts = pr.source.split("/")
            rule = self.rules.get(parts[2]) if len(parts) >= 4 else None
            if rule is None:
                continue
            first = self._first_seen.setdefault(pr.id, time.monotonic())
            looked = self._looked_at(pr.id)
            if not looked and time.monotonic() - first < self.patience_s:
                continue
            names = [n for n in approvers(rule) if n != pr.author.name]
            for name in names:
                self.standin.approve(self.repo, pr.id, name)
            self.reviewed[pr.id] = Reviewed(
                parts[2], pr.id, self._url(pr.id), approved_by=names, while_waiting=looked
            )
            if not rule.merge:  # the rule leaves the merge to the reviewers
                self.standin.merge(self.repo, pr.id, names[0], STRATEGIES[rule.merge_strategy])

    def _looked_at(self, pr_id: int) -> bool:
        """pipekit asked for the pull request since it was opened (the step is settling it)."""
        path = f"/2.0/repositories/{self.repo.owner}/{self.repo.slug}/pullrequests/{pr_id}"
        return any(
            method == "GET" and where.split("?")[0] == path
            for method, where, _ in list(self.standin.requests)
        )

    def _url(self, pr_id: int) -> str:
        return f"{self.standin.base_url}/{self.repo.owner}/{self.repo.slug}/pull-requests/{pr_id}"


def outcomes(reviewed: Sequence[Reviewed], run_folder: Path, steps: Sequence[Any]) -> list[Reviewed]:
    """Each pull request beside what its step recorded: the release notes,
    and the revision Argo CD was waited at."""
    for entry in reviewed:
        step = next((s for s in reversed(steps) if s.deployment == entry.environment), None)
        record = (
            run_folder / "steps" / step.key / "clone" / ".pipekit" / "run.json" if step is not None else None
        )
        try:
            data = json.loads(record.read_text(encoding="utf-8"))["steps"] if record is not None else {}
        except (OSError, ValueError, KeyError):
            data = {}
        outputs = (data.get("promote") or data.get("update_tag") or {}).get("outputs") or {}
        notes = outputs.get("notes") or {}
        entry.notes = [str(line) for line in notes.get("lines") or []]
        entry.commits, entry.jira = int(notes.get("commits") or 0), [str(k) for k in notes.get("jira") or []]
        entry.notes_in_description = bool(entry.notes) and all(
            in_description(line, entry.description) for line in entry.notes
        )
        entry.deployed = str(((data.get("wait_for_argocd") or {}).get("outputs") or {}).get("revision") or "")
    return list(reviewed)


def write(reviewed: Sequence[Reviewed], folder: Path) -> None:
    """Each pull request as the stand-in held it, and what the pipeline made of it: ``folder/<id>.json``."""
    from dataclasses import asdict

    for entry in reviewed:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{entry.id}.json").write_text(json.dumps(asdict(entry), indent=2) + "\n", encoding="utf-8")


def in_description(line: str, description: str) -> bool:
    """A release-notes line (``service: subject (sha8)``, as promote records it) is in the description:
    its subject and its commit both."""
    head, _, sha = line.rpartition(" (")
    subject = head.partition(": ")[2] or head
    return subject.rstrip(".") in description and sha.rstrip(")") in description


def reviewer(world: Any, onboarded: Any, settings: Mapping[str, Any], branch: str) -> Reviewer:
    """The stand-in serving the onboarded GitOps repository's pull requests, and its reviewers at work."""
    from pipekit.promotion.pull_request_settings import rule_for

    envs = settings.get("environments") or {}
    rules = {env: rule_for(envs, env) for env in onboarded.pull_request_envs}
    owner, slug = PULL_REQUEST_REPO
    repo = world.serve_pull_requests(
        onboarded.gitops,
        branch,
        max(r.min_approvals for r in rules.values()),
        owner=owner,
        slug=slug,
        bot=BOT,
    )
    add_reviewers(world.bitbucket, rules)
    return Reviewer(world.bitbucket, repo, rules).start()


def substituted(environments: Sequence[str]) -> list[tuple[str, str, str]]:
    """The summary's rows: Bitbucket's pull requests, and the people who review them."""
    envs = ", ".join(environments)
    return [
        (
            f"Bitbucket Cloud's pull requests on the GitOps repository ({envs})",
            "pipekit's Bitbucket stand-in, over the same bare repository the git host serves",
            f"PIPEKIT_BITBUCKET_API_URL (a deployment variable of {envs}); gitops.pull_request.workspace, "
            "repository; PIPEKIT_GITOPS_TOKEN",
        ),
        (
            "a reviewer's approval (someone other than the pull request's author)",
            f"the rehearsal approving as {REVIEWER} (or the configured reviewers) once the step waits",
            "the stand-in's approval, as in Bitbucket's web UI",
        ),
    ]
