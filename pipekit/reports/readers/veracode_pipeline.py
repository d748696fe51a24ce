"""Veracode Pipeline Scan ``results.json`` (also its ``filtered_results.json`` and baseline files).

Severity 0-5: 5 Very High -> critical, 4 High -> high, 3 Medium -> medium, 2 Low and 1 Very Low
-> low, 0 Informational -> info. ``cwe_id`` is a string. Identity: the ``flaw_match`` hashes.
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Malformed, Reader, each, integer, obj, sub, text

SEVERITY = {5: "critical", 4: "high", 3: "medium", 2: "low", 1: "low", 0: "info"}
_MATCH_KEYS = (
    "procedure_hash",
    "prototype_hash",
    "flaw_hash",
    "flaw_hash_ordinal",
    "cause_hash",
    "cause_hash_ordinal",
    "cause_hash2",
    "cause_hash2_ordinal",
)


class VeracodePipelineReader(Reader):
    name = "veracode"
    tool = "veracode-pipeline-scan"

    def detect(self, doc: Any) -> bool:
        if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
            return False
        if any(k in doc for k in ("scan_id", "scan_status", "pipeline_scan", "modules")):
            return True
        first = doc["findings"][0] if doc["findings"] else None
        return isinstance(first, dict) and ("flaw_match" in first or "issue_type_id" in first)

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        out: list[tuple[fm.Finding, str]] = []
        for where, item in each(root, "findings"):
            sev = integer(item, "severity", where)
            if sev is None:
                raise Malformed(where, "missing required field 'severity'")
            if sev not in SEVERITY:
                raise Malformed(f"{where}.severity", f"expected 0-5, got {sev}")
            cwe = text(item, "cwe_id", where)
            source = sub(sub(item, "files", where), "source_file", f"{where}.files")
            path = text(source, "file", f"{where}.files.source_file")
            line = integer(source, "line", f"{where}.files.source_file")
            match = sub(item, "flaw_match", where)
            anchor = "|".join(str(match.get(k, "")) for k in _MATCH_KEYS) if match else ""
            if not anchor.strip("|"):
                anchor = (
                    text(source, "qualified_function_name", where)
                    or text(source, "function_name", where)
                    or ""
                )
            rule = f"CWE-{cwe}" if cwe else (text(item, "issue_type", where) or "veracode-flaw")
            title = text(item, "issue_type", where) or text(item, "title", where) or rule
            f = fm.new(
                self.tool,
                fm.SAST,
                rule,
                SEVERITY[sev],
                title,
                path=path,
                line=line,
                cwe=f"CWE-{cwe}" if cwe else None,
            )
            out.append((f, anchor))
        fm.assign_sast_fingerprints(out)
        return [f for f, _ in out]
