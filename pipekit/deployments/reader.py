"""One streaming reader of deployments from a GitOps repository's history.

``git log --reverse`` (oldest first) limited to the overlay paths, with a custom format
(commit, committer time, author, subject, trailers, body) and ``--raw`` (the changed files'
blob ids), parsed record by record from the pipe. A commit with ``Pipekit-*`` trailers is
read from its trailers alone; a commit without them that edits an overlay's kustomization
is attributed by path (:class:`Layout`) and its image entry is read from the blobs of that
commit only. Nothing but the current state per (service, environment) is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pipekit.clients.git_history import HistoryGit
from pipekit.core.errors import BadInput
from pipekit.deployments.layout import Layout
from pipekit.deployments.model import Deployment, from_epoch, parse_time
from pipekit.gitops.refs import ImageRef

FORMAT = "--format=%x00C%H%x1f%ct%x1f%an%x1f%s%x1f%(trailers:only,unfold,separator=%x1e)%x1f%b%x00E"
_REVERTS = re.compile(rb"This reverts commit ([0-9a-f]{7,64})")
_ZERO = "0" * 40
# Keys that hold for the whole commit wherever they stand in the block (a promotion writes the
# environment first, then one group per service; update-tag writes one group).
_COMMIT_KEYS = ("Pipekit-Environment", "Pipekit-Promoted-From", "Pipekit-Build-Url", "Pipekit-Build-Number",
                "Pipekit-Rollback-Of")


@dataclass
class Filter:
    environments: Sequence[str] = ()
    services: Sequence[str] = ()

    def wants(self, service: str, env: str) -> bool:
        return (not self.environments or env in self.environments) and (not self.services or service in self.services)


@dataclass
class _Commit:
    sha: str
    time: int
    author: str
    subject: str
    trailers: bytes
    body: bytes
    raw: list[bytes] = field(default_factory=list)


def read(git: HistoryGit, layout: Layout, *, rev: str = "HEAD", only: Filter | None = None) -> Iterator[Deployment]:
    """Every deployment on ``rev``, oldest first, with rollbacks recognised as they happen."""
    only = only or Filter()
    argv = ["log", "--reverse", "--raw", "--no-abbrev", "--no-renames", "--no-merges", FORMAT, rev, "--",
            *layout.pathspecs(only.environments, only.services)]
    current: dict[tuple[str, str], str] = {}  # (service, env) -> version now deployed
    seen: dict[tuple[str, str], set[str]] = {}  # versions deployed before
    for commit in _commits(git.stream(*argv)):
        for dep in _deployments(git, layout, commit):
            if not only.wants(dep.service, dep.environment):
                continue
            key = (dep.service, dep.environment)
            before = seen.setdefault(key, set())
            now = current.get(key)
            if dep.version and dep.version != now and dep.version in before:
                dep.rollback = True  # a later deploy of an older image
            if dep.rollback_of or dep.revert_of:
                dep.rollback = True
            if now:
                before.add(now)
            if dep.version:
                current[key] = dep.version
            yield dep


def _commits(lines: Iterable[bytes]) -> Iterator[_Commit]:
    commit: _Commit | None = None
    body: list[bytes] = []
    in_header = False
    for line in lines:
        if line.startswith(b"\x00C"):
            if commit is not None:
                yield commit
            sha, when, author, subject, trailers, first = line[2:].split(b"\x1f", 5)
            commit = _Commit(sha.decode(), int(when), author.decode("utf-8", "replace"),
                             subject.decode("utf-8", "replace"), trailers, b"")
            body = [first]
            in_header = True
        elif commit is None:
            continue
        elif in_header:
            body.append(line)
        elif line.startswith(b":"):
            commit.raw.append(line)
        if in_header and body[-1].rstrip(b"\n").endswith(b"\x00E"):
            commit.body = b"".join(body)
            in_header = False
    if commit is not None:
        yield commit


def _deployments(git: HistoryGit, layout: Layout, commit: _Commit) -> list[Deployment]:
    match = _REVERTS.search(commit.body)
    revert_of = match.group(1).decode() if match else None
    if commit.trailers.strip():
        found = _from_trailers(commit)
        if found:
            for dep in found:
                dep.revert_of = revert_of
            return found
    return _from_paths(git, layout, commit, revert_of)


def _groups(block: bytes) -> tuple[dict[str, str], list[dict[str, str]]]:
    common: dict[str, str] = {}
    groups: list[dict[str, str]] = []
    for item in block.decode("utf-8", "replace").split("\x1e"):
        key, sep, value = item.partition(": ")
        if not sep or not key.startswith("Pipekit-"):
            continue
        value = value.strip()
        if key in _COMMIT_KEYS:
            common.setdefault(key, value)
        elif key == "Pipekit-Service":
            groups.append({key: value})
        elif groups:
            groups[-1].setdefault(key, value)
    return common, groups


def _from_trailers(commit: _Commit) -> list[Deployment]:
    common, groups = _groups(commit.trailers)
    env = common.get("Pipekit-Environment")
    if not env:
        return []
    build = common.get("Pipekit-Build-Number", "")
    found = []
    for g in groups:
        at = g.get("Pipekit-Source-Committed-At")
        try:
            source_at = parse_time(at) if at else None
        except ValueError:
            source_at = None  # a hand-written trailer that is no time: no lead time for this one
        found.append(Deployment(
            commit=commit.sha, deployed_at=from_epoch(commit.time), service=g["Pipekit-Service"], environment=env,
            image=g.get("Pipekit-Image"), tag=g.get("Pipekit-Tag"), digest=g.get("Pipekit-Digest"),
            author=commit.author, subject=commit.subject, source_commit=g.get("Pipekit-Source-Commit"),
            source_committed_at=source_at, build_url=common.get("Pipekit-Build-Url"),
            build_number=int(build) if build.isdigit() else None,
            promoted_from=common.get("Pipekit-Promoted-From"), rollback_of=common.get("Pipekit-Rollback-Of")))
    return found


def _from_paths(git: HistoryGit, layout: Layout, commit: _Commit, revert_of: str | None) -> list[Deployment]:
    found = []
    for line in commit.raw:
        meta, _, path = line.rstrip(b"\n").partition(b"\t")
        parts = meta.split()
        if len(parts) < 5 or parts[4][:1] != b"M":  # a new overlay is onboarding, a deleted one no deploy
            continue
        owner = layout.attribute(path.decode("utf-8", "replace"))
        if owner is None:
            continue
        service, env = owner
        old = _image(git, layout, parts[2].decode(), path.decode(), service)
        new = _image(git, layout, parts[3].decode(), path.decode(), service)
        if new is None or (old is not None and old.reference == new.reference):
            continue  # the commit changed something else in the overlay
        found.append(Deployment(
            commit=commit.sha, deployed_at=from_epoch(commit.time), service=service, environment=env,
            image=new.new_name or new.name, tag=new.new_tag, digest=new.digest, author=commit.author,
            subject=commit.subject, revert_of=revert_of, pipekit=False,
            build_number=new.build))
    return found


def _image(git: HistoryGit, layout: Layout, oid: str, path: str, service: str) -> ImageRef | None:
    """The service's images entry in one blob of a kustomization file."""
    from pipekit.gitops import kustomization

    if oid == _ZERO or set(oid) == {"0"}:
        return None
    try:
        refs = kustomization.entries(git.blob(oid).decode("utf-8", "replace"), path)
    except BadInput:
        return None  # not valid YAML at that commit: nothing an Argo CD sync would have deployed
    name = layout.image_name(service)
    for ref in refs:
        if (name and ref.name == name) or (not name and (ref.name == service or ref.name.endswith(f"/{service}"))):
            return ref
    return refs[0] if len(refs) == 1 and not name else None
