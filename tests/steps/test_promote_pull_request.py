"""promote --via pull-request as a pipeline runs it, on Bitbucket Cloud and Data Center (the stand-in),
against real GitOps repositories: open, supersede, rerun, decline, approve and merge, rebase, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from pipekit.testing.bitbucket import BitbucketStandIn
from tests.conftest import REPO_ROOT, run_pipekit
from tests.fixtures.gitops.repo import git, make_repo, overlay, read

pytestmark = (
    pytest.mark.slow
)  # pipekit as subprocesses against real repositories and the stand-in: seconds per test
TOKEN = "bot-token-5f3a9c"
FLAVOURS = ["cloud", "datacenter"]


@pytest.fixture
def bb() -> Iterator[BitbucketStandIn]:
    with BitbucketStandIn() as standin:
        standin.add_token(TOKEN, "pipekit-bot")
        standin.add_user("alice")
        yield standin


def dev_builds(work: Path, bare: Path, tags: dict[str, str]) -> None:
    for service, tag in tags.items():
        path = work / overlay(service, "dev")
        text = path.read_text()
        start = text.index("newTag:")
        end = text.index("\n", start)
        path.write_text(text[:start] + f'newTag: "{tag}"' + text[end:])
    git("commit", "-qam", f"dev builds {tags}", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)


@pytest.fixture
def gitops(tmp_path: Path, bb: BitbucketStandIn) -> tuple[Path, Path]:
    bare, work = make_repo(tmp_path, ["orders", "billing"])
    dev_builds(work, bare, {"orders": "1a2b3c4", "billing": "5d6e7f8"})
    bb.add_repository("acme", "gitops", path=bare, min_approvals=1)
    bb.add_repository("ACME", "gitops", path=bare, min_approvals=1)
    return bare, work


def reviewer(bb: BitbucketStandIn, flavour: str, name: str = "alice") -> str:
    return bb.users[name].account_id if flavour == "cloud" else name


def setup(
    tmp_path: Path,
    bb: BitbucketStandIn,
    bare: Path,
    flavour: str,
    *,
    pull_request: dict | None = None,
    extra: dict | None = None,
) -> dict[str, str]:
    """pipekit.yaml (qa and prod by pull request) and the variables a pipeline step would have."""
    where = (
        {"workspace": "acme", "repository": "gitops"}
        if flavour == "cloud"
        else {"project": "ACME", "repository": "gitops"}
    )
    rule = {"reviewers": [reviewer(bb, flavour)], **(pull_request or {})}
    config = {
        "gitops": {"repo": str(bare), "pull_request": where, **(extra or {})},
        "environments": {
            "dev": {},
            "qa": {"via": "pull-request", "pull_request": rule},
            "preprod": {},
            "prod": {"promotion": "manual", "via": "pull-request", "pull_request": rule},
        },
    }
    (tmp_path / "pipekit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {"PIPEKIT_GITOPS_TOKEN": TOKEN}
    env["PIPEKIT_BITBUCKET_API_URL" if flavour == "cloud" else "PIPEKIT_BITBUCKET_SERVER_URL"] = bb.base_url
    return env


def promote(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_pipekit("promote", "--from", "dev", "--to", "qa", *args, env=env, cwd=tmp_path)


def outputs(tmp_path: Path) -> dict:
    return json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["promote"]


def repo_of(bb: BitbucketStandIn, flavour: str):  # noqa: ANN201 - the stand-in's Repository
    return bb.repository("acme" if flavour == "cloud" else "ACME", "gitops")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_open_rerun_and_a_newer_tag_supersedes(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], flavour: str
) -> None:
    bare, work = gitops
    env = setup(tmp_path, bb, bare, flavour)
    main_before = git("rev-parse", "main", cwd=bare)
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 0, proc.stderr
    assert '"Promote orders 1a2b3c4 to qa"' in proc.stdout and "/pull-requests/1" in proc.stdout
    assert git("rev-parse", "main", cwd=bare) == main_before  # nothing reaches the GitOps branch directly
    pr = repo_of(bb, flavour).pull_requests[1]
    assert (pr.title, pr.source, pr.target, [u.name for u in pr.reviewers]) == (
        "Promote orders 1a2b3c4 to qa",
        "pipekit/orders/qa/1a2b3c4",
        "main",
        ["alice"],
    )
    assert (
        "promote dev -> qa: orders 1a2b3c4" in pr.description
        and "Pipekit-" not in pr.description.split("---")[0]
    )
    body = git("log", "-1", "--format=%B", "pipekit/orders/qa/1a2b3c4", cwd=bare)
    assert (
        "Pipekit-Promoted-From: dev" in body and "Pipekit-Tag: 1a2b3c4" in body
    )  # the direct promotion's trailers
    assert (
        yaml.safe_load(read(bare, overlay("orders", "qa"), "pipekit/orders/qa/1a2b3c4"))["images"][0][
            "newTag"
        ]
        == "1a2b3c4"
    )
    record = outputs(tmp_path)
    assert record["status"] == "succeeded" and record["outputs"]["status"] == "opened"
    assert record["outputs"]["pull_requests"] == [
        {
            "service": "orders",
            "environment": "qa",
            "branch": "pipekit/orders/qa/1a2b3c4",
            "id": 1,
            "state": "OPEN",
            "url": pr_url(bb, flavour, 1),
        }
    ]
    assert "gitops_revision" not in record["outputs"]  # nothing to wait for until it is merged
    # the same tag again: the open pull request is found, nothing changes
    head = git("rev-parse", "pipekit/orders/qa/1a2b3c4", cwd=bare)
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 0 and "pull request #1 is already open" in proc.stdout
    assert len(repo_of(bb, flavour).pull_requests) == 1
    assert git("rev-parse", "pipekit/orders/qa/1a2b3c4", cwd=bare) == head
    # a newer tag: its own pull request; the superseded one declined with a comment naming it
    dev_builds(work, bare, {"orders": "9e8d7c6"})
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 0, proc.stderr
    assert "declined pull request #1: superseded by #2" in proc.stdout
    old, new = repo_of(bb, flavour).pull_requests[1], repo_of(bb, flavour).pull_requests[2]
    assert (old.state, new.state, new.source) == ("DECLINED", "OPEN", "pipekit/orders/qa/9e8d7c6")
    assert old.comments[-1][2].startswith(f"Superseded by pull request #2 ({pr_url(bb, flavour, 2)})")
    assert repo_of(bb, flavour).head("pipekit/orders/qa/1a2b3c4") is None  # delete_branch (default true)


def pr_url(bb: BitbucketStandIn, flavour: str, n: int) -> str:
    if flavour == "cloud":
        return f"{bb.base_url}/acme/gitops/pull-requests/{n}"
    return f"{bb.base_url}/projects/ACME/repos/gitops/pull-requests/{n}"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_declined_is_exit_1_naming_who(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], flavour: str
) -> None:
    env = setup(tmp_path, bb, gitops[0], flavour)
    assert promote(tmp_path, env, "--service", "billing").returncode == 0
    repo = repo_of(bb, flavour)
    billing = max(repo.pull_requests)
    threading_decline(bb, repo, billing, "alice")
    proc = promote(tmp_path, env, "--service", "billing", "--wait-merge", "--merge-timeout", "20")
    assert proc.returncode == 1, proc.stderr
    assert f"pull request #{billing}" in proc.stderr and "was declined by Alice" in proc.stderr
    record = outputs(tmp_path)
    assert record["status"] == "failed" and record["outputs"]["pull_requests"][0]["state"] == "DECLINED"


def threading_decline(bb: BitbucketStandIn, repo, pr_id: int, user: str) -> None:  # noqa: ANN001
    """``user`` declines the pull request once pipekit has started following it (it asked for it by id)."""
    import threading

    seen = len(bb.requests)

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(m == "GET" and p.split("?")[0].endswith(f"/{pr_id}") for m, p, _ in bb.requests[seen:]):
                bb.decline(repo, pr_id, user)
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_approve_merge_then_wait_for_argocd_at_the_merge_commit(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], flavour: str
) -> None:
    from pipekit.testing.argocd import ArgoCDStandIn
    from pipekit.testing.argocd.gitops import GitOpsFollower

    bare, _ = gitops
    env = setup(tmp_path, bb, bare, flavour)
    assert promote(tmp_path, env, "--service", "orders").returncode == 0
    repo = repo_of(bb, flavour)
    bb.approve(repo, 1, "pipekit-bot")  # the author's own approval never counts
    proc = promote(tmp_path, env, "--service", "orders", "--merge")
    assert proc.returncode == 0 and "0 of 1 approval(s) other than its author's" in proc.stdout
    assert repo.pull_requests[1].state == "OPEN"
    with ArgoCDStandIn() as argo:
        follower = GitOpsFollower(argo, step=0.05, poll=60)
        follower.follow("orders-qa", bare, "orders/overlays/qa")
        bb.approve(repo, 1, "alice")
        proc = promote(tmp_path, env, "--service", "orders", "--merge", "--wait-merge")
        assert proc.returncode == 0, proc.stderr
        merged = git("rev-parse", "main", cwd=bare)
        assert f"merged as {merged[:12]}" in proc.stdout
        record = outputs(tmp_path)["outputs"]
        assert record["gitops_revision"] == merged and record["pull_requests"][0]["merge_commit"] == merged
        assert record["pull_requests"][0]["state"] == "MERGED"
        assert len(git("rev-list", "--parents", "-1", merged, cwd=bare).split()) == 3  # a merge commit
        assert repo.head("pipekit/orders/qa/1a2b3c4") is None
        wait = run_pipekit(
            "wait-for-argocd",
            "--app",
            "orders-qa",
            "--plaintext",
            "--timeout",
            "20",
            "--poll-interval",
            "0.2",
            "--grace",
            "1",
            cwd=tmp_path,
            env={"ARGOCD_SERVER": argo.server, "ARGOCD_AUTH_TOKEN": argo.token},
        )
        assert wait.returncode == 0, wait.stderr
        assert (
            "synced, healthy and hooks passed at revision " + merged[:7] in wait.stdout
        )  # from the run record


def shared_overlay_repo(tmp_path: Path, services: list[str]) -> Path:
    """One overlay per environment listing every service's image on adjacent lines (flow style)."""
    work = tmp_path / "shared-seed"
    for env, tag in (("dev", "2.0.0"), ("qa", "1.0.0")):
        folder = work / "overlays" / env
        folder.mkdir(parents=True)
        lines = [f'- {{name: registry.example.com/{s}, newTag: "{tag}"}}' for s in services]
        (folder / "kustomization.yaml").write_text("images:\n" + "\n".join(lines) + "\n")
    git("init", "-q", "-b", "main", cwd=work)
    git("-c", "user.name=Seed", "-c", "user.email=seed@example.com", "add", ".", cwd=work)
    git("-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "-qm", "seed", cwd=work)
    bare = tmp_path / "shared.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    return bare


@pytest.mark.parametrize(
    "flavour, strategy", [("cloud", "merge"), ("datacenter", "squash"), ("cloud", "fast-forward")]
)
def test_a_conflict_after_another_service_merged_is_rebased(
    tmp_path: Path, bb: BitbucketStandIn, flavour: str, strategy: str
) -> None:
    bare = shared_overlay_repo(tmp_path, ["orders", "billing"])
    bb.add_repository("acme" if flavour == "cloud" else "ACME", "gitops", path=bare, min_approvals=1)
    env = setup(
        tmp_path,
        bb,
        bare,
        flavour,
        pull_request={"merge_strategy": strategy},
        extra={"overlay": "overlays/{env}", "image": "registry.example.com/{service}", "renderer": "none"},
    )
    assert promote(tmp_path, env, "--service", "orders").returncode == 0
    assert promote(tmp_path, env, "--service", "billing").returncode == 0
    repo = repo_of(bb, flavour)
    for n in (1, 2):
        bb.approve(repo, n, "alice")
    assert promote(tmp_path, env, "--service", "orders", "--merge").returncode == 0
    assert repo.pull_requests[1].state == "MERGED"
    if strategy != "fast-forward":
        assert repo.conflicted(repo.pull_requests[2])  # billing's line is next to orders': a real conflict
    proc = promote(tmp_path, env, "--service", "billing", "--merge", "--wait-merge", "--merge-timeout", "30")
    assert proc.returncode == 0, proc.stderr
    assert "after 1 rebase(s)" in proc.stdout
    final = yaml.safe_load(read(bare, "overlays/qa/kustomization.yaml"))["images"]
    assert final == [
        {"name": "registry.example.com/orders", "newTag": "2.0.0"},
        {"name": "registry.example.com/billing", "newTag": "2.0.0"},
    ]  # orders' change kept
    if strategy == "squash":  # the one commit the branch keeps carries the change's trailers (the history's)
        body = git("log", "-1", "--format=%B", "main", cwd=bare)
        assert "Merged in pipekit/billing/qa/2.0.0 (pull request #2)." in body
        assert (
            git("log", "-1", "--format=%(trailers:key=Pipekit-Service,valueonly)", "main", cwd=bare)
            == "billing"
        )


def test_timeout_is_exit_4(tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]) -> None:
    env = setup(tmp_path, bb, gitops[0], "cloud")
    started = time.monotonic()
    proc = promote(tmp_path, env, "--service", "orders", "--merge", "--wait-merge", "--merge-timeout", "1.5")
    assert proc.returncode == 4, proc.stderr
    assert "not merged after 1.5s: 0 of 1 approval(s)" in proc.stderr
    assert time.monotonic() - started < 15
    assert outputs(tmp_path)["status"] == "timed-out"
    assert outputs(tmp_path)["outputs"]["pull_requests"][0]["state"] == "OPEN"


