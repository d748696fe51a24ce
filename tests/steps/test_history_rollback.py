"""pipekit history and pipekit rollback against real GitOps repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_pipekit
from tests.fixtures.gitops.history import History, at

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    h = History(tmp_path, ["orders", "billing"])
    c = {
        "v1": h.deploy("orders", "prod", "v1", at(0), source_at=at(0, -3), build=1),
        "dev": h.deploy("orders", "dev", "v2", at(0, 1), build=2),
        "v2": h.deploy("orders", "prod", "v2", at(1), source_at=at(1, -1), build=2, author="Pat Prod"),
        "b": h.deploy("billing", "prod", "b1", at(1, 2), build=3),
        "v3": h.deploy("orders", "prod", "v3", at(2), source_at=at(2, -1), build=9),
    }
    return h.push(), c


def history(bare: Path, *args: str) -> dict:
    proc = run_pipekit("history", "--gitops-repo", str(bare), "--service", "orders", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_history_newest_first_with_since_and_until(repo: tuple[Path, dict[str, str]]) -> None:
    bare, c = repo
    got = history(bare, "--env", "prod")["deployments"]
    assert [(d["tag"], d["current"]) for d in got] == [("v3", True), ("v2", False), ("v1", False)]
    assert got[1]["author"] == "Pat Prod" and got[1]["lead_time_s"] == 3600.0
    assert got[1]["since"] == at(1).isoformat() and got[1]["until"] == at(2).isoformat()
    assert got[0]["commit"] == c["v3"] and got[0]["build_url"].endswith("/results/9")
    every = history(bare, "--limit", "2")["deployments"]
    assert [(d["environment"], d["tag"]) for d in every] == [("prod", "v3"), ("prod", "v2")]
    text = run_pipekit("history", "--gitops-repo", str(bare), "--service", "orders", "--env", "dev")
    assert text.returncode == 0 and "* 2026-11-02 10:00  dev" in text.stdout


def test_rollback_one_step_writes_a_rollback_commit_dora_counts(repo: tuple[Path, dict[str, str]]) -> None:
    bare, c = repo
    proc = run_pipekit(
        "rollback",
        "--gitops-repo",
        str(bare),
        "--service",
        "orders",
        "--env",
        "prod",
        "--renderer",
        "none",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "pushed" and result["tag"] == "v2" and result["rollback_of"] == c["v3"]
    out = subprocess.run(
        ["git", "log", "-1", "--format=%(trailers:only,unfold)", "main"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Pipekit-Rollback-Of: {c['v3']}" in out and "Pipekit-Tag: v2" in out
    got = history(bare, "--env", "prod")["deployments"]
    assert (got[0]["tag"], got[0]["kind"], got[0]["rollback_of"]) == ("v2", "rollback", c["v3"])
    # the winner rule was overridden: build 9 had written the entry, the rollback wrote build 2's image
    shown = subprocess.run(
        ["git", "show", "main:orders/overlays/prod/kustomization.yaml"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "newTag: v2" in shown


def test_rollback_to_and_steps_dry_run_and_refusal(repo: tuple[Path, dict[str, str]]) -> None:
    bare, _ = repo
    before = subprocess.run(["git", "rev-parse", "main"], cwd=bare, capture_output=True, text=True).stdout
    dry = run_pipekit(
        "rollback",
        "--gitops-repo",
        str(bare),
        "--service",
        "orders",
        "--env",
        "prod",
        "--steps",
        "2",
        "--dry-run",
        "--renderer",
        "none",
    )
    assert dry.returncode == 0, dry.stderr
    assert "+    newTag: v1" in dry.stdout
    never = run_pipekit(
        "rollback",
        "--gitops-repo",
        str(bare),
        "--service",
        "orders",
        "--env",
        "prod",
        "--to",
        "v9",
        "--renderer",
        "none",
    )
    assert (
        never.returncode == 1
        and "v9 was never deployed to prod" in never.stderr
        and "--force" in never.stderr
    )
    too_far = run_pipekit(
        "rollback",
        "--gitops-repo",
        str(bare),
        "--service",
        "orders",
        "--env",
        "prod",
        "--steps",
        "5",
        "--renderer",
        "none",
    )
    assert too_far.returncode == 1
    assert (
        subprocess.run(["git", "rev-parse", "main"], cwd=bare, capture_output=True, text=True).stdout
        == before
    )
    forced = run_pipekit(
        "rollback",
        "--gitops-repo",
        str(bare),
        "--service",
        "orders",
        "--env",
        "prod",
        "--to",
        "v9",
        "--force",
        "--renderer",
        "none",
        "--json",
    )
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["previously_deployed"] is False
    to = run_pipekit(
        "rollback",
        "--gitops-repo",
        str(bare),
        "--service",
        "orders",
        "--env",
        "prod",
        "--to",
        "v1",
        "--renderer",
        "none",
        "--json",
    )
    assert to.returncode == 0 and json.loads(to.stdout)["tag"] == "v1"
