"""Bandit JSON (``bandit -f json``): ``results[]`` with ``test_id``, ``issue_severity``, ``code``.

Severity HIGH -> high, MEDIUM -> medium, LOW -> low, UNDEFINED -> info. The anchor is the
flagged source line taken from ``code`` (its lines carry their numbers), so shifts keep it.
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Reader, each, integer, obj, sub, text

SEVERITY = {"high": "high", "medium": "medium", "low": "low", "undefined": "info"}


def _flagged_line(code: str, line: int | None) -> str:
    for raw in code.splitlines():
        number, _, rest = raw.partition(" ")
        if number.isdigit() and int(number) == line:
            return fm.normalise_snippet(rest)
    return fm.normalise_snippet(code)


class BanditReader(Reader):
    name = "bandit"
    tool = "bandit"

    def detect(self, doc: Any) -> bool:
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("results"), list)
            and "metrics" in doc
            and ("generated_at" in doc or "errors" in doc)
        )

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        pending: list[tuple[fm.Finding, str]] = []
        for where, res in each(root, "results"):
            rule = text(res, "test_id", where) or "bandit"
            line = integer(res, "line_number", where)
            cwe = integer(sub(res, "issue_cwe", where), "id", f"{where}.issue_cwe")
            path = text(res, "filename", where)
            if path and path.startswith("./"):
                path = path[2:]
            f = fm.new(
                self.tool,
                fm.SAST,
                rule,
                SEVERITY.get((text(res, "issue_severity", where) or "").lower(), "medium"),
                text(res, "issue_text", where) or rule,
                path=path,
                line=line,
                cwe=f"CWE-{cwe}" if cwe else None,
            )
            pending.append((f, _flagged_line(text(res, "code", where) or "", line)))
        fm.assign_sast_fingerprints(pending)
        return [f for f, _ in pending]
