"""The rehearsal's reviewers on the Bitbucket stand-in (a real bare repository, real HTTP), and how the
rehearsal's onboarding sends environments by pull request."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.core import config
from pipekit.promotion.pull_request_settings import PullRequestRule
from pipekit.rehearsal import onboard, review
from pipekit.testing.bitbucket import BitbucketStandIn, Repository
from tests.conftest import git

TOKEN = "bot-token-1f2e3d"


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[tuple[BitbucketStandIn, Repository]]:
    with BitbucketStandIn() as bb:
        repo = bb.add_repository("demo-team", "gitops", root=tmp_path, main_branch="master", min_approvals=1)
        bb.add_token(TOKEN, review.BOT)
        work = tmp_path / "work"
        git("clone", "-q", str(repo.path), str(work), cwd=tmp_path)
        (work / "change.txt").write_text("prod: 1.2.3\n")
        git("-c", "user.name=Bot", "-c", "user.email=bot@example.com", "add", ".", cwd=work)
        git("-c", "user.name=Bot", "-c", "user.email=bot@example.com", "commit", "-qm", "promote", cwd=work)
        git("push", "-q", "origin", "HEAD:refs/heads/pipekit/demo-service/prod/1.2.3", cwd=work)
        yield bb, repo


def open_pull_request(bb: BitbucketStandIn, repo: Repository) -> int:
    pr = bb.new_pull_request(
        repo,
        title="Promote demo-service 1.2.3 to prod",
        description="Release notes:\n...",
        source="pipekit/demo-service/prod/1.2.3",
        target="master",
        author=bb.users[review.BOT],
        reviewers=[],
        close_source_branch=True,
    )
    return pr.id


def look_at(bb: BitbucketStandIn, pr_id: int) -> dict:
    """What pipekit's wait does: GET the pull request over the API."""
    request = urllib.request.Request(
        f"{bb.base_url}/2.0/repositories/demo-team/gitops/pullrequests/{pr_id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def settle(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_they_approve_once_pipekit_waits_and_leave_the_merge_to_pipekit(
    standin: tuple[BitbucketStandIn, Repository],
) -> None:
    bb, repo = standin
    reviewer = review.Reviewer(
        bb, repo, {"prod": PullRequestRule("pull-request", merge=True, wait_merge=True)}, patience_s=30
    ).start()
    try:
        pr_id = open_pull_request(bb, repo)
        time.sleep(0.3)
        assert repo.pull_requests[pr_id].approvals == {}  # nobody looked at it yet: the step is not waiting
        assert look_at(bb, pr_id)["participants"] == []
        settle(lambda: repo.pull_requests[pr_id].approvals)
        participants = look_at(bb, pr_id)["participants"]
        assert [(p["user"]["nickname"], p["approved"]) for p in participants] == [(review.REVIEWER, True)]
        assert repo.pull_requests[pr_id].state == "OPEN"  # merge: true, so pipekit merges it, not them
    finally:
        done = reviewer.stop()
    assert reviewer.problems == []
    assert [(d.id, d.approved_by, d.while_waiting, d.author, d.state) for d in done] == [
        (pr_id, [review.REVIEWER], True, review.BOT, "OPEN")
    ]
    assert done[0].url == f"{bb.base_url}/demo-team/gitops/pull-requests/{pr_id}"


def test_with_merge_false_the_configured_reviewers_approve_and_merge(
    standin: tuple[BitbucketStandIn, Repository],
) -> None:
    bb, repo = standin
    rules = {
        "prod": PullRequestRule("pull-request", reviewers=["557058:alice"], min_approvals=2, merge=False)
    }
    review.add_reviewers(bb, rules)
    assert bb.users["557058:alice"].account_id == "557058:alice"
    reviewer = review.Reviewer(
        bb, repo, rules, patience_s=0.2
    ).start()  # pipekit never looks: they act anyway
    try:
        pr_id = open_pull_request(bb, repo)
        settle(lambda: repo.pull_requests[pr_id].state == "MERGED")
    finally:
        done = reviewer.stop()
    assert [(d.approved_by, d.while_waiting, d.merged_by, d.state) for d in done] == [
        (["557058:alice", review.REVIEWER], False, "557058:alice", "MERGED")
    ]
    assert done[0].merge_commit == git("rev-parse", "master", cwd=repo.path)


def test_the_release_notes_are_found_in_the_description() -> None:
    description = (
        "promote preprod -> prod: demo-service 9911790\n\nRelease notes:\ndemo-service: 2 commits - DEMO-1\n"
        "  - 7852888d DEMO-1 Add the demo service (Dev Eloper)\n"
    )
    assert review.in_description("demo-service: DEMO-1 Add the demo service (7852888d)", description)
    assert not review.in_description("demo-service: Another change (0badc0de)", description)
    assert review.approvers(PullRequestRule(min_approvals=3)) == [
        review.REVIEWER,
        f"{review.REVIEWER}-2",
        f"{review.REVIEWER}-3",
    ]


def test_onboarding_sends_prod_by_pull_request_and_names_the_stand_ins_repository() -> None:
    assert onboard.by_pull_request(None, ("dev", "qa", "preprod", "prod")) == ("prod",)
    assert onboard.by_pull_request(None, ("dev", "qa")) == ()
    user = {"environments": {"dev": {}, "qa": {"via": "pull-request"}, "prod": {"via": "commit"}}}
    assert onboard.by_pull_request(user, ("dev", "qa", "prod")) == ("qa",)
    text = (
        "# Generated by pipekit init\nversion: 1\ngitops:\n  repo: http://127.0.0.1:1/gitops.git\n"
        "  # a comment of init's\n  branch: master\n\nargocd:\n  project: demo-service\n"
    )
    out = onboard.with_gitops_pull_request(text)
    assert out.startswith(text.split("\nargocd:")[0])  # init's lines and comments kept, in place
    assert config.parse(out).data["gitops"]["pull_request"] == {
        "workspace": "demo-team",
        "repository": "gitops",
    }
    assert out.endswith("    repository: gitops\n\nargocd:\n  project: demo-service\n")
