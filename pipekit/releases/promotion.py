"""The release notes every promotion carries: what ``pipekit diff`` would have said, for the batch.

``pipekit promote`` asks :meth:`PromotionNotes.change` for each service it writes (the image the
target runs now, the one it brings, and their ``Pipekit-Source-Commit`` trailers), puts
:meth:`PromotionNotes.body` into the GitOps commit above the trailers (the commit subjects and
Jira keys, bounded), records :meth:`PromotionNotes.summary` for the promotion card and writes the
full notes (:meth:`PromotionNotes.markdown`) beside the run record, kept as an artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipekit.core.outfiles import atomic
from pipekit.gitops.kustomization import PLACEHOLDER_TAG
from pipekit.gitops.refs import ImageRef
from pipekit.releases import changes as walk
from pipekit.releases.model import NEW, UNCHANGED, UNKNOWN, DiffReport, ServiceChange, Side
from pipekit.releases.notes import MAX_LINES, clip, commit_body
from pipekit.releases.settings import SourceOptions
from pipekit.releases.sources import SourceRepos

CARD_LINES = 8  # commit lines on the promotion card


def side(ref: ImageRef | None, source_commit: str | None) -> Side | None:
    if ref is None:
        return None
    return Side(
        image=ref.reference,
        tag=ref.new_tag,
        digest=ref.digest,
        source_commit=source_commit,
        since=None,
        gitops_commit=None,
    )


class PromotionNotes:
    def __init__(
        self,
        repos: SourceRepos | None,
        *,
        projects: Sequence[str] = (),
        limit: int = walk.LIMIT,
        max_lines: int = MAX_LINES,
    ) -> None:
        self.repos, self.projects, self.limit, self.max_lines = repos, tuple(projects), limit, max_lines
        self._known: dict[tuple[str, str, str], ServiceChange] = {}
        self.last: list[ServiceChange] = []  # the batch of the last message written

    def change(
        self,
        service: str,
        old: ImageRef | None,
        new: ImageRef,
        old_source: str | None,
        new_source: str | None,
    ) -> ServiceChange:
        """What promoting ``new`` over ``old`` brings (asked again after a push race: answered once)."""
        key = (service, old.reference if old else "", new.reference)
        if key in self._known:
            return self._known[key]
        change = ServiceChange(
            service=service, state=UNKNOWN, source=side(new, new_source), target=side(old, old_source)
        )
        if old is None or (old.new_tag == PLACEHOLDER_TAG and not old.digest and not old_source):
            change.state, change.note = (
                NEW,
                "its first promotion here",
            )  # nothing there, or init's placeholder
            if new_source:
                walk.first_release(change, new_source, self.repos, projects=self.projects, limit=self.limit)
        elif (old.digest and old.digest == new.digest) or old.reference == new.reference:
            change.state = UNCHANGED
        elif not old_source or not new_source:
            which = " and ".join(
                n for n, c in (("the target's", old_source), ("the promoted", new_source)) if not c
            )
            change.note = f"no source commit recorded for {which} image"
        else:
            walk.walk_into(
                change, old_source, new_source, self.repos, projects=self.projects, limit=self.limit
            )
        self._known[key] = change
        return change

    def body(self, changes: Sequence[ServiceChange]) -> list[str]:
        """The lines for the commit body (a paragraph of their own, above the trailers)."""
        lines = commit_body(changes, self.max_lines)
        return ["\n" + lines[0], *lines[1:]] if lines else []

    def summary(self, changes: Sequence[ServiceChange], notes_file: str | None = None) -> dict[str, Any]:
        """For the run record and the promotion card: counts, Jira keys, the first lines."""
        keys = list(dict.fromkeys(k for c in changes for k in c.jira))
        first = [
            f"{c.service}: {clip(commit.subject, 90)} ({commit.sha[:8]})"
            for c in changes
            for commit in c.commits
            if not commit.merge
        ]
        return {
            "commits": sum(c.total for c in changes),
            "jira": keys,
            "lines": first[:CARD_LINES],
            "more": max(0, len(first) - CARD_LINES) + sum(max(0, c.total - len(c.commits)) for c in changes),
            "services": {
                c.service: {
                    "state": c.state,
                    "commits": c.total,
                    "jira": c.jira,
                    **({"note": c.note} if c.note else {}),
                }
                for c in changes
            },
            "file": notes_file,
        }

    def markdown(
        self,
        changes: Sequence[ServiceChange],
        *,
        source: str,
        target: str,
        repo: str,
        branch: str,
        revision: str,
    ) -> str:
        """The full notes, as ``pipekit diff --format markdown`` writes them."""
        from pipekit.releases.writers import writer

        report = DiffReport(
            repo=repo,
            branch=branch,
            revision=revision,
            source=source,
            target=target,
            generated_at=datetime.now(timezone.utc).isoformat(),
            services=list(changes),
        )
        return writer("markdown").diff(report)

    # -- what promote calls ---------------------------------------------------------------------
    def lines(
        self,
        edits: Sequence[tuple[str, ImageRef | None, ImageRef]],
        source_commit: Callable[[str, ImageRef], str | None],
        git: Any = None,
    ) -> list[str]:
        """The body lines for one batch of (service, image the target runs, image promoted).

        Each image's ``Pipekit-Source-Commit`` comes from the GitOps history the clone ``git`` holds
        (one ``git log`` for the whole batch), else from ``source_commit(service, ref)`` (promote's
        own look-up, which deepens a shallow clone). A service whose repository is not known at all
        is left out (no line saying so in every commit)."""
        edits = [e for e in edits if self.repos is not None and self.repos.where(e[0])]
        known = (
            present_sources(git, [(s, r) for s, old, new in edits for r in (old, new) if r]) if git else {}
        )

        def commit_of(service: str, ref: ImageRef) -> str | None:
            key = (service, ref.reference)
            return known[key] if key in known else source_commit(service, ref)

        self.last = [
            self.change(service, old, new, commit_of(service, old) if old else None, commit_of(service, new))
            for service, old, new in edits
        ]
        return self.body(self.last)

    def finish(
        self, folder: Path, *, source: str, target: str, repo: str, branch: str, revision: str
    ) -> dict[str, Any]:
        """After the push: the full notes written beside the run record (an artifact),
        the summary for the card."""
        path = folder / f"release-notes-{source}-{target}.md"
        text = self.markdown(
            self.last, source=source, target=target, repo=repo, branch=branch, revision=revision
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic(path, "w") as fh:
                fh.write(text)
        except OSError:
            return self.summary(self.last)
        return self.summary(self.last, str(path))


def present_sources(git: Any, wanted: Sequence[tuple[str, ImageRef]]) -> dict[tuple[str, str], str | None]:
    """(service, reference) -> the ``Pipekit-Source-Commit`` of the newest commit that wrote that image
    for that service (its digest, else its tag), from the history the clone already holds."""
    from pipekit.gitops import trailers

    todo = {(s, r.reference): r for s, r in wanted}
    found: dict[tuple[str, str], str | None] = {}
    proc = git.run(
        "log", "--format=%x00%B", "--fixed-strings", "--grep=Pipekit-Service: ", "HEAD", "--", check=False
    )
    for text in proc.stdout.split("\x00")[1:] if proc.returncode == 0 else []:
        for group in trailers.parse(text).groups:
            for key, ref in list(todo.items()):
                if group.service == key[0] and (
                    (group.digest == ref.digest) if ref.digest else (group.tag == ref.new_tag)
                ):
                    found[key] = group.source_commit
                    del todo[key]
        if not todo:
            break
    return found


def for_promote(
    options: SourceOptions, env: Mapping[str, str], service: str | None, projects: Sequence[str] = ()
) -> PromotionNotes:
    """Notes for a promotion: the repositories named (``--source-repo``, ``releases.*``), and the
    checkout promote runs in for its own service (a promotion runs in the service's pipeline)."""
    checkout = env.get("BITBUCKET_CLONE_DIR") or _toplevel(Path.cwd())
    repos = options.repos(env, {service: str(checkout)} if service and checkout else {})
    repos.check()
    return PromotionNotes(repos, projects=projects)


def _toplevel(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
