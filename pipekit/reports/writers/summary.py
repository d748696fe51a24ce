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


def finding_rows(
    findings: Sequence[fm.Finding], blocking: Sequence[fm.Finding] | None = None
) -> tuple[list[str], list[list[str]], int]:
    """Blocking findings (all, up to a cap), then the most severe others; and how many were left out.

    ``blocking`` may be passed already sorted (the verdict's list); the others are picked by
    severity bucket, without sorting every finding (a big report has hundreds of thousands).
    """
    if blocking is None:
        blocking = sorted((f for f in findings if f.blocking), key=fm.sort_key)
    shown = list(blocking[:SHOW_BLOCKING])
    picked: list[fm.Finding] = []
    for group in (1, 2):
        for sev in fm.SEVERITIES:
            if len(picked) >= SHOW_OTHERS:
                break
            bucket = [
                f
                for f in findings
                if not f.blocking
                and f.severity == sev
                and (2 if f.suppressed or f.baseline_state == "unchanged" else 1) == group
            ]
            picked.extend(
                sorted(bucket, key=fm.sort_key)[: SHOW_OTHERS - len(picked)]
                if len(bucket) < 5000
                else bucket[: SHOW_OTHERS - len(picked)]
            )
    rows = []
    for f in shown + picked:
        state = (
            "BLOCKING"
            if f.blocking
            else (
                "suppressed"
                if f.suppressed
                else ("baseline" if f.baseline_state == "unchanged" else "allowed")
            )
        )
        fix = f.fixed_in or ""
        tool = "+".join((f.tool, *f.also_reported_by))
        rows.append([state, f.severity, tool, f.rule_id[:48], f.short_location, fix[:24], f.title[:70]])
    return (
        ["status", "severity", "tool", "id", "location", "fixed in", "title"],
        rows,
        len(findings) - len(rows),
    )
