"""Trivy JSON (``trivy fs|image|repo --format json``, schema version 2).

``Results[].Vulnerabilities[]`` (SCA), ``Results[].Misconfigurations[]`` with status FAIL and
``Results[].Secrets[]`` (SAST). Trivy omits empty fields: no ``Results``, no ``Vulnerabilities``.
Severity CRITICAL/HIGH/MEDIUM/LOW as is; UNKNOWN (not yet rated) -> medium.
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Reader, arr, each, integer, obj, sub, text

SEVERITY = {"CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNKNOWN": "medium"}


def severity(value: str | None) -> str:
    return SEVERITY.get((value or "UNKNOWN").upper(), "medium")


class TrivyReader(Reader):
    name = "trivy"
    tool = "trivy"

    def detect(self, doc: Any) -> bool:
        return (
            isinstance(doc, dict) and "SchemaVersion" in doc and ("Results" in doc or "ArtifactName" in doc)
        )

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        out: list[fm.Finding] = []
        sast: list[tuple[fm.Finding, str]] = []
        for rwhere, result in each(root, "Results"):
            target = text(result, "Target", rwhere)
            for where, vuln in each(result, "Vulnerabilities", rwhere):
                vid = text(vuln, "VulnerabilityID", where) or "TRIVY-UNKNOWN"
                purl = text(sub(vuln, "PkgIdentifier", where), "PURL", f"{where}.PkgIdentifier")
                name = text(vuln, "PkgName", where)
                version = text(vuln, "InstalledVersion", where) or fm.purl_version(purl)
                package = fm.package_key(name, purl)
                cwes = arr(vuln, "CweIDs", where)
                f = fm.new(
                    self.tool,
                    fm.SCA,
                    vid,
                    severity(text(vuln, "Severity", where)),
                    text(vuln, "Title", where) or vid,
                    path=target,
                    package=package,
                    version=version,
                    purl=purl,
                    fixed_in=text(vuln, "FixedVersion", where) or None,
                    cwe=str(cwes[0]) if cwes else None,
                )
                f.fingerprint = fm.sca_fingerprint(vid, package, version)
                out.append(f)
            for where, mis in each(result, "Misconfigurations", rwhere):
                if (text(mis, "Status", where) or "FAIL").upper() != "FAIL":
                    continue
                rule = text(mis, "AVDID", where) or text(mis, "ID", where) or "trivy-misconfig"
                cause = sub(mis, "CauseMetadata", where)
                f = fm.new(
                    self.tool,
                    fm.SAST,
                    rule,
                    severity(text(mis, "Severity", where)),
                    text(mis, "Title", where) or rule,
                    path=target,
                    line=integer(cause, "StartLine", f"{where}.CauseMetadata"),
                )
                sast.append((f, text(cause, "Resource", where) or text(mis, "Message", where) or ""))
            for where, sec in each(result, "Secrets", rwhere):
                rule = text(sec, "RuleID", where) or "trivy-secret"
                f = fm.new(
                    self.tool,
                    fm.SAST,
                    rule,
                    severity(text(sec, "Severity", where)),
                    text(sec, "Title", where) or rule,
                    path=target,
                    line=integer(sec, "StartLine", where),
                )
                sast.append((f, fm.normalise_snippet(text(sec, "Match", where) or "")))
        fm.assign_sast_fingerprints(sast)
        return out + [f for f, _ in sast]
