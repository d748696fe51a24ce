"""One safe write to a GitOps repository: clone, edit, validate, render, commit, push, retry.

The edit is a function of the checked-out tree, so after a rejected (non-fast-forward) push
the writer fetches the new tip, resets onto it and *runs the edit again on that fresh tree*
(no merge or rebase of text): a concurrent change to the same line is seen and decided by
the edit itself. Retries are bounded, with the full-jitter backoff of :mod:`pipekit.core.retry`.
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pipekit.clients.git import Git, Identity, Workspace, remote_url
from pipekit.clients.kustomize import Prestarted, Renderer, expect_image
from pipekit.core import process, signals
from pipekit.core.errors import BadInput, ExternalError, Interrupted, PipekitError
from pipekit.core.outputs import StoppedWrite, WriteStatus
from pipekit.core.retry import Retrying
from pipekit.gitops import overlay as ov

DEFAULT_IDENTITY = Identity("pipekit", "pipekit@localhost")


@dataclass
class Change:
    """What an edit did to the tree (``paths`` changed; empty when nothing needed changing)."""

    paths: list[str]
    message: str
    render: list[tuple[str, str]] = field(default_factory=list)  # (overlay dir, expected image reference)
    note: str = ""  # why nothing changed: already at the tag, superseded by a newer build


@dataclass
class WriteOutcome:
    status: WriteStatus | StoppedWrite  # after a signal: pushed, not-pushed or unknown
    revision: str
    change: Change
    diff: str = ""
    retries: int = 0
    workloads: list[str] = field(default_factory=list)


class Edit(Protocol):
    """The extension point of a write: a function of the checked-out tree, run again on a fresh tip
    after a rejected push, saying what it changed (:mod:`pipekit.gitops.edits` has the image edits)."""

    def __call__(self, root: Path, git: Git) -> Change: ...


@runtime_checkable
class Prepared(Protocol):
    """An edit that can start work while git clones: the overlays it will render, anything else."""

    def render_dirs(self) -> list[str]: ...

    def warm(self) -> None: ...


_Key = tuple[str, tuple[str, ...], tuple[str, ...]]
# (overlay dir, references, input dirs, a running render or cached workloads, cache key if known)
_Job = tuple[str, list[str], list[str], "subprocess.Popen[str] | list[str]", "_Key | None"]


@dataclass(kw_only=True)
class Writer:
    repo: str
    push_retries: int  # the defaults: pipekit.gitops.settings.WriteOptions
    backoff_s: float
    branch: str = "main"
    env: Mapping[str, str] = field(default_factory=dict)
    renderer: Renderer = field(default_factory=Renderer)
    max_backoff_s: float = 4.0
    author: Identity = DEFAULT_IDENTITY
    committer: Identity = DEFAULT_IDENTITY
    username: str | None = None
    log: Callable[[str], None] = lambda _msg: None
    git_calls: list[list[str]] = field(default_factory=list)
    keep_diff: bool = False  # also put the diff of a real (not dry) run in the result
    push_branch: str | None = None  # force-push the commit there instead (a pull request's branch)
    _rendered: dict[_Key, list[str]] = field(default_factory=dict)
    _prestarted: dict[str, Prestarted] = field(default_factory=dict)  # overlay dir -> renderer waiting for it
    _unkeyed: list[tuple[str, list[str], list[str], list[str]]] = field(default_factory=list)
    _pushing: tuple[str, Change] | None = None  # (revision, change) while a push is under way

    def write(
        self, sparse: Sequence[str] | Callable[[Git], Sequence[str]], edit: Edit, *, dry_run: bool = False
    ) -> WriteOutcome:
        """Clone, run ``edit`` and push; ``sparse`` may be a function of the clone (it can list files)."""
        if not self.branch or self.branch.startswith("-"):
            raise BadInput(f"branch {self.branch!r} is not valid")
        url = remote_url(self.repo)
        with Workspace(self.env, self.username) as ws:

            def while_cloning() -> None:
                # The renderer starts up (most of its time) while git clones; then imports.
                if not isinstance(edit, Prepared):
                    return
                for overlay_dir in edit.render_dirs()[:1]:
                    started = self.renderer.prestart(ws.root / "render", overlay_dir)
                    if started is not None:
                        self._prestarted[overlay_dir] = started
                edit.warm()

            git: Git | None = None
            self._pushing = None
            try:
                git = Git.clone(
                    url,
                    ws.repo,
                    branch=self.branch,
                    sparse=None if callable(sparse) else sparse,
                    env=ws.env,
                    while_cloning=while_cloning,
                )
                if callable(sparse):
                    sparse = list(sparse(git))
                    git.checkout(sparse)
                return self._loop(git, ws.repo, sparse, edit, dry_run)
            except Interrupted as stop:  # say what the remote holds now, for the run record
                stop.result = self._settle(git)
                raise
            finally:
                for started in self._prestarted.values():
                    started.stop()
                self._prestarted.clear()
                if git is not None:
                    self.git_calls.extend(git.calls)

    def _loop(self, git: Git, root: Path, sparse: Sequence[str], edit: Edit, dry_run: bool) -> WriteOutcome:
        present = list(sparse)
        tries = Retrying(self.push_retries + 1, math.inf, self.backoff_s, self.max_backoff_s)
        for attempt in tries:
            retries = attempt - 1
            change = edit(root, git)
            if not change.paths:
                return WriteOutcome("unchanged", git.head(), change, retries=retries)
            rendering = self._start_render(git, root, present, change)
            try:
                if dry_run:
                    workloads = self._finish_render(rendering)
                    return WriteOutcome("dry-run", git.head(), change, diff=git.diff(), workloads=workloads)
                diff = git.diff() if self.keep_diff else ""
                # The commit is made in the private clone while kustomize renders; it is pushed only
                # if the render passes, and a failure deletes the clone with it.
                revision = git.commit(
                    change.message, paths=change.paths, author=self.author, committer=self.committer
                )
                workloads = self._finish_render(rendering)
            finally:
                for _dir, _refs, _inputs, job, _key in rendering:
                    if not isinstance(job, list) and job.poll() is None:
                        process.kill(job)
            self._pushing = (revision, change)
            pushed = git.push(self.push_branch or self.branch, force=self.push_branch is not None)
            self._pushing = None
            if pushed:
                return WriteOutcome(
                    "pushed", revision, change, diff=diff, retries=retries, workloads=workloads
                )
            delay = tries.wait()
            if delay is None:
                raise ExternalError(
                    f"push to {self.branch} was rejected {attempt} times: others keep writing",
                    hint="run again, or raise gitops.push_retries",
                )
            self.log(
                f"push rejected (the branch moved); re-applying on the new tip in {delay:.2f}s "
                f"(retry {attempt}/{self.push_retries})"
            )
            self._remember(git)
            time.sleep(delay)
            git.refresh(self.branch)
        raise AssertionError("unreachable: the tries end in a return or a raise")

    def _settle(self, git: Git | None) -> WriteOutcome:
        """After a signal: ``pushed`` (with the revision) if the remote branch holds the commit
        being pushed, ``not-pushed`` if no push had started or the remote does not hold it,
        ``unknown`` if the remote cannot be asked."""
        if git is None or self._pushing is None:
            return WriteOutcome("not-pushed", "", Change([], ""))
        revision, change = self._pushing
        try:
            with signals.deferred():  # a second signal must not cut the question short
                head = git.remote_head(self.branch)
        except (PipekitError, Interrupted):
            return WriteOutcome("unknown", revision, change)
        return WriteOutcome(
            "pushed" if head == revision else "not-pushed", revision if head == revision else "", change
        )

    def _start_render(self, git: Git, root: Path, present: list[str], change: Change) -> list[_Job]:
        """Start one render per overlay (in parallel);
        overlays rendered before on identical trees are reused."""
        if not self.renderer.enabled:
            return []
        by_dir: dict[str, list[str]] = {}
        for overlay_dir, reference in change.render:
            by_dir.setdefault(overlay_dir, []).append(reference)
        jobs: list[_Job] = []
        for overlay_dir, references in by_dir.items():
            inputs = ensure_checked_out(git, root, overlay_dir, present)
            # After a re-apply on a fresh tip whose overlay and bases did not change, the files are
            # byte for byte what was rendered before: no need to render them again.
            if self._rendered:
                known: _Key = (overlay_dir, tuple(references), git.tree_ids(inputs))
                cached = self._rendered.get(known)
                key: _Key | None = known
                job: subprocess.Popen[str] | list[str] = (
                    cached if cached is not None else self.renderer.start(root / overlay_dir)
                )
            else:  # first attempt: the trees are looked up only if the push is rejected (see _remember)
                key, job = None, self._start_one(root, overlay_dir)
            jobs.append((overlay_dir, references, inputs, job, key))
        return jobs

    def _start_one(self, root: Path, overlay_dir: str) -> subprocess.Popen[str]:
        """Hand the overlay to the renderer started while cloning, or start one now."""
        started = self._prestarted.pop(overlay_dir, None)
        if started is not None:
            proc = started.feed(root)
            if proc is not None:
                return proc
            started.stop()
        return self.renderer.start(root / overlay_dir)

    def _finish_render(self, jobs: list[_Job]) -> list[str]:
        workloads: list[str] = []
        for overlay_dir, references, inputs, job, key in jobs:
            if isinstance(job, list):
                workloads += job
                continue
            manifests = self.renderer.finish(job, overlay_dir)
            found = [w for reference in references for w in expect_image(manifests, reference, overlay_dir)]
            if key is None:
                self._unkeyed.append((overlay_dir, references, inputs, found))
            else:
                self._rendered[key] = found
            workloads += found
        return workloads

    def _remember(self, git: Git) -> None:
        """Key the renders of a rejected commit by its parent's trees (what the edit was applied to)."""
        for overlay_dir, references, inputs, found in self._unkeyed:
            self._rendered[(overlay_dir, tuple(references), git.tree_ids(inputs, rev="HEAD^"))] = found
        self._unkeyed.clear()


