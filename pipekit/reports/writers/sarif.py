"""Merged SARIF 2.1.0: one run per tool, baseline state, suppressions, pipekit fingerprints.

Results are written in chunks (orjson when installed), so a 200,000-result file never exists
as one big tree in memory. Custom data lives in ``properties`` under ``pipekit/`` keys, which
pipekit's own SARIF reader reads back (a merged SARIF is a valid ``--baseline``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from pipekit.reports import findings as fm
from pipekit.reports.writers.interface import FindingsWriter, GateOutcome

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
CHUNK = 4000


def _dumps() -> Callable[[Any], bytes]:
    try:
        import orjson

        return orjson.dumps
    except ImportError:  # pragma: no cover
        import json

        return lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _result(f: fm.Finding, index: int, with_baseline: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "pipekit/severity": f.severity,
        "pipekit/kind": f.kind,
        "pipekit/tool": f.tool,
        "security-severity": SCORE[f.severity],
    }
    text = f.title
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "level": LEVEL[f.severity],
        "message": {"text": text},
    }
    if f.kind == fm.SCA:
        props["pipekit/package"] = f.package
        props["pipekit/version"] = f.version
        if f.purl:
            props["pipekit/purl"] = f.purl
        if f.fixed_in:
            props["pipekit/fixedIn"] = f.fixed_in
        where = f"{f.package}@{f.version}" if f.version else (f.package or "?")
        fix = f"; fixed in {f.fixed_in}" if f.fixed_in else ""
        result["message"] = {"text": f"{f.rule_id} in {where}{fix}: {text}"}
    if f.path:
        phys: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
        if f.line and f.line > 0:  # SARIF regions start at line 1
            phys["region"] = {"startLine": f.line}
        result["locations"] = [{"physicalLocation": phys}]
    elif f.kind == fm.SCA and f.package:
        result["locations"] = [
            {
                "logicalLocations": [
                    {"fullyQualifiedName": f"{f.package}@{f.version or ''}", "kind": "package"}
                ]
            }
        ]
    result["partialFingerprints"] = {fm.FINGERPRINT_KEY: f.fingerprint}
    if with_baseline and f.baseline_state:
        result["baselineState"] = f.baseline_state
    sups = []
    if f.suppressed_by is not None:
        sups.append({"kind": "external", "status": "accepted", "justification": f.suppressed_by})
    if f.tool_suppression is not None:
        sups.append({"kind": "external", "status": "accepted", "justification": f.tool_suppression})
    if sups:
        result["suppressions"] = sups
    if f.blocking:
        props["pipekit/blocking"] = True
    if f.also_reported_by:
        props["pipekit/alsoReportedBy"] = list(f.also_reported_by)
    if f.cwe:
        props["pipekit/cwe"] = f.cwe
    result["properties"] = props
    return result


def write(
    path: str | Path, findings: Sequence[fm.Finding], *, with_baseline: bool = False, version: str = "0"
) -> None:
    """Write ``findings`` as SARIF 2.1.0 to ``path`` (one run per tool, tools in name order)."""
    from pipekit.core.outfiles import atomic

    with atomic(path) as fh, fm.gc_paused():
        write_to(fh, findings, with_baseline=with_baseline, version=version)


def write_to(
    fh: IO[bytes], findings: Sequence[fm.Finding], *, with_baseline: bool = False, version: str = "0"
) -> None:
    dumps = _dumps()
    by_tool: dict[str, list[fm.Finding]] = {}
    for f in findings:
        by_tool.setdefault(f.tool, []).append(f)
    fh.write(b'{"$schema":"' + SCHEMA_URI.encode() + b'","version":"2.1.0","runs":[')
    for n, tool in enumerate(sorted(by_tool)):
        items = by_tool[tool]
        rule_index: dict[str, int] = {}
        rules: list[dict[str, Any]] = []
        for f in items:
            i = rule_index.get(f.rule_id)
            if i is None:
                rule_index[f.rule_id] = len(rules)
                rules.append(
                    {
                        "id": f.rule_id,
                        "shortDescription": {"text": f.title[:1000] or f.rule_id},
                        "properties": {"security-severity": SCORE[f.severity]},
                    }
                )
            elif fm.RANK[f.severity] < fm.RANK[_sev_of(rules[i])]:
                rules[i]["properties"]["security-severity"] = SCORE[f.severity]
        driver = {"name": tool, "informationUri": "https://pypi.org/project/pipekit/", "rules": rules}
        head = {
            "tool": {"driver": driver},
            "automationDetails": {"id": f"pipekit-scan/{tool}"},
            "properties": {"pipekit/version": version},
        }
        fh.write((b"," if n else b"") + dumps(head)[:-1] + b',"results":[')
        for start in range(0, len(items), CHUNK):
            chunk = [_result(f, rule_index[f.rule_id], with_baseline) for f in items[start : start + CHUNK]]
            fh.write((b"," if start else b"") + dumps(chunk)[1:-1])
        fh.write(b"]}")
    fh.write(b"]}\n")


_SEV_BY_SCORE = {v: k for k, v in SCORE.items()}


def _sev_of(rule: dict[str, Any]) -> str:
    return _SEV_BY_SCORE[rule["properties"]["security-severity"]]


class SarifWriter(FindingsWriter):
    name = "sarif"

    def write(self, path: str | Path, outcome: GateOutcome) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write(path, outcome.findings, with_baseline=outcome.with_baseline, version=outcome.version)


WRITER = SarifWriter()