def test_prod_by_pull_request_keeps_the_manual_rule(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]
) -> None:
    env = setup(tmp_path, bb, gitops[0], "datacenter")
    args = ("promote", "--from", "preprod", "--to", "prod", "--service", "orders")
    proc = run_pipekit(*args, env=env, cwd=tmp_path)
    assert proc.returncode == 1 and "needs --approve" in proc.stderr
    assert not repo_of(bb, "datacenter").pull_requests
    proc = run_pipekit(*args, "--approve", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert repo_of(bb, "datacenter").pull_requests[1].title == "Promote orders v0.9.0 to prod"


def test_dry_run_prints_the_diff_and_opens_nothing(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]
) -> None:
    bare = gitops[0]
    env = setup(tmp_path, bb, bare, "cloud")
    proc = promote(tmp_path, env, "--service", "orders", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "+++ b/orders/overlays/qa/kustomization.yaml" in proc.stdout
    assert (
        not repo_of(bb, "cloud").pull_requests
        and repo_of(bb, "cloud").head("pipekit/orders/qa/1a2b3c4") is None
    )
    assert not bb.requests  # no server was asked


def test_the_flag_beats_the_file(tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]) -> None:
    bare = gitops[0]
    env = setup(tmp_path, bb, bare, "cloud")
    before = int(git("rev-list", "--count", "main", cwd=bare))
    proc = promote(tmp_path, env, "--service", "orders", "--via", "commit")
    assert proc.returncode == 0, proc.stderr
    assert (
        int(git("rev-list", "--count", "main", cwd=bare)) == before + 1
        and not repo_of(bb, "cloud").pull_requests
    )
    proc = run_pipekit(
        "promote",
        "--from",
        "qa",
        "--to",
        "preprod",
        "--service",
        "orders",
        "--via",
        "pull-request",
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert repo_of(bb, "cloud").pull_requests[1].title == "Promote orders 1a2b3c4 to preprod"


def test_merge_and_wait_merge_from_the_file_and_the_flags_and_variables_beat_it(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]
) -> None:
    bare = gitops[0]
    env = setup(
        tmp_path, bb, bare, "cloud", pull_request={"merge": True, "wait_merge": True, "merge_timeout": 1.5}
    )
    started = time.monotonic()
    proc = promote(tmp_path, env, "--service", "orders")  # no flag: the file's wait_merge and merge_timeout
    assert proc.returncode == 4, proc.stderr
    assert "not merged after 1.5s: 0 of 1 approval(s) other than its author's" in proc.stderr
    assert time.monotonic() - started < 15
    proc = promote(tmp_path, env, "--service", "orders", "--no-wait-merge")  # the flag beats the file
    assert proc.returncode == 0 and "stays open: 0 of 1 approval(s)" in proc.stdout, proc.stderr
    repo = repo_of(bb, "cloud")
    bb.approve(repo, 1, "alice")
    # the variables (a deployment variable, say) beat the file too: neither merge nor wait
    proc = promote(
        tmp_path,
        {**env, "PIPEKIT_PULL_REQUEST_MERGE": "false", "PIPEKIT_PULL_REQUEST_WAIT_MERGE": "no"},
        "--service",
        "orders",
    )
    assert proc.returncode == 0 and repo.pull_requests[1].state == "OPEN", proc.stderr
    proc = promote(tmp_path, env, "--service", "orders")  # the file: approved, so pipekit merges it
    assert proc.returncode == 0, proc.stderr
    merged = git("rev-parse", "main", cwd=bare)
    assert (
        repo.pull_requests[1].state == "MERGED" and outputs(tmp_path)["outputs"]["gitops_revision"] == merged
    )