def _covered(path: str, present: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in present)


def ensure_checked_out(git: Git, root: Path, overlay_dir: str, present: list[str]) -> list[str]:
    """Add to the sparse checkout every directory the overlay refers to (bases, components), transitively.

    Returns the directories the rendering reads."""
    todo = [overlay_dir]
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if not _covered(current, present):
            git.sparse_add([current])
            present.append(current)
        found = ov.kustomization_file(root / current)
        if found is None:
            continue
        path, rel = ov.inside(root, f"{current}/{found.name}")
        text = path.read_text(encoding="utf-8")
        todo += ov.referenced_dirs(text, rel, current)
    return sorted(seen)


def trailers(pairs: Sequence[tuple[str, str | None]]) -> str:
    """A git trailer block (``Key: value`` lines); empty values are left out, newlines flattened."""
    lines = [f"{key}: {' '.join(str(value).split())}" for key, value in pairs if value not in (None, "")]
    return "\n".join(lines)


def message(subject: str, body: Sequence[str], trailer_pairs: Sequence[tuple[str, str | None]]) -> str:
    parts = [" ".join(subject.split())]
    text_body = "\n".join(line for line in body if line)
    if text_body:
        parts.append(text_body)
    block = trailers(trailer_pairs)
    if block:
        parts.append(block)
    return "\n\n".join(parts) + "\n"
