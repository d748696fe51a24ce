"""The branches init generates for: the service repository's and the GitOps repository's, as they really are.

The pipeline triggers on the service's branch and Argo CD follows the GitOps repository's, so
neither may be a guess: by default the service's branch is the checkout's current branch (its
default branch when detached) and the GitOps branch is the ``--gitops-dir`` checkout's current
branch or the ``--gitops-repo``'s default branch (``HEAD``). A branch given by flag must exist
there; one that does not is bad input naming it. One ``git`` process per repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import BadInput, ExternalError


def _git(env: Mapping[str, str], *args: str, cwd: Path | None = None, timeout: float = 30) -> process.Result:
    clean = {
        k: v for k, v in env.items() if not k.startswith("GIT_") or k.startswith(("GIT_SSH", "GIT_CONFIG"))
    }
    return process.run(["git", *args], cwd=cwd, env=clean, timeout=timeout, check=False)


def service_branch(root: Path, given: str | None, env: Mapping[str, str]) -> str:
    """``given`` when the repository at ``root`` has it, else its current (or, detached, default) branch."""
    if _git(env, "rev-parse", "--git-dir", cwd=root).returncode != 0:
        raise BadInput(
            f"{root}: not a git repository: run pipekit init at the root of the service's repository"
        )
    current, refs = _local(root, env)
    if not given and not current:
        default = _git(env, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", cwd=root).stdout
        current = default.strip().removeprefix("origin/")
    return _checked(given, (current, refs), f"the service repository {root}", "--branch")


def checkout_branch(root: Path, given: str | None, env: Mapping[str, str]) -> str:
    """The ``--gitops-dir`` checkout's branch: ``given`` when it has it, else the current one."""
    return _checked(given, _local(root, env), f"the GitOps checkout {root}", "--gitops-branch")


def remote_branch(url: str, given: str | None, env: Mapping[str, str]) -> str:
    """The ``--gitops-repo``'s branch: ``given`` when it has it, else its default branch."""
    from pipekit.clients.git import Git, Workspace, display_url, git_message, remote_url

    with Workspace(env) as ws:  # the token of PIPEKIT_GITOPS_TOKEN, as the writer's clone uses it
        proc = Git(ws.root, ws.env).run(
            "ls-remote", "--symref", remote_url(url), "HEAD", "refs/heads/*", network=True, check=False
        )
    if proc.returncode != 0:
        raise ExternalError(f"cannot read the branches of {display_url(url)}: {git_message(proc.stderr)}")
    heads, default = set(), ""
    for line in proc.stdout.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            default = line[5:].split("\t", 1)[0].removeprefix("refs/heads/")
        elif "\trefs/heads/" in line:
            heads.add(line.split("\trefs/heads/", 1)[1])
    if given:
        if heads and given not in heads:
            raise BadInput(
                f"--gitops-branch {given}: no such branch in {url} (branches: {', '.join(sorted(heads))})"
            )
        return given
    return default or (sorted(heads)[0] if len(heads) == 1 else "main")


def _local(root: Path, env: Mapping[str, str]) -> tuple[str, set[str]]:
    proc = _git(env, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes/origin", cwd=root)
    current = _git(env, "symbolic-ref", "--quiet", "--short", "HEAD", cwd=root).stdout.strip()
    return current, set(proc.stdout.split()) if proc.returncode == 0 else set()


def _checked(given: str | None, found: tuple[str, set[str]], where: str, flag: str) -> str:
    current, refs = found
    if given:
        if given != current and not {f"refs/heads/{given}", f"refs/remotes/origin/{given}"} & refs:
            raise BadInput(
                f"{flag} {given}: no such branch in {where} "
                f"(branches: {', '.join(sorted(_names(refs))) or 'none yet'})"
            )
        return given
    if current:
        return current
    raise BadInput(f"{where}: HEAD is detached and no default branch is known: pass {flag} NAME")


def _names(refs: set[str]) -> set[str]:
    return {
        r.removeprefix("refs/heads/").removeprefix("refs/remotes/origin/")
        for r in refs
        if not r.endswith("/HEAD")
    }
