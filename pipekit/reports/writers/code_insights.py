"""Bitbucket Code Insights payloads: a SECURITY report (PASSED/FAILED, counts as data) and
annotations, most severe first (blocking ones before the rest), at most 1,000."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipekit.reports import findings as fm

REPORT_ID = "pipekit-scan"
SEVERITY = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "LOW"}
MAX_ANNOTATIONS = 1000


def report(
    findings: Sequence[fm.Finding], *, passed: bool, blocking: int, suppressed: int, link: str | None = None
) -> dict[str, Any]:
    counts = Counter(f.severity for f in findings if not f.suppressed)
    details = (
        f"{len(findings)} findings from {', '.join(sorted({f.tool for f in findings})) or 'no tool'}: "
        f"{blocking} blocking, {suppressed} suppressed."
    )
    body: dict[str, Any] = {
        "title": "Security scan (pipekit)",
        "details": details[:2000],
        "report_type": "SECURITY",
        "reporter": "pipekit",
        "result": "PASSED" if passed else "FAILED",
        "data": [
            {"title": "Critical", "type": "NUMBER", "value": counts["critical"]},
            {"title": "High", "type": "NUMBER", "value": counts["high"]},
            {"title": "Medium", "type": "NUMBER", "value": counts["medium"]},
            {"title": "Low", "type": "NUMBER", "value": counts["low"] + counts["info"]},
            {"title": "Blocking", "type": "NUMBER", "value": blocking},
            {"title": "Suppressed", "type": "NUMBER", "value": suppressed},
            {"title": "Safe to merge", "type": "BOOLEAN", "value": passed},
        ],
    }
    if link:
        body["link"] = link
    return body


def _order(f: fm.Finding) -> tuple[int, int, int]:
    return (0 if f.blocking else (2 if f.suppressed else 1), fm.RANK[f.severity], 0 if f.path else 1)


def annotations_for(findings: Sequence[fm.Finding], limit: int = MAX_ANNOTATIONS) -> list[dict[str, Any]]:
    out = []
    for f in sorted(findings, key=_order)[:limit]:
        fix = f" Fixed in {f.fixed_in}." if f.fixed_in else ""
        state = (
            "blocking"
            if f.blocking
            else (
                "suppressed: " + str(f.suppressed_by or f.tool_suppression)
                if f.suppressed
                else "allowed by policy"
            )
        )
        item: dict[str, Any] = {
            "external_id": f"pipekit-{f.fingerprint}",
            "annotation_type": "VULNERABILITY",
            "title": f"{f.rule_id} ({f.tool})"[:450],
            "summary": f"{f.severity.upper()}: {f.title}"[:450],
            "details": f"{f.location}.{fix} {state}."[:2000],
            "severity": SEVERITY[f.severity],
            "result": "FAILED" if f.blocking else ("IGNORED" if f.suppressed else "PASSED"),
        }
        if f.path and not f.path.startswith("/"):  # annotations attach to repository-relative paths only
            item["path"] = f.path
            if f.line and f.line > 0:
                item["line"] = f.line
        out.append(item)
    return out
