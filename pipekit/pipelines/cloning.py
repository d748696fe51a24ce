"""A fresh clone of the commit under test for every step, as Bitbucket's build set-up makes it.

Bitbucket clones with ``--depth 50`` unless ``clone: depth`` says otherwise (``full``: the whole
history), puts a branch build on its branch at the commit, a tag build on the tag, and merges a
pull request's destination branch into the source before the steps run (a merge that fails
fails the step). ``clone: enabled: false`` leaves the clone folder empty. The clone is made from
the local repository over ``file://`` (so that ``--depth`` applies) with no user or system git
configuration, once per run and clone setting (:class:`Seeds`); each step gets its own copy of
that clone's ``.git`` (objects hard-linked, as ``git clone --local`` does: git never changes an
object file) and a working tree checked out afresh.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import CheckFailed
from pipekit.core.revision import short_revision
from pipekit.pipelines.model import Clone
from pipekit.pipelines.selection import Trigger

TIMEOUT_S = 300.0
IDENTITY = ("-c", "user.name=Bitbucket Pipelines", "-c", "user.email=commits-noreply@bitbucket.org")


def git_env(host_env: Mapping[str, str], home: Path) -> dict[str, str]:
    return {
        "PATH": host_env.get("PATH", os.defpath),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C",
    }


def _git(dest: Path, env: Mapping[str, str], *args: str) -> process.Result:
    return process.run(
        ["git", "-C", str(dest), "-c", "gc.auto=0", *args], env=env, timeout=TIMEOUT_S, error=CheckFailed
    )


def make(
    repo: Path,
    commit: str,
    dest: Path,
    *,
    settings: Clone,
    trigger: Trigger,
    branch: str | None,
    env: Mapping[str, str],
) -> str:
    """Clone into ``dest`` (which exists and is empty); a line for the step's log."""
    if not settings.enabled:
        return "clone: disabled (clone: enabled: false)"
    url = repo.resolve().as_uri()
    git = partial(_git, dest, env)
    depth = [f"--depth={settings.depth}"] if settings.depth else []
    git("init", "-q")
    with (dest / ".git" / "config").open(
        "a", encoding="utf-8"
    ) as config:  # `git remote add`, one process less
        config.write(f'[remote "origin"]\n\turl = {url}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n')
    git("fetch", "-q", "--no-tags", *depth, "origin", commit)
    if trigger.kind == "tag":
        git(
            "fetch",
            "-q",
            "--no-tags",
            *depth,
            "origin",
            f"+refs/tags/{trigger.name}:refs/tags/{trigger.name}",
        )
        git("checkout", "-q", "--detach", commit)
    elif branch:
        git("checkout", "-q", "-B", branch, commit)
    else:
        git("checkout", "-q", "--detach", commit)
    shown = f"depth {settings.depth}" if settings.depth else "full history"
    if trigger.kind == "pr":
        if settings.depth and git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            git("fetch", "-q", "--unshallow", "origin", commit)  # the merge needs the common history
        git(
            "fetch",
            "-q",
            "--no-tags",
            "origin",
            f"+refs/heads/{trigger.destination}:refs/remotes/origin/{trigger.destination}",
        )
        merged = process.run(
            ["git", "-C", str(dest), *IDENTITY, "merge", "--no-edit", "-q", f"origin/{trigger.destination}"],
            env=env,
            timeout=TIMEOUT_S,
            check=False,
        )
        if merged.returncode != 0:
            raise CheckFailed(
                f"the merge of {trigger.destination} into {trigger.name} failed, as Bitbucket's "
                f"pull-request build would: {(merged.stdout + merged.stderr).strip()[-200:]}"
            )
        return f"clone: {short_revision(commit)} merged with {trigger.destination} (pull request)"
    return f"clone: {short_revision(commit)} ({shown})"


class Seeds:
    """The run's clones, one per clone setting, from which each step's clone is copied."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._made: dict[str, tuple[Path, str]] = {}

    def clone(
        self,
        repo: Path,
        commit: str,
        dest: Path,
        *,
        settings: Clone,
        trigger: Trigger,
        branch: str | None,
        env: Mapping[str, str],
    ) -> str:
        if not settings.enabled:
            return "clone: disabled (clone: enabled: false)"
        key = f"depth-{settings.depth or 'full'}"
        with self._lock:  # the first step to need it makes it; the others wait for it
            if key not in self._made:
                seed = self.root / key
                shutil.rmtree(seed, ignore_errors=True)
                seed.mkdir(parents=True)
                self._made[key] = (
                    seed,
                    make(repo, commit, seed, settings=settings, trigger=trigger, branch=branch, env=env),
                )
        seed, line = self._made[key]
        shutil.copytree(seed / ".git", dest / ".git", symlinks=True, copy_function=_link_objects)
        _git(dest, env, "reset", "-q", "--hard")
        return line

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _link_objects(source: str, target: str) -> None:
    if f"{os.sep}objects{os.sep}" in source:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copy2(source, target)
