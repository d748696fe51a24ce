"""`pipekit rehearse --fail-at`: one step of init's pipeline fails for real,
the later ones do not run, exit 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.steps.test_rehearse import run_rehearse

pytestmark = pytest.mark.slow

CASES = {  # --fail-at: (the step that fails, what its log says)
    "scan": ("Security gate", "blocked: "),
    "tests": ("Unit tests", "RehearsalFailAtTest"),
    "deploy": ("Deploy to dev", "progress deadline exceeded (rehearsed by --fail-at deploy)"),
    "hook": ("Deploy to dev", "hook PostSync Job 'demo-service-post-sync-test'"),
    "gate": ("Promote to qa (jira,signature gate)", "refused by gate 'jira'"),
    "signature": ("Promote to qa (jira,signature gate)", "is not signed by a trusted key: no signature"),
}
STEPS = [
    "Unit tests",
    "SAST",
    "SCA",
    "Security gate",
    "Build and push image",
    "Deploy to dev",
    "Promote to qa (jira,signature gate)",
    "Promote to preprod",
    "Promote to prod by pull request",
]


@pytest.mark.parametrize("fail_at", list(CASES))
def test_the_step_fails_for_real_and_nothing_after_it_runs(tmp_path: Path, fail_at: str) -> None:
    step, said = CASES[fail_at]
    proc = run_rehearse(
        tmp_path, "--fail-at", fail_at, "--image", "none", "--keep", "--workdir", "work", "--channel", "teams"
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert f"rehearsal: {step} failed as requested (--fail-at {fail_at}: " in proc.stderr, out[-3000:]
    assert re.search(rf"^{re.escape(step)}\s+failed\s", proc.stdout, re.M), proc.stdout[-3000:]
    logs = {p.parent.name: p.read_text() for p in (tmp_path / "work" / "run" / "steps").glob("*/log.txt")}
    assert any(said in text for text in logs.values()), (said, list(logs))
    for later in STEPS[STEPS.index(step) + 1 :]:  # the pipeline stopped at it, as Bitbucket stops
        if later not in ("SAST", "SCA"):  # the parallel group's others run to their end
            assert re.search(rf"^{re.escape(later)}\s+not-run\s", proc.stdout, re.M), later
    assert any(p.name.endswith("failed.teams.json") for p in (tmp_path / "work" / "cards").iterdir())
    if fail_at == "signature":
        assert "--fail-at signature: deleted the signature demo-service:sha256-" in out