def test_wait_for_argocd_after_an_unmerged_pull_request_says_nothing_is_deployed(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]
) -> None:
    env = setup(tmp_path, bb, gitops[0], "cloud")
    assert promote(tmp_path, env, "--service", "orders").returncode == 0
    wait = run_pipekit(
        "wait-for-argocd",
        "--env",
        "qa",
        "--app",
        "orders-qa",
        "--plaintext",
        "--timeout",
        "5",
        cwd=tmp_path,
        env={"ARGOCD_SERVER": "127.0.0.1:9", "ARGOCD_AUTH_TOKEN": "t"},
    )
    assert wait.returncode == 2, wait.stderr
    assert "nothing deployed yet to wait for: promote opened pull request #1" in wait.stderr
    assert "wait_merge" in wait.stderr


@pytest.mark.parametrize(
    "key, value", [("merge", "yes please"), ("wait_merge", "maybe"), ("merge_timeout", 0)]
)
def test_a_bad_merge_setting_is_exit_2_naming_it(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], key: str, value: object
) -> None:
    env = setup(tmp_path, bb, gitops[0], "cloud", pull_request={key: value})
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 2, proc.stderr
    assert f"pull_request.{key}" in proc.stderr
    assert not repo_of(bb, "cloud").pull_requests


# -- bad input ---------------------------------------------------------------------------------------------
def test_no_credentials_is_exit_2_naming_the_variables(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]
) -> None:
    env = setup(tmp_path, bb, gitops[0], "cloud")
    env["PIPEKIT_GITOPS_TOKEN"] = ""
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 2
    assert "PIPEKIT_GITOPS_TOKEN" in proc.stderr and "PIPEKIT_GITOPS_USERNAME" in proc.stderr


