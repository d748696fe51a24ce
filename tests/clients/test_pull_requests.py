"""The Cloud and Data Center pull-request clients against the Bitbucket stand-in,
and the settings that pick them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.clients.bitbucket_cloud import BitbucketCloud
from pipekit.clients.bitbucket_dc import BitbucketDataCenter
from pipekit.clients.pull_requests import MergeRefused, PullRequestHost, UnknownReviewers
from pipekit.core import masking
from pipekit.core.errors import BadInput, ExternalError
from pipekit.promotion import pull_request_settings as prs
from pipekit.testing.bitbucket import BitbucketStandIn
from tests.testing.test_bitbucket import branch


@pytest.fixture
def bb(tmp_path: Path) -> Iterator[BitbucketStandIn]:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "a.txt").write_text("one\ntwo\nthree\n")
    with BitbucketStandIn() as standin:
        standin.add_repository("acme", "gitops", root=tmp_path, seed=seed, min_approvals=1)
        standin.add_token("bot-token-123", "pipekit-bot")
        standin.add_user("alice")
        yield standin


def client(bb: BitbucketStandIn, flavour: str, token: str = "bot-token-123", **kw: str) -> PullRequestHost:
    if flavour == "cloud":
        return BitbucketCloud(bb.base_url, "acme", kw.get("repo", "gitops"), token=token)
    return BitbucketDataCenter(bb.base_url, "acme", kw.get("repo", "gitops"), token=token)


def reviewer(bb: BitbucketStandIn, flavour: str, name: str) -> str:
    return bb.users[name].account_id if flavour == "cloud" else name


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_open_approve_merge_and_who_declined(bb: BitbucketStandIn, tmp_path: Path, flavour: str) -> None:
    repo = bb.repository("acme", "gitops")
    host = client(bb, flavour)
    branch(bb, tmp_path, "pipekit/orders/prod/v2", 0, "v2")
    branch(bb, tmp_path, "pipekit/billing/prod/v7", 2, "v7")
    with pytest.raises(UnknownReviewers) as unknown:
        host.create(
            title="t",
            description="d",
            source="pipekit/orders/prod/v2",
            target="main",
            reviewers=[
                reviewer(bb, flavour, "alice"),
                "{00000000-0000-0000-0000-00000000dead}" if flavour == "cloud" else "mallory",
            ],
            close_source_branch=True,
        )
    assert unknown.value.names == [
        "{00000000-0000-0000-0000-00000000dead}" if flavour == "cloud" else "mallory"
    ]
    assert not repo.pull_requests  # nothing was opened
    pr = host.create(
        title="Promote orders v2 to prod",
        description="notes",
        source="pipekit/orders/prod/v2",
        target="main",
        reviewers=[reviewer(bb, flavour, "alice")],
        close_source_branch=True,
    )
    other = host.create(
        title="Promote billing v7 to prod",
        description="",
        source="pipekit/billing/prod/v7",
        target="main",
        reviewers=[],
        close_source_branch=True,
    )
    assert [p.id for p in host.open_pull_requests("main")] == [other.id, pr.id]
    assert pr.state == "OPEN" and pr.url.endswith(f"/pull-requests/{pr.id}")
    with pytest.raises(MergeRefused) as refused:
        host.merge(pr, strategy="merge", message="m", close_source_branch=True)
    assert refused.value.kind == "vetoed"
    bb.approve(repo, pr.id, "pipekit-bot")
    bb.approve(repo, pr.id, "alice")
    assert sorted(host.approvers(pr)) == sorted([pr.author, reviewer(bb, flavour, "alice")])
    merged = host.merge(pr, strategy="merge", message="m", close_source_branch=True)
    assert merged.state == "MERGED"
    assert merged.merge_commit and repo.head(
        "main",
    ).startswith(merged.merge_commit)  # type: ignore[union-attr]
    assert len(merged.merge_commit) == (12 if flavour == "cloud" else 40)
    bb.decline(repo, other.id, "alice")
    assert host.declined_by(host.get(other.id)) == "Alice"


def test_data_center_retries_a_stale_version_once(bb: BitbucketStandIn, tmp_path: Path) -> None:
    repo = bb.repository("acme", "gitops")
    host = client(bb, "datacenter")
    branch(bb, tmp_path, "feature", 0, "x")
    pr = host.create(
        title="t", description="", source="feature", target="main", reviewers=[], close_source_branch=False
    )
    bb.approve(repo, pr.id, "alice")
    bb.races = 1  # someone edits it between our read and our merge
    merged = host.merge(pr, strategy="squash", message="m", close_source_branch=False)
    assert merged.state == "MERGED"
    stale = [r for r in bb.requests if r[0] == "POST" and "/merge" in r[1]]
    assert [s for _, _, s in stale] == [409, 200]
    assert "version=1" in stale[1][1]


@pytest.mark.parametrize("flavour, status", [("cloud", 404), ("datacenter", 403)])
def test_a_repository_the_token_cannot_see_is_exit_3_naming_status_and_repo(
    bb: BitbucketStandIn, flavour: str, status: int
) -> None:
    bb.add_token("narrow-token-456", "carol", repos=[])
    with pytest.raises(ExternalError) as err:
        client(bb, flavour, token="narrow-token-456").open_pull_requests("main")
    assert f"HTTP {status}" in str(err.value) and "acme/gitops" in str(err.value)
    with pytest.raises(BadInput) as bad:
        client(bb, flavour, token="not-a-token").open_pull_requests("main")
    assert "HTTP 401" in str(bad.value) and "PIPEKIT_GITOPS_TOKEN" in str(bad.value)
    assert "not-a-token" not in str(bad.value)


def test_tokens_are_masked_in_every_form(bb: BitbucketStandIn) -> None:
    BitbucketDataCenter(bb.base_url, "acme", "gitops", token="bot-token-123", username="pipekit-bot")
    import base64

    basic = base64.b64encode(b"pipekit-bot:bot-token-123").decode()
    assert (
        masking.mask(f"Authorization: Basic {basic} and bot-token-123") == "Authorization: Basic *** and ***"
    )


def test_retries_a_busy_server(bb: BitbucketStandIn) -> None:
    bb.fail_next(503, times=2)
    assert client(bb, "cloud").open_pull_requests("main") == []


def test_settings_pick_the_flavour_and_the_repository() -> None:
    cloud = prs.location("git@bitbucket.org:acme/gitops.git")
    assert (cloud.flavour, cloud.base_url, cloud.owner, cloud.repository) == (
        "cloud",
        "https://api.bitbucket.org",
        "acme",
        "gitops",
    )
    assert (
        prs.location("https://bitbucket.org/acme/gitops.git", api_url="http://127.0.0.1:9/").base_url
        == "http://127.0.0.1:9"
    )
    dc = prs.location(
        "https://git.example.com/bb/scm/OPS/gitops.git", server_url="https://git.example.com/bb/"
    )
    assert (dc.flavour, dc.base_url, dc.owner, dc.repository) == (
        "datacenter",
        "https://git.example.com/bb",
        "OPS",
        "gitops",
    )
    ssh = prs.location("ssh://git@git.example.com:7999/ops/gitops.git", server_url="https://git.example.com")
    assert (ssh.owner, ssh.repository) == ("ops", "gitops")
    named = prs.location("/tmp/gitops.git", server_url="http://127.0.0.1:1", project="P", repository="r")
    assert (named.flavour, named.owner, named.repository) == ("datacenter", "P", "r")
    with pytest.raises(BadInput, match="gitops.pull_request.workspace"):
        prs.location("/tmp/gitops.git")
    with pytest.raises(BadInput, match="gitops.pull_request.workspace"):
        prs.location("https://github.com/acme/gitops.git")  # not Bitbucket Cloud
    with pytest.raises(BadInput) as missing:
        prs.host_for(cloud, None)
    assert "PIPEKIT_GITOPS_TOKEN" in str(missing.value) and "PIPEKIT_GITOPS_USERNAME" in str(missing.value)


@pytest.mark.parametrize("value", [0, -1, "two", 1.5, True])
def test_min_approvals_must_be_a_positive_number(value: object) -> None:
    with pytest.raises(BadInput, match="environments.prod.pull_request.min_approvals"):
        prs.rule_for({"prod": {"via": "pull-request", "pull_request": {"min_approvals": value}}}, "prod")


def test_rule_defaults_and_the_flag_beats_the_file() -> None:
    rule = prs.rule_for({"prod": {"via": "pull-request", "pull_request": {"reviewers": ["alice"]}}}, "prod")
    assert (rule.via, rule.reviewers, rule.min_approvals, rule.merge_strategy, rule.delete_branch) == (
        "pull-request",
        ["alice"],
        1,
        "merge",
        True,
    )
    assert prs.rule_for({"prod": {"via": "pull-request"}}, "prod", via="commit").via == "commit"
    assert prs.rule_for({}, "qa").via == "commit"
    with pytest.raises(BadInput, match="merge_strategy"):
        prs.rule_for({"prod": {"pull_request": {"merge_strategy": "rebase"}}}, "prod")
    with pytest.raises(BadInput, match="environments.prod.via"):
        prs.rule_for({"prod": {"via": "email"}}, "prod")


def test_the_description_is_the_commits_notes_without_its_trailers() -> None:
    from pipekit.promotion.pull_request import branch_name, describe

    message = (
        "promote preprod -> prod: orders 1.4.2\n\norders: 1.4.1 -> registry/orders:1.4.2\n\n"
        "orders: 3 commits (ORD-12)\n- Fix the refund rounding (ab12cd34)\n\n"
        "Pipekit-Environment: prod\nPipekit-Promoted-From: preprod\nPipekit-Service: orders\n"
        "Pipekit-Tag: 1.4.2\nPipekit-Source-Commit: 0123456789abcdef\n"
    )
    text = describe(message, branch="pipekit/orders/prod/1.4.2", target="main", environment="prod")
    body, _, footer = text.partition("\n---\n")
    assert body.startswith("promote preprod -> prod: orders 1.4.2\n\norders: 1.4.1 -> registry/orders:1.4.2")
    assert "- Fix the refund rounding (ab12cd34)" in body and "Pipekit-" not in body
    assert "- orders: built from source commit `0123456789abcdef`" in body
    assert "`pipekit/orders/prod/1.4.2`" in footer and "deploys to prod" in footer
    assert branch_name("orders", "prod", "sha256:" + "a" * 12) == "pipekit/orders/prod/sha256-aaaaaaaaaaaa"
