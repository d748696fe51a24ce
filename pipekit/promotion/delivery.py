"""What update-tag, promote and rollback call to deliver a change by pull request, and what they record.

A step hands over its edit (the same one a direct commit runs), the service, the environment and
the version it writes; :func:`deliver` picks the host from the settings, opens (or finds) the pull
request, and with ``merge``/``wait`` settles it, saying each move on the console and handing each
state to ``record`` (the step's run-record outputs) as it happens, so a declined or timed-out
pull request is still in the record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pipekit.clients.git import TOKEN_ENV, Git
from pipekit.clients.pull_requests import PullRequestHost
from pipekit.core.errors import CheckFailed
from pipekit.core.options import option
from pipekit.gitops.writer import Edit, WriteOutcome, Writer
from pipekit.promotion.pull_request import PullRequestFlow, branch_name, record
from pipekit.promotion.pull_request_settings import API_ENV, SERVER_ENV, PullRequestRule, host_for, location


@dataclass(kw_only=True)
class DeliveryOptions:
    """How update-tag, promote and rollback deliver their change: a commit, or a pull request."""

    via: Literal["commit", "pull-request"] | None = option(
        flag="--via",
        help="Deliver by a commit to the GitOps branch or by a pull request "
        "[default: environments.<env>.via, else commit].",
    )
    # merge, wait_merge, merge_timeout: a flag or variable beats
    # environments.<env>.pull_request (PullRequestRule)
    merge: bool | None = option(
        flag="--merge",
        env="PIPEKIT_PULL_REQUEST_MERGE",
        help="Merge the pull request once enough people other than its author approved it "
        "[default: environments.<env>.pull_request.merge, else no].",
    )
    wait_merge: bool | None = option(
        flag="--wait-merge",
        env="PIPEKIT_PULL_REQUEST_WAIT_MERGE",
        help="Wait until the pull request is merged (exit 0), declined (1) or "
        "--merge-timeout passes (4) [default: environments.<env>.pull_request."
        "wait_merge, else no].",
    )
    merge_timeout: float | None = option(
        flag="--merge-timeout",
        env="PIPEKIT_PULL_REQUEST_MERGE_TIMEOUT",
        above=0,
        help="Seconds --wait-merge waits [default: environments.<env>.pull_request."
        "merge_timeout, else 3600].",
    )
    server_url: str | None = option(
        env=SERVER_ENV,
        config="gitops.pull_request.server_url",
        help="Bitbucket Data Center base URL (pull requests go to Cloud without it).",
    )
    api_url: str | None = option(
        env=API_ENV, help="Bitbucket Cloud API base [default https://api.bitbucket.org]."
    )
    workspace: str | None = option(
        config="gitops.pull_request.workspace",
        help="Cloud workspace [default: from the GitOps repository URL].",
    )
    project: str | None = option(
        config="gitops.pull_request.project",
        help="Data Center project key [default: from the GitOps repository URL].",
    )
    repository: str | None = option(
        config="gitops.pull_request.repository",
        help="Repository slug [default: from the GitOps repository URL].",
    )


@dataclass
class ChangeRequest:
    """One service's change (the step's edit and how to name it)."""

    service: str
    environment: str
    sparse: Sequence[str] | Callable[[Git], Sequence[str]]
    edit: Edit
    version: Callable[[], str]  # what it writes (a tag, else a digest), known once the edit ran
    title: Callable[[], str]


DeliveryStatus = Literal["opened", "open", "merged", "unchanged", "dry-run"]


@dataclass
class Delivered:
    status: DeliveryStatus
    record: dict[str, Any]
    outcome: WriteOutcome  # the GitOps writer's (the branch's commit, its diff)
    merge_commit: str | None = None  # the full commit, once merged: the GitOps revision to wait for
    superseded: list[int] = field(default_factory=list)


def deliver(
    ctx: Any,
    writer: Writer,
    rule: PullRequestRule,
    *,
    options: DeliveryOptions,
    change: ChangeRequest,
    dry_run: bool,
    record_to: Callable[[dict[str, Any]], None],
    after_merge: Callable[[str], None] | None = None,
    poll_s: float = 0.5,
) -> Delivered:
    """Open (or find) the pull request for ``change``; merge and wait as ``options`` say."""
    con = ctx.console
    if dry_run:  # the diff the branch would hold; no server is asked, nothing pushed
        outcome = writer.write(change.sparse, change.edit, dry_run=True)
        name = (
            branch_name(change.service, change.environment, change.version()) if outcome.change.paths else ""
        )
        status: DeliveryStatus = "dry-run" if outcome.status == "dry-run" else "unchanged"
        return Delivered(status, record(change.service, change.environment, None, name), outcome)
    where = location(
        writer.repo,
        server_url=options.server_url,
        api_url=options.api_url,
        workspace=options.workspace,
        project=options.project,
        repository=options.repository,
    )
    token, username = ctx.env.get(TOKEN_ENV), writer.username or ctx.env.get("PIPEKIT_GITOPS_USERNAME")
    if not (token or "").strip():
        host_for(where, token)  # exit 2 naming the variables, before anything is cloned
    host = cast(PullRequestHost, _Deferred(lambda: host_for(where, token, username)))
    flow = PullRequestFlow(host, writer, rule, environment=change.environment, log=con.debug, poll_s=poll_s)
    opened = flow.open(
        change.sparse, change.edit, service=change.service, version=change.version, title=change.title
    )
    pr = opened.pull_request
    entry = record(change.service, change.environment, pr, opened.branch)
    record_to(entry)
    if pr is None or opened.status not in ("opened", "open"):
        con.success(
            f"{change.service} in {change.environment}: already there "
            f"({opened.outcome.change.note or 'no change'})"
            "; no pull request"
        )
        return Delivered("unchanged", entry, opened.outcome)
    if opened.status == "open":
        con.success(
            f"{change.service} in {change.environment}: pull request #{pr.id} is already open: {pr.url}"
        )
    else:
        con.success(f'opened pull request #{pr.id} "{pr.title}" on {host.repository}: {pr.url}')
    for old in opened.superseded:
        con.info(f"  declined pull request #{old}: superseded by #{pr.id}")
    merge, wait, timeout = settling(options, rule)
    if not (merge or wait):
        return Delivered(
            "open" if opened.status == "open" else "opened",
            entry,
            opened.outcome,
            superseded=opened.superseded,
        )
    if wait:
        con.info(
            f"waiting up to {timeout:g}s for pull request #{pr.id} to be merged"
            + (f" (merging it once {rule.min_approvals} other than its author approved)" if merge else "")
        )
    try:
        settled = flow.settle(pr, merge=merge, wait=wait, timeout_s=timeout, after_merge=after_merge)
    except CheckFailed:
        latest = host.get(pr.id)
        record_to(record(change.service, change.environment, latest, opened.branch))
        raise
    entry = record(
        change.service,
        change.environment,
        settled.pull_request,
        opened.branch,
        state="MERGED" if settled.status == "merged" else None,
        merge_commit=settled.merge_commit,
    )
    record_to(entry)
    if settled.status == "merged" and settled.merge_commit:
        rebased = f" after {settled.rebases} rebase(s)" if settled.rebases else ""
        con.success(f"pull request #{pr.id} merged as {settled.merge_commit[:12]}{rebased}")
        return Delivered("merged", entry, opened.outcome, settled.merge_commit, opened.superseded)
    con.info(f"pull request #{pr.id} stays open: {settled.waiting_for or 'not merged yet'}")
    return Delivered(
        "open" if opened.status == "open" else "opened", entry, opened.outcome, superseded=opened.superseded
    )


def settling(options: DeliveryOptions, rule: PullRequestRule) -> tuple[bool, bool, float]:
    """(merge, wait for the merge, seconds to wait):
    a flag or variable beats the environment's ``pull_request``."""
    return (
        rule.merge if options.merge is None else options.merge,
        rule.wait_merge if options.wait_merge is None else options.wait_merge,
        rule.merge_timeout if options.merge_timeout is None else options.merge_timeout,
    )


class _Deferred:
    """The host's client, made on first use: its HTTP stack is imported while git clones (the open pull
    requests are asked for then), not before."""

    def __init__(self, make: Callable[[], PullRequestHost]) -> None:
        self._make = make
        self._host: PullRequestHost | None = None

    def __getattr__(self, name: str) -> Any:
        if self._host is None:
            self._host = self._make()
        return getattr(self._host, name)
