"""Plain text for a terminal or a CI log: the matrix as a grid, the diff as one block per service."""

from __future__ import annotations

from pipekit.releases.model import STATES, Cell, DiffReport, ServiceChange, StatusReport
from pipekit.releases.writers.interface import ReleaseWriter, age, short, who

WIDTH = 30  # a cell's text is cut to this many characters


def cell_lines(cell: Cell | None) -> list[str]:
    if cell is None:
        return ["-"]
    if not cell.deployed:
        lines = [cell.version or "-", "not deployed yet"]
    else:
        first = cell.version + (f" @{cell.short_digest}" if cell.tag and cell.digest else "")
        lines = [first, f"{age(cell)}, {who(cell)}".rstrip(", ")]
    if cell.live is not None:
        lines.append(f"argo {cell.live.sync or '?'}/{cell.live.health or '?'}")
    if cell.marks:
        lines.append("! " + ", ".join(cell.marks))
    return lines


def grid(header: list[str], rows: list[list[list[str]]]) -> list[str]:
    cut = [
        [[line if len(line) <= WIDTH else line[: WIDTH - 1] + "~" for line in cell] for cell in row]
        for row in rows
    ]
    widths = [
        max([len(header[i]), *(len(line) for row in cut for line in row[i])]) for i in range(len(header))
    ]
    out = [
        " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        "-+-".join("-" * w for w in widths),
    ]
    for row in cut:
        height = max(len(cell) for cell in row)
        for n in range(height):
            out.append(
                " | ".join(
                    (cell[n] if n < len(cell) else "").ljust(w) for cell, w in zip(row, widths, strict=True)
                ).rstrip()
            )
    return out


def change_lines(s: ServiceChange) -> list[str]:
    before = s.target.version if s.target else "-"
    after = s.source.version if s.source else "-"
    head = f"{s.service}: {s.state}"
    if s.state not in ("unchanged", "absent"):
        head += f", {before} -> {after}"
    elif s.state == "unchanged" and s.source:
        head += f", {s.source.version}"
    lines = [head]
    if s.note:
        lines.append(f"  {s.note}")
    if s.commits:
        lines.append(
            f"  {s.total} commit{'s' if s.total != 1 else ''} to carry"
            + (f" (the newest {len(s.commits)} listed)" if s.truncated else "")
            + ":"
        )
        lines += [
            f"    {short(c.sha)} {c.subject} ({c.author})" + (f" [{' '.join(c.jira)}]" if c.jira else "")
            for c in s.commits
        ]
    if s.rolled_back:
        lines.append("  would roll back:")
        lines += [f"    {short(c.sha)} {c.subject} ({c.author})" for c in s.rolled_back]
    return lines


class TableWriter(ReleaseWriter):
    name = "table"

    def status(self, report: StatusReport) -> str:
        lines = [
            f"What runs where: {report.repo} ({report.branch} at {short(report.revision, 12)})"
            + (f", live from Argo CD {report.argocd}" if report.argocd else "")
        ]
        header = [
            "service",
            *[f"{e} (from {report.upstream[e]})" if e in report.upstream else e for e in report.environments],
        ]
        rows = [[[s], *[cell_lines(report.cell(s, e)) for e in report.environments]] for s in report.services]
        lines += ["", *grid(header, rows)]
        marked = report.marked()
        if marked:
            lines += ["", "Marks:"]
            for cell in marked:
                lines += [f"  {cell.service} in {cell.environment}: {note}" for note in cell.notes]
        return "\n".join(lines) + "\n"

    def diff(self, report: DiffReport) -> str:
        lines = [
            f"Promotion {report.source} -> {report.target}: {report.repo} "
            f"({report.branch} at {short(report.revision, 12)})"
        ]
        counts = report.counts()
        lines.append(
            "  " + ", ".join(f"{n} {STATES.get(k, k)}" for k, n in counts.items())
            if counts
            else "  no service in either environment"
        )
        for s in report.services:
            lines += ["", *change_lines(s)]
        if report.jira_error:
            lines += ["", f"Jira: {report.jira_error}"]
        if report.issues:
            allowed = " / ".join(report.allowed_statuses)
            lines += ["", "Jira issues" + (f" (allowed: {allowed})" if allowed else "") + ":"]
            for issue in report.issues.values():
                flag = (
                    ""
                    if issue.found and issue.allowed is not False
                    else ("  ! not found" if not issue.found else f"  ! not in {allowed}")
                )
                lines.append(f"  {issue.key}  {issue.status or '-'}  {issue.summary}{flag}")
        return "\n".join(lines) + "\n"


WRITER = TableWriter()
