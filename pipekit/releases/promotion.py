"""The release notes every promotion carries: what ``pipekit diff`` would have said, for the batch.

``pipekit promote`` asks :meth:`PromotionNotes.change` for each service it writes (the image the
target runs now, the one it brings, and their ``Pipekit-Source-Commit`` trailers), puts
:meth:`PromotionNotes.body` into the GitOps commit above the trailers (the commit subjects and
Jira keys, bounded), records :meth:`PromotionNotes.summary` for the promotion card and writes the
full notes (:meth:`PromotionNotes.markdown`) beside the run record, kept as an artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pipekit.gitops.refs import ImageRef
from pipekit.releases import changes as walk
from pipekit.releases.model import NEW, UNCHANGED, UNKNOWN, DiffReport, ServiceChange, Side
from pipekit.releases.notes import MAX_LINES, clip, commit_body
from pipekit.releases.sources import SourceRepos

CARD_LINES = 8  # commit lines on the promotion card


def side(ref: ImageRef | None, source_commit: str | None) -> Side | None:
    if ref is None:
        return None
    return Side(image=ref.reference, tag=ref.new_tag, digest=ref.digest, source_commit=source_commit, since=None,
                gitops_commit=None)


class PromotionNotes:
    def __init__(self, repos: SourceRepos | None, *, projects: Sequence[str] = (), limit: int = walk.LIMIT,
                 max_lines: int = MAX_LINES) -> None:
        self.repos, self.projects, self.limit, self.max_lines = repos, tuple(projects), limit, max_lines
        self._known: dict[tuple[str, str, str], ServiceChange] = {}

    def change(self, service: str, old: ImageRef | None, new: ImageRef, old_source: str | None,
               new_source: str | None) -> ServiceChange:
        """What promoting ``new`` over ``old`` brings (asked again after a push race: answered once)."""
        key = (service, old.reference if old else "", new.reference)
        if key not in self._known:
            self._known[key] = self._change(service, old, new, old_source, new_source)
        return self._known[key]

    def _change(self, service: str, old: ImageRef | None, new: ImageRef, old_source: str | None,
                new_source: str | None) -> ServiceChange:
        change = ServiceChange(service=service, state=UNKNOWN, source=side(new, new_source),
                               target=side(old, old_source))
        if old is None:
            change.state, change.note = NEW, "its first promotion here"
        elif (old.digest and old.digest == new.digest) or old.reference == new.reference:
            change.state = UNCHANGED
        elif not old_source or not new_source:
            which = " and ".join(n for n, c in (("the target's", old_source), ("the promoted", new_source)) if not c)
            change.note = f"no source commit recorded for {which} image"
        else:
            walk.walk_into(change, old_source, new_source, self.repos, projects=self.projects, limit=self.limit)
        return change

    def body(self, changes: Sequence[ServiceChange]) -> list[str]:
        """The lines for the commit body (a paragraph of their own, above the trailers)."""
        lines = commit_body(changes, self.max_lines)
        return ["\n" + lines[0], *lines[1:]] if lines else []

    def summary(self, changes: Sequence[ServiceChange], notes_file: str | None = None) -> dict[str, Any]:
        """For the run record and the promotion card: counts, Jira keys, the first lines."""
        keys = list(dict.fromkeys(k for c in changes for k in c.jira))
        first = [f"{c.service}: {clip(commit.subject, 90)} ({commit.sha[:8]})"
                 for c in changes for commit in c.commits if not commit.merge]
        return {"commits": sum(c.total for c in changes), "jira": keys, "lines": first[:CARD_LINES],
                "more": max(0, len(first) - CARD_LINES) + sum(max(0, c.total - len(c.commits)) for c in changes),
                "services": {c.service: {"state": c.state, "commits": c.total, "jira": c.jira,
                                         **({"note": c.note} if c.note else {})} for c in changes},
                "file": notes_file}

    def markdown(self, changes: Sequence[ServiceChange], *, source: str, target: str, repo: str, branch: str,
                 revision: str) -> str:
        """The full notes, as ``pipekit diff --format markdown`` writes them."""
        from pipekit.releases.writers import writer

        report = DiffReport(repo=repo, branch=branch, revision=revision, source=source, target=target,
                            generated_at=datetime.now(timezone.utc).isoformat(), services=list(changes))
        return writer("markdown").diff(report)
