"""OWASP Dependency-Check JSON (``--format JSON``): ``dependencies[].vulnerabilities[]``.

Severity from ``severity`` (CRITICAL/HIGH/MEDIUM/MODERATE/LOW/INFO), else the CVSS v3 then v2
score; ``suppressedVulnerabilities`` are kept, marked suppressed by the tool.
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Reader, arr, each, obj, sub, text

SEVERITY = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    "info": "info",
    "informational": "info",
}


class DependencyCheckReader(Reader):
    name = "dependency-check"
    tool = "dependency-check"

    def detect(self, doc: Any) -> bool:
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("dependencies"), list)
            and ("reportSchema" in doc or "scanInfo" in doc or "projectInfo" in doc)
        )

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        out: list[fm.Finding] = []
        for dwhere, dep in each(root, "dependencies"):
            purl = None
            for _at, pkg in each(dep, "packages", dwhere):
                pid = text(pkg, "id", dwhere)
                if pid and pid.startswith("pkg:"):
                    purl = pid
                    break
            package = fm.package_key(text(dep, "fileName", dwhere) if not purl else None, purl)
            version = fm.purl_version(purl)
            path = text(dep, "filePath", dwhere) or text(dep, "fileName", dwhere)
            for key in ("vulnerabilities", "suppressedVulnerabilities"):
                for where, vuln in each(dep, key, dwhere):
                    vid = text(vuln, "name", where) or "DEPCHECK-UNKNOWN"
                    sev = SEVERITY.get((text(vuln, "severity", where) or "").lower())
                    if sev is None:
                        score = fm.parse_score(sub(vuln, "cvssv3", where).get("baseScore"))
                        if score is None:
                            score = fm.parse_score(sub(vuln, "cvssv2", where).get("score"))
                        sev = fm.from_score(score) or "medium"
                    cwes = arr(vuln, "cwes", where)
                    desc = text(vuln, "description", where) or vid
                    f = fm.new(
                        self.tool,
                        fm.SCA,
                        vid,
                        sev,
                        desc.splitlines()[0] if desc else vid,
                        path=path,
                        package=package,
                        version=version,
                        purl=purl,
                        cwe=str(cwes[0]) if cwes else None,
                    )
                    if key == "suppressedVulnerabilities":
                        f.tool_suppression = "suppressed by a dependency-check suppression file"
                    f.fingerprint = fm.sca_fingerprint(vid, package, version)
                    out.append(f)
        return out
