"""The human summary: counts by severity and tool, then the findings, blocking ones first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pipekit.reports import findings as fm

SHOW_OTHERS = 20
SHOW_BLOCKING = 200


def counts_table(findings: Sequence[fm.Finding]) -> tuple[list[str], list[list[str]]]:
    by = Counter((f.tool, f.severity) for f in findings)
    tools = sorted({f.tool for f in findings})
    headers = ["tool", *fm.SEVERITIES, "total"]
    rows = []
    for tool in tools:
        row = [by[(tool, s)] for s in fm.SEVERITIES]
        rows.append([tool, *map(str, row), str(sum(row))])
    totals = [sum(by[(t, s)] for t in tools) for s in fm.SEVERITIES]
    rows.append(["all", *map(str, totals), str(sum(totals))])
    return headers, rows


def finding_rows(findings: Sequence[fm.Finding]) -> tuple[list[str], list[list[str]], int]:
    """Blocking findings (all, up to a cap), then the most severe others; and how many were left out."""
    ordered = sorted(findings, key=fm.sort_key)
    blocking = [f for f in ordered if f.blocking][:SHOW_BLOCKING]
    others = [f for f in ordered if not f.blocking][:SHOW_OTHERS]
    rows = []
    for f in blocking + others:
        state = "BLOCKING" if f.blocking else ("suppressed" if f.suppressed else (
            "baseline" if f.baseline_state == "unchanged" else "allowed"))
        fix = f.fixed_in or ""
        rows.append([state, f.severity, f.tool, f.rule_id[:48], f.short_location, fix[:24], f.title[:70]])
    return ["status", "severity", "tool", "id", "location", "fixed in", "title"], rows, len(findings) - len(rows)