@pytest.mark.parametrize("flavour, status", [("cloud", 404), ("datacenter", 403)])
def test_a_repository_the_token_cannot_see_is_exit_3(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], flavour: str, status: int
) -> None:
    env = setup(tmp_path, bb, gitops[0], flavour)
    bb.add_token("narrow-token-77", "carol", repos=[])
    env["PIPEKIT_GITOPS_TOKEN"] = "narrow-token-77"
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 3, proc.stderr
    owner = "acme" if flavour == "cloud" else "ACME"
    assert f"HTTP {status} for repository {owner}/gitops" in proc.stderr
    assert "narrow-token-77" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_unknown_reviewer_is_exit_2_and_leaves_nothing_open(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], flavour: str
) -> None:
    bare = gitops[0]
    ghost = "{00000000-0000-0000-0000-0000000000aa}" if flavour == "cloud" else "ghost"
    env = setup(tmp_path, bb, bare, flavour, pull_request={"reviewers": [reviewer(bb, flavour), ghost]})
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 2, proc.stderr
    assert f"does not know the reviewer(s) {ghost}" in proc.stderr
    assert not repo_of(bb, flavour).pull_requests
    assert repo_of(bb, flavour).head("pipekit/orders/qa/1a2b3c4") is None  # the branch pushed for it is gone


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_min_approvals_not_a_positive_number_is_exit_2(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path], value: str
) -> None:
    env = setup(
        tmp_path,
        bb,
        gitops[0],
        "cloud",
        pull_request={"min_approvals": value if value == "many" else int(value)},
    )
    proc = promote(tmp_path, env, "--service", "orders")
    assert proc.returncode == 2, proc.stderr
    assert "min_approvals" in proc.stderr
    assert not repo_of(bb, "cloud").pull_requests


