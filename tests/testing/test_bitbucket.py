"""The Bitbucket stand-in over real HTTP: both flavours' shapes, paging, errors, and real git merges."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipekit.testing.bitbucket import BitbucketStandIn, Repository

CLOUD = "/2.0/repositories/acme/gitops"
DC = "/rest/api/latest/projects/ACME/repos/gitops"
IDENT = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(*args: str, cwd: Path) -> str:
    import os

    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ, **IDENT}
    ).stdout.strip()


@pytest.fixture
def bb(tmp_path: Path) -> Iterator[BitbucketStandIn]:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "a.txt").write_text("one\ntwo\nthree\n")
    with BitbucketStandIn() as standin:
        standin.add_repository("acme", "gitops", root=tmp_path, seed=seed, min_approvals=1)
        standin.add_repository(
            "ACME", "gitops", path=tmp_path / "acme-gitops.git"
        )  # the same repository, DC's key
        standin.add_token("bot-token", "pipekit-bot")
        standin.add_token("alice-token", "alice")
        standin.add_token("narrow-token", "carol", repos=[("other", "repo")])
        yield standin


def branch(bb: BitbucketStandIn, tmp_path: Path, name: str, line: int, text: str) -> str:
    """Push a branch off main that changes line ``line`` of a.txt."""
    repo = bb.repository("acme", "gitops")
    work = tmp_path / f"work-{name.replace('/', '-')}"
    git("clone", "-q", str(repo.path), str(work), cwd=tmp_path)
    lines = (work / "a.txt").read_text().splitlines()
    lines[line] = text
    (work / "a.txt").write_text("\n".join(lines) + "\n")
    git("commit", "-qam", f"change {name}", cwd=work)
    git("push", "-q", "origin", f"HEAD:refs/heads/{name}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def call(
    bb: BitbucketStandIn, method: str, path: str, token: str = "bot-token", **kwargs: object
) -> requests.Response:
    return requests.request(
        method, bb.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs
    )  # type: ignore[arg-type]


def cloud_pr(bb: BitbucketStandIn, source: str, **extra: object) -> dict:
    r = call(
        bb,
        "POST",
        f"{CLOUD}/pullrequests",
        json={"title": f"t {source}", "source": {"branch": {"name": source}}, **extra},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_cloud_create_list_page_and_the_shapes(bb: BitbucketStandIn, tmp_path: Path) -> None:
    for n in range(3):
        branch(bb, tmp_path, f"pipekit/s{n}/prod/v{n}", n, f"s{n}")
    alice = bb.users["alice"]
    made = cloud_pr(
        bb,
        "pipekit/s0/prod/v0",
        reviewers=[{"uuid": alice.uuid}],
        close_source_branch=True,
        description="notes",
    )
    assert made["state"] == "OPEN" and made["destination"]["branch"]["name"] == "main"
    assert made["author"]["nickname"] == "pipekit-bot" and made["reviewers"][0]["uuid"] == alice.uuid
    assert made["links"]["html"]["href"].endswith("/acme/gitops/pull-requests/1")
    assert len(made["source"]["commit"]["hash"]) == 12
    cloud_pr(bb, "pipekit/s1/prod/v1")
    cloud_pr(bb, "pipekit/s2/prod/v2")
    first = call(bb, "GET", f"{CLOUD}/pullrequests", params={"pagelen": 2}).json()
    assert (
        [v["id"] for v in first["values"]] == [3, 2]
        and first["size"] == 3
        and "participants" not in first["values"][0]
    )
    second = call(bb, "GET", first["next"].removeprefix(bb.base_url)).json()
    assert [v["id"] for v in second["values"]] == [1] and "next" not in second
    found = call(
        bb, "GET", f"{CLOUD}/pullrequests", params={"q": 'source.branch.name ~ "pipekit/s1/"'}
    ).json()
    assert [v["id"] for v in found["values"]] == [2]


def test_cloud_errors(bb: BitbucketStandIn, tmp_path: Path) -> None:
    branch(bb, tmp_path, "feature", 0, "x")
    r = call(
        bb,
        "POST",
        f"{CLOUD}/pullrequests",
        json={
            "title": "t",
            "source": {"branch": {"name": "feature"}},
            "reviewers": [{"uuid": "{00000000-0000-0000-0000-000000000000}"}],
        },
    )
    assert r.status_code == 400
    assert r.json() == {
        "type": "error",
        "error": {
            "message": "reviewers: Malformed reviewers list",
            "fields": {"reviewers": ["Malformed reviewers list"]},
        },
    }
    assert call(bb, "GET", CLOUD, token="wrong").status_code == 401
    r = call(bb, "GET", CLOUD, token="narrow-token")
    assert r.status_code == 404 and "may not have access" in r.json()["error"]["message"]
    assert call(bb, "GET", f"{CLOUD}/pullrequests/99").status_code == 404


@pytest.mark.parametrize("strategy, parents", [("merge_commit", 2), ("squash", 1), ("fast_forward", None)])
def test_cloud_merges_for_real(
    bb: BitbucketStandIn, tmp_path: Path, strategy: str, parents: int | None
) -> None:
    repo = bb.repository("acme", "gitops")
    tip = branch(bb, tmp_path, "feature", 0, "x")
    pr = cloud_pr(bb, "feature", close_source_branch=True)
    r = call(bb, "POST", f"{CLOUD}/pullrequests/{pr['id']}/merge", json={"merge_strategy": strategy})
    assert r.status_code == 400 and "merge checks" in r.json()["error"]["message"]  # no approval yet
    bb.approve(repo, pr["id"], "pipekit-bot")  # the author's own approval does not count
    assert (
        call(
            bb, "POST", f"{CLOUD}/pullrequests/{pr['id']}/merge", json={"merge_strategy": strategy}
        ).status_code
        == 400
    )
    assert call(bb, "POST", f"{CLOUD}/pullrequests/{pr['id']}/approve", token="alice-token").json()[
        "approved"
    ]
    r = call(bb, "POST", f"{CLOUD}/pullrequests/{pr['id']}/merge", json={"merge_strategy": strategy})
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["state"] == "MERGED" and len(merged["merge_commit"]["hash"]) == 12
    head = repo.head("main")
    assert head and head.startswith(merged["merge_commit"]["hash"])
    if parents is None:
        assert head == tip
    else:
        assert len(git("rev-list", "--parents", "-1", head, cwd=repo.path).split()) == 1 + parents
    assert git("show", "main:a.txt", cwd=repo.path).splitlines()[0] == "x"
    assert repo.head("feature") is None  # close_source_branch


def test_conflicts_and_fast_forward_after_the_target_moved(bb: BitbucketStandIn, tmp_path: Path) -> None:
    repo = bb.repository("acme", "gitops")
    repo.min_approvals = 0
    branch(bb, tmp_path, "one", 0, "first")
    branch(bb, tmp_path, "two", 1, "second")  # the adjacent line: git calls it a conflict
    branch(bb, tmp_path, "three", 2, "ff")
    one, two, three = (cloud_pr(bb, n)["id"] for n in ("one", "two", "three"))
    assert call(bb, "POST", f"{CLOUD}/pullrequests/{one}/merge", json={}).status_code == 200
    r = call(bb, "POST", f"{CLOUD}/pullrequests/{two}/merge", json={})
    assert r.status_code == 400 and r.json()["error"]["message"] == "Conflicts during merge."
    r = call(bb, "POST", f"{CLOUD}/pullrequests/{three}/merge", json={"merge_strategy": "fast_forward"})
    assert r.status_code == 400 and "cannot be fast-forwarded" in r.json()["error"]["message"]
    assert git("show", "main:a.txt", cwd=repo.path).splitlines() == ["first", "two", "three"]


def test_data_center_shapes_paging_versions_and_vetoes(bb: BitbucketStandIn, tmp_path: Path) -> None:
    bb.page_size = 1
    repo = bb.repository("ACME", "gitops")
    repo.min_approvals = 1
    branch(bb, tmp_path, "pipekit/a/prod/1", 0, "a")
    branch(bb, tmp_path, "pipekit/b/prod/1", 1, "b")
    body = {
        "title": "A",
        "fromRef": {"id": "refs/heads/pipekit/a/prod/1"},
        "toRef": {"id": "refs/heads/main"},
        "reviewers": [{"user": {"name": "alice"}}, {"user": {"name": "bob"}}],
    }
    r = call(bb, "POST", f"{DC}/pull-requests", json=body)
    assert r.status_code == 409
    error = r.json()["errors"][0]
    assert error["exceptionName"].endswith("InvalidPullRequestReviewersException")
    assert error["reviewerErrors"] == [
        {"context": "bob", "message": "bob is not a user.", "exceptionName": None}
    ]
    body["reviewers"] = [{"user": {"name": "alice"}}]
    a = call(bb, "POST", f"{DC}/pull-requests", json=body).json()
    assert (
        a["version"] == 0
        and a["fromRef"]["id"] == "refs/heads/pipekit/a/prod/1"
        and a["author"]["role"] == "AUTHOR"
    )
    assert (
        call(bb, "POST", f"{DC}/pull-requests", json=body)
        .json()["errors"][0]["exceptionName"]
        .endswith("DuplicatePullRequestException")
    )
    call(
        bb,
        "POST",
        f"{DC}/pull-requests",
        json={**body, "title": "B", "fromRef": {"id": "refs/heads/pipekit/b/prod/1"}},
    )
    first = call(bb, "GET", f"{DC}/pull-requests").json()
    assert first["isLastPage"] is False and first["nextPageStart"] == 1 and len(first["values"]) == 1
    last = call(bb, "GET", f"{DC}/pull-requests", params={"start": 1}).json()
    assert last["isLastPage"] is True and "nextPageStart" not in last
    outgoing = call(
        bb,
        "GET",
        f"{DC}/pull-requests",
        params={"at": "refs/heads/pipekit/b/prod/1", "direction": "OUTGOING"},
    ).json()
    assert [v["title"] for v in outgoing["values"]] == ["B"]
    r = call(bb, "POST", f"{DC}/pull-requests/{a['id']}/merge", params={"version": 0})
    assert (
        r.status_code == 409
        and r.json()["errors"][0]["vetoes"][0]["summaryMessage"] == "Not enough approvals"
    )
    r = call(
        bb,
        "PUT",
        f"{DC}/pull-requests/{a['id']}/participants/alice",
        token="alice-token",
        json={"user": {"name": "alice"}, "approved": True, "status": "APPROVED"},
    )
    assert r.json()["status"] == "APPROVED"
    bb.edit(repo, a["id"], "alice", title="A, edited")  # version 0 -> 1
    r = call(bb, "POST", f"{DC}/pull-requests/{a['id']}/merge", params={"version": 0})
    assert r.status_code == 409
    assert (
        r.json()["errors"][0]["exceptionName"] == "com.atlassian.bitbucket.pull.PullRequestOutOfDateException"
    )
    assert r.json()["errors"][0]["currentVersion"] == 1
    r = call(
        bb,
        "POST",
        f"{DC}/pull-requests/{a['id']}/merge",
        params={"version": 1},
        json={"strategyId": "squash"},
    )
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["state"] == "MERGED" and merged["properties"]["mergeCommit"]["id"] == repo.head("main")
    b = outgoing["values"][0]
    r = call(
        bb,
        "POST",
        f"{DC}/pull-requests/{b['id']}/decline",
        params={"version": b["version"]},
        token="alice-token",
        json={"comment": "not now"},
    )
    assert r.json()["state"] == "DECLINED"
    activities = call(bb, "GET", f"{DC}/pull-requests/{b['id']}/activities", params={"limit": 5}).json()[
        "values"
    ]
    assert activities[0]["action"] == "DECLINED" and activities[0]["user"]["name"] == "alice"
    assert call(bb, "GET", DC, token="narrow-token").status_code == 403
    assert call(bb, "GET", "/rest/api/latest/users/bob").status_code == 404


def test_basic_authentication_and_faults(bb: BitbucketStandIn) -> None:
    assert requests.get(bb.base_url + DC, auth=("alice", "alice-token"), timeout=5).status_code == 200
    assert requests.get(bb.base_url + DC, auth=("bob", "alice-token"), timeout=5).status_code == 401
    bb.fail_next(429, retry_after="1")
    r = call(bb, "GET", CLOUD)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1" and r.json()["type"] == "error"
    assert call(bb, "GET", CLOUD).status_code == 200


def test_repository_is_a_real_bare_repository(bb: BitbucketStandIn) -> None:
    repo: Repository = bb.repository("acme", "gitops")
    assert git("rev-parse", "--is-bare-repository", cwd=repo.path) == "true"
    assert repo.head("main") and repo.head("nope") is None


def test_python_m_prints_what_a_pipeline_needs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import sys

    from tests.conftest import REPO_ROOT

    seed = tmp_path / "seed"
    (seed / "overlays" / "prod").mkdir(parents=True)
    (seed / "overlays" / "prod" / "kustomization.yaml").write_text("images: []\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit.testing.bitbucket",
            "--repo",
            str(tmp_path / "g.git"),
            "--seed",
            str(seed),
            "--flavour",
            "datacenter",
            "--owner",
            "OPS",
            "--reviewer",
            "alice",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("Bitbucket stand-in on http://127.0.0.1:")
        assert (
            "PIPEKIT_BITBUCKET_SERVER_URL=http://127.0.0.1:" in lines[1]
            and "PIPEKIT_GITOPS_TOKEN=" in lines[1]
        )
        assert "pull_request: {project: OPS, repository: gitops}" in lines[2]
        assert lines[3].strip().startswith("reviewer alice: alice (token alice-token)")
        base = lines[0].split()[3].rstrip(":")
        r = requests.get(
            f"{base}/rest/api/latest/projects/OPS/repos/gitops", auth=("alice", "alice-token"), timeout=5
        )
        assert r.status_code == 200 and r.json()["slug"] == "gitops"
        assert git("show", "main:overlays/prod/kustomization.yaml", cwd=tmp_path / "g.git") == "images: []"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_pipeline_settings_for_a_rehearsal(bb: BitbucketStandIn) -> None:
    repo = bb.repository("ACME", "gitops")
    env, config = bb.pipeline_settings(repo, "bot-token", flavour="datacenter")
    assert env == {"PIPEKIT_GITOPS_TOKEN": "bot-token", "PIPEKIT_BITBUCKET_SERVER_URL": bb.base_url}
    assert config == {
        "gitops": {"repo": str(repo.path), "pull_request": {"project": "ACME", "repository": "gitops"}}
    }
    env, config = bb.pipeline_settings(bb.repository("acme", "gitops"), "bot-token")
    assert (
        env["PIPEKIT_BITBUCKET_API_URL"] == bb.base_url
        and config["gitops"]["pull_request"]["workspace"] == "acme"
    )
