"""Shared fixtures. Step-specific fixtures live in the step's own test module or tests/fixtures/."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.core import masking

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PIPEKIT_SHARED", REPO_ROOT.parent / "shared"))
SCHEMAS = SHARED / "schemas"

BITBUCKET_VARS = [
    "BITBUCKET_COMMIT", "BITBUCKET_BRANCH", "BITBUCKET_TAG", "BITBUCKET_BUILD_NUMBER",
    "BITBUCKET_REPO_SLUG", "BITBUCKET_WORKSPACE", "BITBUCKET_REPO_FULL_NAME", "BITBUCKET_PR_ID",
    "BITBUCKET_PR_DESTINATION_BRANCH", "BITBUCKET_DEPLOYMENT_ENVIRONMENT", "BITBUCKET_PIPELINE_UUID",
    "BITBUCKET_STEP_UUID", "BITBUCKET_GIT_HTTP_ORIGIN", "BITBUCKET_EXIT_CODE",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's Bitbucket, pipekit or webhook variables; run records go to tmp."""
    for name in list(os.environ):
        if name.startswith(("BITBUCKET_", "PIPEKIT_", "ARGOCD_")) or name.endswith("_WEBHOOK_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPEKIT_RUN_RECORD", str(tmp_path / ".pipekit" / "run.json"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    masking.reset()
    yield
    masking.reset()


def load_schema(name: str) -> dict:
    import json

    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def git(*args: str, cwd: Path) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit."""
    repo = tmp_path / "service"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.email", "dev@example.com", cwd=repo)
    git("config", "user.name", "Dev Eloper", cwd=repo)
    (repo / "README.md").write_text("service\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "Add the service", cwd=repo)
    return repo


def run_pipekit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipekit ARGS` in a subprocess, as a pipeline would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pipekit", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