# -- many at once ------------------------------------------------------------------------------------------
def test_twenty_concurrent_promotions_each_get_a_pull_request_and_all_merge(
    tmp_path: Path, bb: BitbucketStandIn
) -> None:
    services = [f"svc{n:02d}" for n in range(20)]
    bare, work = make_repo(tmp_path, services)
    dev_builds(work, bare, {s: f"{n + 1:07d}" for n, s in enumerate(services)})
    bb.add_repository("acme", "gitops", path=bare, min_approvals=1)
    bb.auto_approvers = ["alice"]  # a reviewer who approves at once
    env = {**os.environ, **setup(tmp_path, bb, bare, "cloud"), "PYTHONPATH": str(REPO_ROOT)}

    def one(service: str) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / f"run-{service}"
        folder.mkdir()
        (folder / "pipekit.yaml").write_text((tmp_path / "pipekit.yaml").read_text())
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pipekit",
                "promote",
                "--from",
                "dev",
                "--to",
                "qa",
                "--service",
                service,
                "--merge",
                "--wait-merge",
                "--merge-timeout",
                "60",
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, services))
    elapsed = time.monotonic() - started
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results if r.returncode]
    repo = bb.repository("acme", "gitops")
    assert len(repo.pull_requests) == 20 and all(pr.state == "MERGED" for pr in repo.pull_requests.values())
    for n, service in enumerate(services):  # every service's change is on main: none lost
        assert yaml.safe_load(read(bare, overlay(service, "qa")))["images"][0]["newTag"] == f"{n + 1:07d}"
    assert elapsed < 60, elapsed


