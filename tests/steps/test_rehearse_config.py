"""`pipekit rehearse --config FILE`: the user's settings rehearsed in init's pipeline,
against the stand-ins."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.steps.test_rehearse import run_rehearse

MINE = """\
service: orders
gitops:
  repo: git@bitbucket.org:acme/gitops.git
environments:
  dev:
    promotion: auto
  qa:
    promotion: gated
    gates: [signature]
notify:
  channels:
    - {name: releases, type: teams, webhook_env: RELEASES_TEAMS_URL}
"""


@pytest.mark.slow
def test_the_users_environments_gates_and_channels_are_rehearsed(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(MINE)
    proc = run_rehearse(tmp_path, "--config", "mine.yaml", "--image", "none", "--keep", "--workdir", "work")
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    assert "settings of mine.yaml: kept init's for gitops, service" in out
    sample = tmp_path / "work" / "demo-service"
    settings = (sample / "pipekit.yaml").read_text()
    assert settings.startswith("# pipekit rehearse: the settings of mine.yaml")
    assert "service: demo-service" in settings and "releases" in settings
    steps = re.findall(r"^(Deploy to \w+|Promote to \w+)[^\n]*?\s+passed\s", out, re.M)
    assert steps == ["Deploy to dev", "Promote to qa"], steps  # init onboarded the file's two environments
    cards = sorted(p.name for p in (tmp_path / "work" / "cards").glob("*.json"))
    assert cards and all(name.endswith(".teams.json") for name in cards), cards  # only the channel configured
    log = subprocess.run(
        ["git", "log", "--format=%(trailers:key=Pipekit-Environment,valueonly)", "master"],
        cwd=tmp_path / "work" / "git" / "gitops.git",
        capture_output=True,
        text=True,
    ).stdout.split()
    assert log == ["qa", "dev"]


def test_a_config_naming_an_environment_init_cannot_onboard_is_bad_input_before_anything_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine.yaml").write_text(
        "environments:\n  dev: {promotion: auto}\n  staging: {promotion: manual}\n"
    )
    proc = run_rehearse(tmp_path, "--config", "mine.yaml", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "mine.yaml: environments" in proc.stderr and "staging" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


REVIEWED = """\
environments:
  dev:
    promotion: auto
  prod:
    promotion: manual
    via: pull-request
    pull_request:
      reviewers: ["557058:alice-account"]
      merge: false
      wait_merge: true
"""


@pytest.mark.slow
def test_a_config_that_leaves_the_merge_to_its_reviewers_is_rehearsed_so(tmp_path: Path) -> None:
    import json

    (tmp_path / "mine.yaml").write_text(REVIEWED)
    proc = run_rehearse(
        tmp_path,
        "--config",
        "mine.yaml",
        "--image",
        "none",
        "--keep",
        "--workdir",
        "work",
        "--channel",
        "teams",
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    steps = re.findall(r"^(Deploy to \w+|Promote to [\w ]+?)(?: \(approved\))?\s+passed\s", out, re.M)
    assert steps == ["Deploy to dev", "Promote to prod by pull request"], steps
    pr = json.loads((tmp_path / "work" / "pull-requests" / "1.json").read_text())
    bare = tmp_path / "work" / "git" / "gitops.git"
    tip = subprocess.run(
        ["git", "rev-parse", "master"], cwd=bare, capture_output=True, text=True
    ).stdout.strip()
    # the configured reviewer approved and, as merge: false says, merged it themselves
    assert (pr["approved_by"], pr["merged_by"], pr["state"], pr["merge_commit"]) == (
        ["557058:alice-account"],
        "557058:alice-account",
        "MERGED",
        tip,
    )
    parents = subprocess.run(
        ["git", "rev-list", "--parents", "-1", tip], cwd=bare, capture_output=True, text=True
    ).stdout.split()
    assert len(parents) == 3 and pr["deployed"] == tip
    assert "merged by 557058:alice-account as " in out
    assert "history: 2 deployment(s) of demo-service; running in dev, prod" in out
