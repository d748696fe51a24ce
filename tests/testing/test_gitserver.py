"""The git host stand-in: bare repositories over smart HTTP, token auth, real git clients."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pipekit.testing.gitserver import GitServer


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
    )


def test_a_clone_and_a_push_with_the_token_and_nothing_without_it(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    root.mkdir()
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("GitOps\n")
    assert git("init", "-q", "-b", "master", cwd=seed).returncode == 0
    git("add", ".", cwd=seed)
    git("commit", "-q", "-m", "first", cwd=seed)
    git("clone", "-q", "--bare", str(seed), str(root / "gitops.git"), cwd=tmp_path)
    with GitServer(root) as server:
        url = server.url("gitops")
        with_token = url.replace("http://", f"http://x-token-auth:{server.token}@")
        refused = git(
            "clone", "-q", url.replace("http://", "http://x-token-auth:wrong@"), "nope", cwd=tmp_path
        )
        assert refused.returncode != 0 and not (tmp_path / "nope" / "README.md").exists()
        assert git("clone", "-q", with_token, "work", cwd=tmp_path).returncode == 0
        work = tmp_path / "work"
        (work / "deploy.txt").write_text("dev\n")
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", "deploy", cwd=work)
        pushed = git("push", "-q", "origin", "master", cwd=work)
        assert pushed.returncode == 0, pushed.stderr
        statuses = {status for _, _, status in server.requests}
    assert statuses >= {200, 401}
    head = git("log", "-1", "--format=%s", "master", cwd=root / "gitops.git").stdout.strip()
    assert head == "deploy"
