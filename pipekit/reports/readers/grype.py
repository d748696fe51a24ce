"""Grype JSON (``grype -o json``): ``matches[]`` and ``ignoredMatches[]`` (kept,
marked suppressed by the tool).

Severity Critical/High/Medium/Low as is, Negligible -> low, Unknown -> medium. A GHSA id with a
related CVE is identified by the CVE so it deduplicates with the other SCA tools.
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Reader, arr, each, obj, sub, text

SEVERITY = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "negligible": "low",
    "unknown": "medium",
}


class GrypeReader(Reader):
    name = "grype"
    tool = "grype"

    def detect(self, doc: Any) -> bool:
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("matches"), list)
            and (
                "descriptor" in doc
                or "source" in doc
                or "ignoredMatches" in doc
                or not doc["matches"]
                or (isinstance(doc["matches"][0], dict) and "artifact" in doc["matches"][0])
            )
        )

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        out: list[fm.Finding] = []
        for key in ("matches", "ignoredMatches"):
            for where, match in each(root, key):
                vuln = sub(match, "vulnerability", where)
                art = sub(match, "artifact", where)
                vid = text(vuln, "id", f"{where}.vulnerability") or "GRYPE-UNKNOWN"
                aliases = []
                for j, rel in enumerate(arr(match, "relatedVulnerabilities", where)):
                    rid = text(obj(rel, f"{where}.relatedVulnerabilities[{j}]"), "id", where)
                    if rid and rid != vid:
                        aliases.append(rid)
                primary = vid
                if not vid.upper().startswith("CVE-"):
                    cves = [a for a in aliases if a.upper().startswith("CVE-")]
                    if cves:
                        primary = cves[0]
                        aliases = [vid] + [a for a in aliases if a != primary]
                purl = text(art, "purl", f"{where}.artifact")
                version = text(art, "version", f"{where}.artifact")
                package = fm.package_key(text(art, "name", f"{where}.artifact"), purl)
                locations = arr(art, "locations", f"{where}.artifact")
                path = (
                    text(obj(locations[0], f"{where}.artifact.locations[0]"), "path", where)
                    if locations
                    else None
                )
                fixes = arr(
                    sub(vuln, "fix", f"{where}.vulnerability"), "versions", f"{where}.vulnerability.fix"
                )
                sev = SEVERITY.get((text(vuln, "severity", where) or "unknown").lower(), "medium")
                f = fm.new(
                    self.tool,
                    fm.SCA,
                    primary,
                    sev,
                    text(vuln, "description", where) or primary,
                    path=path,
                    package=package,
                    version=version,
                    purl=purl,
                    fixed_in=", ".join(str(x) for x in fixes) or None,
                    aliases=tuple(aliases),
                )
                if key == "ignoredMatches":
                    f.tool_suppression = "ignored by a grype ignore rule"
                f.fingerprint = fm.sca_fingerprint(primary, package, version)
                out.append(f)
        return out