# -- update-tag and rollback take --via too -----------------------------------------------------------------
def test_update_tag_by_pull_request_opens_and_merges(
    tmp_path: Path, bb: BitbucketStandIn, gitops: tuple[Path, Path]
) -> None:
    bare = gitops[0]
    env = setup(tmp_path, bb, bare, "datacenter")
    bb.auto_approvers = ["alice"]
    args = (
        "update-tag",
        "--env",
        "qa",
        "--service",
        "orders",
        "--image",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders",
        "--tag",
        "7f7f7f7",
    )
    proc = run_pipekit(*args, "--merge", "--wait-merge", "--merge-timeout", "30", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pr = repo_of(bb, "datacenter").pull_requests[1]
    assert (pr.title, pr.source, pr.state) == (
        "Deploy orders 7f7f7f7 to qa",
        "pipekit/orders/qa/7f7f7f7",
        "MERGED",
    )
    merged = git("rev-parse", "main", cwd=bare)
    record = json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["update_tag"]["outputs"]
    assert record["gitops_revision"] == merged and record["pull_request"]["merge_commit"] == merged
    assert yaml.safe_load(read(bare, overlay("orders", "qa")))["images"][0]["newTag"] == "7f7f7f7"
    proc = run_pipekit(*args, env=env, cwd=tmp_path)  # already there: no pull request
    assert proc.returncode == 0 and "no pull request" in proc.stdout
    assert len(repo_of(bb, "datacenter").pull_requests) == 1
    proc = run_pipekit(
        "update-tag",
        "--path",
        "orders/overlays/qa",
        *args[3:],
        "--via",
        "pull-request",
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "--via pull-request needs --env" in proc.stderr


def test_rollback_by_pull_request(tmp_path: Path, bb: BitbucketStandIn) -> None:
    from tests.fixtures.gitops.history import History, at

    h = History(tmp_path, ["orders"])
    h.deploy("orders", "qa", "v1", at(0), build=1)
    h.deploy("orders", "qa", "v2", at(1), build=2)
    bare = h.push()
    bb.add_repository("acme", "gitops", path=bare, min_approvals=1)
    env = setup(tmp_path, bb, bare, "cloud", extra={"renderer": "none"})
    before = git("rev-parse", "main", cwd=bare)
    proc = run_pipekit("rollback", "--service", "orders", "--env", "qa", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pr = repo_of(bb, "cloud").pull_requests[1]
    assert (pr.title, pr.source) == ("Roll back orders to v1 in qa", "pipekit/orders/qa/v1")
    assert git("rev-parse", "main", cwd=bare) == before
    body = git("log", "-1", "--format=%B", "pipekit/orders/qa/v1", cwd=bare)
    assert "Pipekit-Rollback-Of: " in body and "Pipekit-Tag: v1" in body
    record = json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["rollback"]["outputs"]
    assert record["pull_request"]["id"] == 1 and record["status"] == "opened"
