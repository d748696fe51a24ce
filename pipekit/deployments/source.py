"""Open a GitOps repository for reading: a local one in place, a remote one as a blob-less clone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from pipekit.clients.git import Workspace, remote_url
from pipekit.clients.git_history import HistoryGit
from pipekit.core.errors import BadInput


def _local(repo: str) -> Path | None:
    if "://" in repo:  # a URL (file:// too) is cloned: the same path as a remote one
        return None
    path = Path(repo).expanduser()
    if not path.exists():
        if "@" in repo.split(":")[0] and ":" in repo:  # scp-like ssh: git@host:owner/repo.git
            return None
        raise BadInput(
            f"--gitops-repo {repo}: no such directory", hint="pass a GitOps repository URL or path"
        )
    return path.resolve()


@contextlib.contextmanager
def open_repo(repo: str, branch: str, env: Mapping[str, str]) -> Iterator[tuple[HistoryGit, str]]:
    """(git, revision to read): a local repository is read where it is (its ``branch``), a remote
    one is cloned bare and blob-less into a private temporary folder, removed afterwards."""
    if not repo:
        raise BadInput("no GitOps repository: pass --gitops-repo or set gitops.repo in pipekit.yaml")
    if branch.startswith("-"):
        raise BadInput(f"branch {branch!r} is not valid")
    local = _local(repo)
    if local is not None:
        git = HistoryGit(local, {**env, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        probe = git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
        if probe.returncode != 0:
            raise BadInput(
                f"--gitops-repo {repo}: no branch {branch!r} (or not a git repository)",
                hint="check gitops.branch / PIPEKIT_GITOPS_BRANCH",
            )
        try:
            yield git, f"refs/heads/{branch}"
        finally:
            git.close()
        return
    with Workspace(env) as ws:
        git = HistoryGit.clone_history(remote_url(repo), ws.repo, branch=branch, env=ws.env)
        try:
            yield git, "HEAD"
        finally:
            git.close()
