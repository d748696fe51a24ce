"""`pipekit rehearse --fail-at STAGE`: the chosen stage fails for real, the rest does not run.

Each variant runs the real CLI with only the stages that prove the point (the fastest rehearsal
that still reaches the failing stage and one after it), and checks the outcome from what the
rehearsal leaves in its --workdir: the run record, the card files, the GitOps repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

RENDERER_DIR = REPO_ROOT / ".venv" / "card-renderer"


def rehearse(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")}
    env.update(PYTHONPATH=str(REPO_ROOT), TMPDIR=str(tmp_path), NO_COLOR="1",
               PIPEKIT_CARD_RENDERER_DIR=str(RENDERER_DIR))
    proc = subprocess.run([sys.executable, "-m", "pipekit", "rehearse", "--workdir", str(work), "--keep",
                           "--channel", "teams", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    return proc, work


def steps(work: Path) -> dict[str, Any]:
    return dict(json.loads((work / "run.json").read_text())["steps"])


def cards(work: Path) -> list[str]:
    return sorted(p.name for p in (work / "cards").glob("*.json"))


def card_text(work: Path, name: str) -> str:
    return json.dumps(json.loads((work / "cards" / name).read_text()), ensure_ascii=False)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def only_onboarded(work: Path) -> bool:
    """The GitOps repository holds what pipekit init pushed at the start, and nothing else."""
    log = git("log", "--format=%s", "main", cwd=work / "gitops.git").splitlines()
    return log == ["demo-service: onboard with pipekit init 0.1.0", "GitOps repository"]


def assert_failed_as_requested(proc: subprocess.CompletedProcess[str], fail_at: str, stage: str,
                               not_run: list[str]) -> None:
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"--fail-at {fail_at} (requested: " in proc.stdout
    after = ", ".join(not_run) or "nothing (it was the last stage)"
    assert f"{stage} failed as requested; not run after it: {after}" in proc.stdout
    assert f"rehearsal: {stage} failed as requested (--fail-at {fail_at}" in proc.stderr
    for name in not_run:
        assert any(line.split()[:3] == [name, "not", "run"] for line in proc.stdout.splitlines()), name


def test_scan_blocks_on_a_critical_finding_and_the_card_page_renders_the_failure(tmp_path: Path) -> None:
    proc, work = rehearse(tmp_path, "--stages", "scan,update_tag", "--fail-at", "scan")
    assert_failed_as_requested(proc, "scan", "scan", ["update_tag"])
    record = steps(work)
    assert record["scan"]["status"] == "failed" and "update_tag" not in record
    assert cards(work) == ["01-started-pipeline.teams.json", "02-failed-scan.teams.json",
                           "03-summary-pipeline.teams.json"]
    assert "CVE-2021-44228" in (work / "scan.sarif").read_text()
    assert "scan failed" in card_text(work, "02-failed-scan.teams.json")
    assert only_onboarded(work), "nothing after the scan ran"

    from pipekit.rehearsal import card_page

    page = work / "cards" / "index.html"
    assert f"open the card page: {page.as_uri()}" in proc.stdout
    dom = subprocess.run(card_page.chromium_argv(page, tmp_path / "profile"), capture_output=True, text=True,
                         timeout=90).stdout
    status = card_page.read_status(dom)
    assert status is not None and [s["ok"] for s in status] == [True, True, True], status
    assert "pipekit cards: 3/3 rendered" in dom and "failed (scan)" in dom


def test_tests_a_failing_test_fails_the_build_and_nothing_is_deployed(tmp_path: Path) -> None:
    proc, work = rehearse(tmp_path, "--stages", "build,update_tag", "--fail-at", "tests")
    assert_failed_as_requested(proc, "tests", "build", ["update_tag"])
    build = steps(work)["build"]
    assert build["status"] == "failed"
    junit = (work / "junit.xml").read_text()
    assert "RehearsalFailAtTest" in junit and "<failure" in junit
    assert "02-failed-build.teams.json" in cards(work)
    assert only_onboarded(work)
    assert "Add a test that fails" in git("log", "-1", "--format=%s", cwd=work / "demo-service")


@pytest.mark.parametrize("fail_at", ["deploy", "hook"])
def test_deploy_or_hook_fails_the_wait_and_promotion_does_not_happen(tmp_path: Path, fail_at: str) -> None:
    proc, work = rehearse(tmp_path, "--stages", "build,update_tag,wait_for_argocd,promote_qa", "--fail-at", fail_at)
    assert_failed_as_requested(proc, fail_at, "wait_for_argocd", ["promote_qa"])
    record = steps(work)
    assert record["update_tag"]["status"] == "succeeded" and record["wait_for_argocd"]["status"] == "failed"
    assert "promote" not in record
    failed = card_text(work, "04-failed-wait_for_argocd.teams.json")
    if fail_at == "deploy":
        assert "Degraded" in failed
    else:  # the Job ran init's command for real: its API test failed, post-sync-test exited 1
        assert "demo-service-post-sync-test" in failed and "pipekit exit 1" in failed
        junit = (work / "hooks/demo-service-dev/reports/demo-service-api.xml").read_text()
        assert 'failures="1"' in junit and "fewer than 99" in junit
        assert record["post_sync_test"]["outputs"]["result"] == "failed"
    bare = work / "gitops.git"
    log = git("log", "--format=%s", "main", cwd=bare).splitlines()
    assert log[0] == "demo-service: dev pending -> " + record["update_tag"]["outputs"]["tag"], log
    assert "newTag: pending" in git("show", "main:apps/demo-service/overlays/qa/kustomization.yaml", cwd=bare)


def test_gate_a_blocking_jira_issue_refuses_the_promotion(tmp_path: Path) -> None:
    proc, work = rehearse(tmp_path, "--stages", "build,update_tag,promote_qa", "--fail-at", "gate")
    assert_failed_as_requested(proc, "gate", "promote_qa", [])
    gate = steps(work)["jira_gate"]["outputs"]
    assert gate["passed"] is False and gate["blocking_count"] == 1
    assert gate["blocking"][0]["status"] == "In Progress"
    assert "04-failed-promote_qa.teams.json" in cards(work)
    bare = work / "gitops.git"
    assert "newTag: pending" in git("show", "main:apps/demo-service/overlays/qa/kustomization.yaml", cwd=bare)


def test_fail_at_a_stage_not_in_the_rehearsal_is_bad_input(tmp_path: Path) -> None:
    proc, work = rehearse(tmp_path, "--stages", "build", "--fail-at", "gate")
    assert proc.returncode == 2
    assert "--fail-at gate: its stage promote_qa is not in this rehearsal (build)" in proc.stderr
    assert not work.exists()
