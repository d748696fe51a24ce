"""One streaming reader of deployments from a GitOps repository's history.

Two ``git log --reverse`` (oldest first) read side by side from pipes and merged by commit
time, parsed record by record (commit, committer time, author, message): the commits with
pipekit trailers (``--grep``), and the others with ``--raw`` (the changed files' blob ids). A commit with
``Pipekit-*`` trailers is read from its trailers alone; a commit without them that edits an overlay's
kustomization is attributed by path (:class:`Layout`) and its image entry is read from the blobs of that
commit only. Nothing but the current state per (service, environment) is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pipekit.clients.git_history import HistoryGit, records
from pipekit.core.errors import BadInput
from pipekit.deployments.layout import Layout
from pipekit.deployments.model import Deployment, from_epoch, parse_time
from pipekit.gitops.refs import ImageRef

FORMAT = "--format=%x00C%H%x1f%ct%x1f%an%x1f%B%x00E"
_REVERTS = re.compile(rb"This reverts commit ([0-9a-f]{7,64})")
_ZERO = "0" * 40
_MARK = "^Pipekit-Environment: "


@dataclass
class Filter:
    environments: Sequence[str] = ()
    services: Sequence[str] = ()

    def wants(self, service: str, env: str) -> bool:
        return (not self.environments or env in self.environments) and (
            not self.services or service in self.services
        )


@dataclass
class _Commit:
    sha: str
    time: int
    author: str
    subject: str
    body: bytes
    raw: list[bytes] = field(default_factory=list)


def read(
    git: HistoryGit, layout: Layout, *, rev: str = "HEAD", only: Filter | None = None
) -> Iterator[Deployment]:
    """Every deployment on ``rev``, oldest first, with rollbacks recognised as they happen."""
    only = only or Filter()
    current: dict[tuple[str, str], str] = {}  # (service, env) -> version now deployed
    seen: dict[tuple[str, str], set[str]] = {}  # versions deployed before
    for commit in _merged(git, layout, rev, only):
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


def _ere(text: str) -> str:
    return re.sub(r"([.\\[\](){}*+?|^$])", r"\\\1", text)


def _merged(git: HistoryGit, layout: Layout, rev: str, only: Filter) -> Iterator[_Commit]:
    """Two git logs read side by side: the commits with pipekit trailers (found by ``--grep``, no
    tree diffs at all) and the others with ``--raw`` (their changed files). Path-limiting every
    commit (``-- overlays``) would diff every commit's trees, which costs most of the time on a
    big repository; only the hand-made commits need their files.

    Of the hand-made commits only those that edit a wanted overlay are kept (usually none, and
    few); when there are some, a third, cheap ``git rev-list`` of the same walk gives the order to
    merge them in (commit times are not monotonic in general)."""
    base = ["log", "--reverse", "--no-merges", FORMAT]
    marked = [*base, "-E", "--all-match", f"--grep={_MARK}"]
    if only.services:
        marked.append("--grep=^Pipekit-Service: (" + "|".join(_ere(s) for s in only.services) + ")$")
    if only.environments:
        marked.append("--grep=^Pipekit-Environment: (" + "|".join(_ere(e) for e in only.environments) + ")$")
    plain = [*base, "--raw", "--no-abbrev", "--no-renames", "--invert-grep", f"--grep={_MARK}"]
    trailered = _commits(git.stream(*marked, rev, "--"))
    edits = [c for c in _commits(git.stream(*plain, rev, "--")) if _edits_overlay(layout, c, only)]
    if not edits:
        yield from trailered
        return
    streams = [trailered, iter(edits)]
    heads = [next(s, None) for s in streams]
    for sha in _lines(git.stream("rev-list", "--reverse", "--no-merges", rev, "--")):
        for i, head in enumerate(heads):
            if head is not None and head.sha == sha:
                yield head
                heads[i] = next(streams[i], None)
                break
        if heads[0] is None and heads[1] is None:
            break


def _edits_overlay(layout: Layout, commit: _Commit, only: Filter) -> bool:
    for line in commit.raw:
        meta, _, path = line.partition(b"\t")
        parts = meta.split()
        if len(parts) >= 5 and parts[4][:1] == b"M":
            owner = layout.attribute(path.decode("utf-8", "replace"))
            if owner is not None and only.wants(*owner):
                return True
    return False


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    for line in records(chunks, b"\n"):
        yield line.decode()


def _commits(chunks: Iterable[bytes]) -> Iterator[_Commit]:
    return map(_parse, _records(chunks))


def _records(chunks: Iterable[bytes]) -> Iterator[bytes]:
    return (r for r in records(chunks, b"\x00C") if r)


def _parse(record: bytes) -> _Commit:
    header, _, tail = record.partition(b"\x00E")
    sha, when, author, body = header.split(b"\x1f", 3)
    subject = body.split(b"\n", 1)[0].decode("utf-8", "replace")
    raw = [line for line in tail.split(b"\n") if line.startswith(b":")]
    return _Commit(sha.decode(), int(when), author.decode("utf-8", "replace"), subject, body, raw)


def _deployments(git: HistoryGit, layout: Layout, commit: _Commit) -> list[Deployment]:
    match = _REVERTS.search(commit.body)
    revert_of = match.group(1).decode() if match else None
    if b"\nPipekit-" in commit.body:
        found = _from_trailers(commit)
        if found:
            for dep in found:
                dep.revert_of = revert_of
            return found
    return _from_paths(git, layout, commit, revert_of)


def _from_trailers(commit: _Commit) -> list[Deployment]:
    from pipekit.gitops import trailers

    t = trailers.parse(commit.body)
    if not t.environment:
        return []
    found = []
    for g in t.groups:
        try:
            source_at = parse_time(g.source_committed_at) if g.source_committed_at else None
        except ValueError:
            source_at = None  # a hand-written trailer that is no time: no lead time for this one
        found.append(
            Deployment(
                commit=commit.sha,
                deployed_at=from_epoch(commit.time),
                service=g.service,
                environment=t.environment,
                image=g.image,
                tag=g.tag,
                digest=g.digest,
                author=commit.author,
                subject=commit.subject,
                source_commit=g.source_commit,
                source_committed_at=source_at,
                build_url=t.build_url,
                build_number=g.build_number,
                promoted_from=t.promoted_from,
                rollback_of=t.rollback_of,
                image_name=g.image_name,
            )
        )
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
        found.append(
            Deployment(
                commit=commit.sha,
                deployed_at=from_epoch(commit.time),
                service=service,
                environment=env,
                image=new.new_name or new.name,
                tag=new.new_tag,
                digest=new.digest,
                author=commit.author,
                subject=commit.subject,
                revert_of=revert_of,
                pipekit=False,
                build_number=new.build,
                image_name=new.name if new.new_name else None,
            )
        )
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
        if (name and ref.name == name) or (
            not name and (ref.name == service or ref.name.endswith(f"/{service}"))
        ):
            return ref
    return refs[0] if len(refs) == 1 and not name else None


# -- what runs now: the newest deployment per (service, environment) ------------------------------
_ENV_LINE = re.compile(rb"^Pipekit-Environment: *(.*?) *$", re.MULTILINE)
_SERVICE_LINE = re.compile(rb"^Pipekit-Service: *(.*?) *$", re.MULTILINE)


def overlay_cells(git: HistoryGit, layout: Layout, rev: str = "HEAD") -> dict[tuple[str, str], str]:
    """(service, environment) -> path of every overlay kustomization file on ``rev``
    (trees only: no blob read)."""
    listing = git.run("ls-tree", "-r", "--name-only", "--full-tree", rev).stdout
    return {owner: path for path in listing.splitlines() if (owner := layout.attribute(path)) is not None}


def tip_image(git: HistoryGit, layout: Layout, rev: str, path: str, service: str) -> ImageRef | None:
    """The service's images entry in the overlay file ``path`` as it is on ``rev``."""
    return _image(git, layout, f"{rev}:{path}", path, service)


