"""Markdown: the matrix as a table, the diff as release notes to paste into a Jira version or a
Bitbucket pull request (CommonMark plus pipe tables; commit text escaped, never read as markup)."""

from __future__ import annotations

import re

from pipekit.releases.model import (
    ABSENT,
    BEHIND_TARGET,
    CARRIES,
    DIVERGED,
    MARKS,
    NEW,
    REBUILT,
    UNCHANGED,
    UNKNOWN,
    Cell,
    DiffReport,
    Issue,
    ServiceChange,
    SourceCommit,
    StatusReport,
)
from pipekit.releases.writers.interface import ReleaseWriter, age, short, who

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md(text: str) -> str:
    """Text shown as written: every character Markdown could read as markup escaped, one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: str) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return f"`{text}`" if text else ""


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    if not cell.deployed:
        parts = [code(cell.version), "not deployed yet"] if cell.version else ["not deployed yet"]
    else:
        parts = [
            code(cell.version)
            + (f" {code('@' + cell.short_digest)}" if cell.tag and cell.short_digest else ""),
            md(f"{age(cell)} · {who(cell)}"),
        ]
    if cell.live is not None:
        parts.append(md(f"Argo CD {cell.live.sync or '?'} / {cell.live.health or '?'}"))
    if cell.marks:
        parts.append("⚠ " + ", ".join(f"**{md(m)}**" for m in cell.marks))
    return "<br>".join(parts)


def commit_line(c: SourceCommit) -> str:
    keys = (" " + " ".join(code(k) for k in c.jira)) if c.jira else ""
    return f"- {md(c.subject)} ({code(short(c.sha))}, {md(c.author)}){keys}"


def issue_row(issue: Issue, allowed: str) -> str:
    key = f"[{issue.key}]({issue.url})" if issue.url else issue.key
    if not issue.found:
        state = "⚠ not found"
    else:
        state = md(issue.status) + (f" ⚠ not in {md(allowed)}" if issue.allowed is False else "")
    return f"| {key} | {state} | {md(issue.summary)} |"


def change_block(s: ServiceChange) -> list[str]:
    before = code(s.target.version) if s.target else "–"
    after = code(s.source.version) if s.source else "–"
    lines = [f"### {md(s.service)} {before} → {after}", ""]
    facts = []
    if s.total:
        facts.append(f"{s.total} commit{'s' if s.total != 1 else ''}")
    if s.jira:
        facts.append("Jira: " + ", ".join(code(k) for k in s.jira))
    if s.repo:
        facts.append(f"from {code(s.repo)}")
    if facts:
        lines += [" · ".join(facts), ""]
    if s.note:
        lines += [f"> {md(s.note)}", ""]
    lines += [commit_line(c) for c in s.commits]
    if s.truncated:
        lines.append(f"- … and {s.total - len(s.commits)} more")
    if s.rolled_back:
        lines += ["", "Would roll back:", ""] + [commit_line(c) for c in s.rolled_back]
    return [*lines, ""]


class MarkdownWriter(ReleaseWriter):
    name = "markdown"
    media_type = "text/markdown"

    def status(self, report: StatusReport) -> str:
        lines = [
            "# What runs where",
            "",
            f"GitOps {code(report.repo)}, {code(report.branch)} at {code(short(report.revision, 12))}, "
            f"{md(report.generated_at[:16].replace('T', ' '))} UTC"
            + (f"; live state from Argo CD {code(report.argocd)}" if report.argocd else "")
            + ".",
            "",
        ]
        lines.append("| service | " + " | ".join(md(e) for e in report.environments) + " |")
        lines.append("|---" * (len(report.environments) + 1) + "|")
        for s in report.services:
            lines.append(
                f"| **{md(s)}** | "
                + " | ".join(cell_text(report.cell(s, e)) for e in report.environments)
                + " |"
            )
        marked = report.marked()
        if marked:
            lines += ["", "## Marks", ""]
            lines += [
                f"- **{md(c.service)}** in {md(c.environment)}: {md(n)}" for c in marked for n in c.notes
            ]
            lines += [
                "",
                "Legend: " + "; ".join(f"**{m}** {md(t)}" for m, t in MARKS.items() if m in report.counts()),
            ]
        return "\n".join(lines) + "\n"

    def diff(self, report: DiffReport) -> str:
        lines = [
            f"# Release notes: {md(report.source)} → {md(report.target)}",
            "",
            f"GitOps {code(report.repo)}, {code(report.branch)} at {code(short(report.revision, 12))}, "
            f"{md(report.generated_at[:16].replace('T', ' '))} UTC.",
            "",
        ]
        counts = report.counts()
        changing = report.by_state(CARRIES, NEW, REBUILT, UNKNOWN)
        if changing:
            lines += ["## Changes", ""]
            for s in changing:
                lines += change_block(s)
        back = report.by_state(DIVERGED, BEHIND_TARGET)
        if back:
            lines += [f"## Would roll back what {md(report.target)} runs", ""]
            for s in back:
                lines += change_block(s)
        if report.jira_error:
            lines += [f"> Jira: {md(report.jira_error)}", ""]
        if report.issues:
            allowed = " / ".join(report.allowed_statuses)
            lines += ["## Jira issues", ""]
            if allowed:
                lines += [f"Allowed statuses: {md(allowed)}.", ""]
            lines += ["| issue | status | summary |", "|---|---|---|"]
            lines += [issue_row(i, allowed) for i in report.issues.values()]
            lines.append("")
        same = report.by_state(UNCHANGED)
        if same:
            lines += [
                "## Unchanged",
                "",
                ", ".join(f"{md(s.service)} {code(s.source.version if s.source else '')}" for s in same),
                "",
            ]
        absent = report.by_state(ABSENT)
        if absent:
            lines += [f"## Only in {md(report.target)}", "", ", ".join(md(s.service) for s in absent), ""]
        if not counts:
            lines += ["No service runs in either environment.", ""]
        return "\n".join(lines).rstrip("\n") + "\n"


WRITER = MarkdownWriter()
