"""`pipekit rehearse`: the main job locally, notifications to an in-process sink, nothing leaves the machine."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipekit import rehearse
from pipekit.core.console import Console
from pipekit.core.step import StepContext
from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT


def run_rehearse(cwd: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BITBUCKET_", "PIPEKIT_")) and not k.endswith("_WEBHOOK_URL")}
    env.update(extra_env or {}, PYTHONPATH=str(REPO_ROOT), TMPDIR=str(cwd))
    return subprocess.run([sys.executable, "-m", "pipekit", "rehearse", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_fresh_folder_no_config_no_git_exits_0_and_shows_every_card(tmp_path: Path) -> None:
    with WebhookSink() as real_channel:  # a "real" webhook in the environment must never be used
        proc = run_rehearse(tmp_path, extra_env={"PIPEKIT_TEAMS_WEBHOOK_URL": real_channel.url("teams"),
                                                 "PIPEKIT_SLACK_WEBHOOK_URL": real_channel.url("slack")})
        assert real_channel.requests == []
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "▶️ demo-service: pipeline started" in out
    for stage in ("build", "scan", "ecr_push", "update_tag"):
        assert f"--- teams: succeeded ({stage}) -> sent, HTTP 202" in out
        assert f"--- slack: succeeded ({stage}) -> sent, HTTP 200" in out
    assert "🚀 demo-service deployed to dev" in out
    assert "--- teams: summary (pipeline) -> sent" in out and "✅ demo-service: pipeline succeeded" in out
    assert "[Adaptive Card 1.4]" in out and "Argo CD          demo-service-dev: Synced / Healthy (Succeeded)" in out
    assert "14 notification(s) delivered to the local sink" in out
    assert not list(tmp_path.glob("pipekit-rehearse-*")), "the temporary folder is removed"
    assert not (tmp_path / ".pipekit").exists()


def test_in_a_checkout_the_cards_carry_its_commit(git_repo: Path) -> None:
    proc = run_rehearse(git_repo, "--channel", "teams", "--keep")
    assert proc.returncode == 0, proc.stderr
    sha = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=git_repo, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert f"Commit {sha} by Dev Eloper: Add the service" in proc.stdout
    assert "✅ service: build succeeded" in proc.stdout and "--- slack" not in proc.stdout
    kept = [p for p in git_repo.glob("pipekit-rehearse-*")]
    assert len(kept) == 1 and (kept[0] / "run.json").is_file()


def _ctx(tmp_path: Path) -> StepContext:
    ctx = StepContext.create(env={"PATH": os.environ["PATH"]}, cwd=tmp_path, run_record=tmp_path / "outer.json")
    ctx.console = Console(stream=io.StringIO())
    return ctx


def test_a_stage_whose_module_is_missing_is_reported_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stages = [rehearse.Stage("build", rehearse.demo_build),
              rehearse.Stage("sign", lambda r: {}, requires=("pipekit.sign_not_written_yet",))]
    result = rehearse.run(_ctx(tmp_path), stages=stages)
    assert [(s.name, s.status) for s in result.stages] == [("build", "succeeded"), ("sign", "skipped")]
    assert "pipekit.sign_not_written_yet not available" in result.stages[1].detail
    assert [(n.event, n.stage) for n in result.notifications if n.channel == "teams"] == [
        ("started", "pipeline"), ("succeeded", "build"), ("summary", "pipeline")]
    assert all(n.status == "sent" for n in result.notifications)


def test_a_failing_stage_stops_the_job_and_the_summary_says_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    def broken(r: rehearse.Rehearsal) -> dict[str, Any]:
        raise RuntimeError("maven exploded")

    stages = [rehearse.Stage("build", broken), rehearse.Stage("scan", rehearse.demo_scan)]
    result = rehearse.run(_ctx(tmp_path), stages=stages, channels=("slack",))
    assert not result.ok
    assert [(s.name, s.status) for s in result.stages] == [("build", "failed")]
    assert [(n.event, n.stage) for n in result.notifications] == [
        ("started", "pipeline"), ("failed", "build"), ("summary", "pipeline")]
    assert "❌ demo-service: pipeline failed" in result.notifications[-1].rendering
