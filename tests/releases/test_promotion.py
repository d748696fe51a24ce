"""Every promotion carries its release notes: real update-tag and promote runs against a GitOps
repository and a service repository with known history; the card built from the run record is
checked against the Adaptive Cards schema."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pipekit.cards import model, teams
from pipekit.core.context import PipelineContext
from pipekit.core.runrecord import RunRecord
from pipekit.deployments import reader, source
from pipekit.deployments.layout import Layout
from tests.cards.test_payloads import validate_card
from tests.fixtures.gitops.releases import AUTHORS, ORDERS, World, digest
from tests.fixtures.gitops.repo import git, make_repo

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test


def make(tmp: Path) -> tuple[World, Path]:
    """orders' repository (folder named after the service, as a pipeline's checkout is) and a GitOps
    repository where dev runs o1 and qa runs o1."""
    bare, _work = make_repo(tmp, ["orders", "billing"])
    w = World(root=tmp, gitops=bare)
    (tmp / "pipekit.yaml").write_text(f"gitops:\n  repo: {bare}\n", encoding="utf-8")
    repo = tmp / "orders"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    for name, author, text, day, parent in ORDERS:
        if parent is not None:
            continue  # no hotfix here
        (repo / f"{name}.txt").write_text(name)
        git("add", ".", cwd=repo)
        stamp = f"2026-11-{day:02d}T10:00:00+0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": AUTHORS[author],
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": AUTHORS[author],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        subprocess.run(
            ["git", "commit", "-q", "-F", "-"], cwd=repo, env=env, input=text, text=True, check=True
        )
        w.sha[name] = git("rev-parse", "HEAD", cwd=repo)
    w.repos["orders"] = repo
    w.build("orders", "o1", "dev", with_digest=True, build=1)
    w.must("promote", "--from", "dev", "--to", "qa", "--service", "orders", "--renderer", "none")
    w.build("orders", "o4", "dev", with_digest=True, build=4)  # brings o2, o3 and o4 to qa
    git("checkout", "-q", "main", cwd=repo)
    return w, repo


@pytest.fixture
def promoted(tmp_path: Path) -> tuple[World, Path, subprocess.CompletedProcess[str]]:
    w, repo = make(tmp_path)
    proc = w.pipekit(
        "promote",
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        "--renderer",
        "none",
        "--json",
        cwd=repo,
    )  # in the service's own checkout, as its pipeline runs it
    assert proc.returncode == 0, proc.stderr
    return w, repo, proc


def test_the_promotion_commit_carries_the_release_notes(promoted) -> None:
    w, _repo, proc = promoted
    body = git("log", "-1", "--format=%B", "main", cwd=w.gitops)
    notes = body[body.index("Release notes:") : body.index("\n\nPipekit-")]
    assert notes.splitlines() == [
        "Release notes:",
        "orders: 3 commits - ORD-3 ORD-4 ORD-77 ORD-2",
        f"  - {w.sha['o4'][:8]} Bump the Jackson version (Alice)",
        f"  - {w.sha['o3'][:8]} ORD-3 ORD-4: refunds and their audit trail (Carol)",
        f"  - {w.sha['o2'][:8]} Add the order list (ORD-2) (Bob)",
    ]
    trailers = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=body, capture_output=True, text=True, check=True
    ).stdout
    assert "Pipekit-Service: orders" in trailers and f"Pipekit-Source-Commit: {w.sha['o4']}" in trailers
    # the history reader still reads the promotion as before
    with source.open_repo(str(w.gitops), "main", {}) as (git_, rev):
        latest = reader.latest(git_, Layout(), rev=rev)
    qa = latest[("orders", "qa")]
    assert (qa.tag, qa.digest, qa.promoted_from, qa.source_commit) == ("o4", digest("o4"), "dev", w.sha["o4"])
    result = json.loads(proc.stdout)
    assert result["notes"]["commits"] == 3 and result["notes"]["services"]["orders"]["state"] == "carries"


def test_the_run_record_the_notes_file_and_the_card(promoted, tmp_path: Path) -> None:
    w, _repo, _proc = promoted
    record = RunRecord.load(w.root / "run.json")
    notes = record.steps["promote"]["outputs"]["notes"]
    assert notes["jira"] == ["ORD-3", "ORD-4", "ORD-77", "ORD-2"]
    assert notes["lines"] == [
        f"orders: Bump the Jackson version ({w.sha['o4'][:8]})",
        f"orders: ORD-3 ORD-4: refunds and their audit trail ({w.sha['o3'][:8]})",
        f"orders: Add the order list (ORD-2) ({w.sha['o2'][:8]})",
    ]
    full = Path(notes["file"])
    assert full == w.root / "release-notes-dev-qa.md" and full.read_text().startswith(
        "# Release notes: dev → qa"
    )
    pipeline = PipelineContext.from_env(
        {"BITBUCKET_BUILD_NUMBER": "7", "BITBUCKET_REPO_FULL_NAME": "acme/orders"}, cwd=tmp_path
    )
    card = validate_card(
        json.loads(
            teams.message(
                model.build(
                    "promoted", pipeline=pipeline, record=record, service="orders", stage="promote-qa"
                )
            )[1]
        )
    )
    text = json.dumps(card)
    factset = next(e for e in card["body"] if e.get("type") == "FactSet")
    facts = {f["title"]: f["value"] for f in factset["facts"]}
    assert facts["Release notes"] == "3 commits in 1 service; Jira ORD-3, ORD-4, ORD-77, ORD-2"
    assert "Bump the Jackson version" in text and "release-notes-dev-qa.md" in text


def test_no_notes_when_switched_off_and_bad_repo_is_exit_2(tmp_path: Path) -> None:
    w, repo = make(tmp_path)
    before = git("rev-parse", "main", cwd=w.gitops)
    bad = w.pipekit(
        "promote",
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        "--renderer",
        "none",
        "--source-repo",
        f"orders={tmp_path}",
    )
    assert bad.returncode == 2 and "is not a git repository" in bad.stderr
    assert git("rev-parse", "main", cwd=w.gitops) == before
    off = w.pipekit(
        "promote",
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        "--renderer",
        "none",
        "--no-release-notes",
        cwd=repo,
    )
    assert off.returncode == 0, off.stderr
    assert "Release notes:" not in git("log", "-1", "--format=%B", "main", cwd=w.gitops)


def test_notes_from_a_named_repository_and_for_a_service_with_none(tmp_path: Path) -> None:
    w, repo = make(tmp_path)
    proc = w.pipekit(
        "promote",
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        "--service",
        "billing",
        "--renderer",
        "none",
        "--source-repo",
        f"orders={repo}",
    )  # run outside any checkout
    assert proc.returncode == 0, proc.stderr
    body = git("log", "-1", "--format=%B", "main", cwd=w.gitops)
    notes = body.split("Release notes:")[1].split("\n\n")[0]
    assert "orders: 3 commits" in notes and "billing" not in notes  # no repository known for billing: no line


def test_a_promotion_that_rolls_back_a_hotfix_says_so(tmp_path: Path) -> None:
    w, repo = make(tmp_path)
    git("checkout", "-q", "-b", "hotfix", w.sha["o1"], cwd=repo)
    (repo / "fix.txt").write_text("fix")
    git("add", ".", cwd=repo)
    git(
        "-c",
        "user.name=Bob",
        "-c",
        "user.email=bob@example.com",
        "commit",
        "-qm",
        "ORD-9 Hotfix in qa",
        cwd=repo,
    )
    w.sha["fix"] = git("rev-parse", "HEAD", cwd=repo)
    w.build("orders", "fix", "qa", with_digest=True, build=3)  # straight into qa, built before dev's build 4
    git("checkout", "-q", "main", cwd=repo)
    proc = w.pipekit(
        "promote", "--from", "dev", "--to", "qa", "--service", "orders", "--renderer", "none", cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "orders: the target runs 1 commit the source lacks (a hotfix?): promoting would roll them back"
        in proc.stdout + proc.stderr
    )
    body = git("log", "-1", "--format=%B", "main", cwd=w.gitops)
    assert (
        "orders: 3 commits - ORD-3 ORD-4 ORD-77 ORD-2\n  ! the target runs 1 commit the source lacks" in body
    )


def test_the_first_release_into_an_environment_lists_every_commit_it_brings(tmp_path: Path) -> None:
    """qa still holds init's placeholder (tag ``pending``, no image, no source commit): its first release
    brings every commit up to the promoted image's source commit, and the notes list them."""
    from tests.fixtures.gitops.repo import overlay

    bare, work = make_repo(tmp_path, ["orders"])
    qa = work / overlay("orders", "qa")
    text = qa.read_text()
    start, end = text.index("  newTag: 'abc1234'"), text.index("- name: docker.io")
    qa.write_text(text[:start] + "  newTag: pending\n" + text[end:])
    git("commit", "-qam", "qa: no image yet (init's placeholder)", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    w = World(root=tmp_path, gitops=bare)
    (tmp_path / "pipekit.yaml").write_text(f"gitops:\n  repo: {bare}\n", encoding="utf-8")
    repo = tmp_path / "orders"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    for name, author, message, day, _parent in ORDERS[:2]:
        (repo / f"{name}.txt").write_text(name)
        git("add", ".", cwd=repo)
        stamp = f"2026-11-{day:02d}T10:00:00+0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": AUTHORS[author],
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": AUTHORS[author],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        subprocess.run(
            ["git", "commit", "-q", "-F", "-"], cwd=repo, env=env, input=message, text=True, check=True
        )
        w.sha[name] = git("rev-parse", "HEAD", cwd=repo)
    w.repos["orders"] = repo
    w.build("orders", "o2", "dev", with_digest=True, build=2)
    proc = w.pipekit(
        "promote",
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        "--renderer",
        "none",
        "--json",
        cwd=repo,
    )
    assert proc.returncode == 0, proc.stderr
    body = git("log", "-1", "--format=%B", "main", cwd=w.gitops)
    notes = body[body.index("Release notes:") : body.index("\n\nPipekit-")]
    assert notes.splitlines() == [
        "Release notes:",
        "orders: 2 commits - ORD-2 ORD-1",
        f"  - {w.sha['o2'][:8]} Add the order list (ORD-2) (Bob)",
        f"  - {w.sha['o1'][:8]} ORD-1 Create the orders service (Alice)",
    ]
    result = json.loads(proc.stdout)["notes"]
    assert result["commits"] == 2 and result["services"]["orders"]["state"] == "new"