def latest(
    git: HistoryGit,
    layout: Layout,
    *,
    rev: str = "HEAD",
    only: Filter | None = None,
    within: Iterable[tuple[str, str]] | None = None,
    batch: int = 256,
) -> dict[tuple[str, str], Deployment]:
    """The deployment running now in every (service, environment) whose overlay exists on ``rev``
    (or of the cells ``within``).

    One ``git log`` newest first, no diffs: a commit with trailers is judged by its
    ``Pipekit-Service``/``Pipekit-Environment`` lines alone and parsed only when it deploys a cell
    not yet known; a commit without them waits in a queue whose changed files one
    ``git diff-tree --stdin`` reads a batch at a time (hand-made edits, reverts). Both keep their
    place in the walk, so the newest of the two wins. The walk stops as soon as every cell is
    known: a busy repository is read only back to its least recently deployed overlay. A cell that
    no commit deployed (only onboarded) is absent from the answer."""
    only = only or Filter()
    cells = {c for c in (overlay_cells(git, layout, rev) if within is None else within) if only.wants(*c)}
    found: dict[tuple[str, str], tuple[int, Deployment]] = {}
    queued: list[tuple[int, bytes]] = []

    def settle() -> None:
        for index, dep in _hand_made(git, layout, queued):
            key = (dep.service, dep.environment)
            if key in cells and (key not in found or found[key][0] > index):
                dep.rollback = bool(dep.revert_of)
                found[key] = (index, dep)
        queued.clear()

    if cells:
        stream = git.stream("log", "--no-merges", FORMAT, rev, "--")
        for index, record in enumerate(_records(stream)):
            env = _ENV_LINE.search(record)
            if env is None:
                queued.append((index, record))
                if len(queued) >= batch:
                    settle()
            else:
                name = env.group(1).decode("utf-8", "replace")
                wanted = [s.decode("utf-8", "replace") for s in _SERVICE_LINE.findall(record)]
                if not any((s, name) in cells and (s, name) not in found for s in wanted):
                    continue
                for dep in _deployments(git, layout, _parse(record)):
                    key = (dep.service, dep.environment)
                    if key in cells and key not in found:
                        dep.rollback = bool(dep.rollback_of or dep.revert_of)
                        found[key] = (index, dep)
            if len(found) == len(cells):
                break
        stream.close()  # stops git when the walk ended early
        settle()  # a queued hand-made commit may be newer than what the trailers said
    return {key: dep for key, (_i, dep) in sorted(found.items())}


def _hand_made(
    git: HistoryGit, layout: Layout, queued: list[tuple[int, bytes]]
) -> Iterator[tuple[int, Deployment]]:
    """The deployments of queued commits without trailers, from their changed files (one git process)."""
    if not queued:
        return
    commits = {}
    for index, record in queued:
        commit = _parse(record)
        commits[commit.sha] = (index, commit)
    out = git.run(
        "diff-tree",
        "--stdin",
        "-r",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        input_text="\n".join(commits) + "\n",
    ).stdout
    current: _Commit | None = None
    for line in out.splitlines():
        if line.startswith(":"):
            if current is not None:
                current.raw.append(line.encode())
        else:
            entry = commits.get(line.strip())
            current = entry[1] if entry else None
    for index, commit in commits.values():
        if commit.raw:
            for dep in _from_paths(git, layout, commit, _revert_of(commit)):
                yield index, dep


def _revert_of(commit: _Commit) -> str | None:
    match = _REVERTS.search(commit.body)
    return match.group(1).decode() if match else None
