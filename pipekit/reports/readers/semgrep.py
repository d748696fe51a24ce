"""Semgrep JSON (``semgrep scan --json``): ``results[]`` with ``check_id``, ``path``, ``start``, ``extra``.

Severity ERROR -> high, WARNING -> medium, INFO -> low, and the newer CRITICAL/HIGH/MEDIUM/LOW as
is; INVENTORY/EXPERIMENT -> info; anything else -> medium. ``extra.fingerprint`` and
``extra.lines`` read "requires login" without a Semgrep login, so the fingerprint is computed
here from the rule, path and message (or the matched lines when they are real).
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Reader, each, integer, obj, sub, text

SEVERITY = {
    "error": "high",
    "warning": "medium",
    "info": "low",
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "inventory": "info",
    "experiment": "info",
}
_NO_LOGIN = "requires login"


class SemgrepReader(Reader):
    name = "semgrep"
    tool = "semgrep"

    def detect(self, doc: Any) -> bool:
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) or "runs" in doc:
            return False
        first = doc["results"][0] if doc["results"] else None
        if isinstance(first, dict):
            return "check_id" in first
        return "paths" in doc or ("errors" in doc and "version" in doc and "metrics" not in doc)

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        pending: list[tuple[fm.Finding, str]] = []
        for where, res in each(root, "results"):
            extra = sub(res, "extra", where)
            rule = text(res, "check_id", where) or "semgrep-rule"
            message = text(extra, "message", f"{where}.extra") or rule
            sev = SEVERITY.get((text(extra, "severity", f"{where}.extra") or "").lower(), "medium")
            meta = sub(extra, "metadata", f"{where}.extra")
            cwe_value = meta.get("cwe")
            cwe = cwe_value[0] if isinstance(cwe_value, list) and cwe_value else cwe_value
            cwe_id = str(cwe).split(":", 1)[0].strip() if isinstance(cwe, str) else None
            f = fm.new(
                self.tool,
                fm.SAST,
                rule,
                sev,
                message.splitlines()[0],
                path=text(res, "path", where),
                line=integer(sub(res, "start", where), "line", f"{where}.start"),
                cwe=cwe_id,
            )
            lines = text(extra, "lines", f"{where}.extra")
            anchor = (
                fm.normalise_snippet(lines) if lines and lines != _NO_LOGIN else fm.normalise_snippet(message)
            )
            pending.append((f, anchor))
        fm.assign_sast_fingerprints(pending)
        return [f for f, _ in pending]
