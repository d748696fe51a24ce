"""Veracode SCA agent / SourceClear ``srcclr scan --json``.

No severity field: derived from ``cvssScore`` (``cvss3Score`` when present) with the CVSS bands.
``cve`` comes without the ``CVE-`` prefix. A vulnerability names its libraries through
``_links.ref`` JSON pointers like ``/records/0/libraries/3`` (or ``.../versions/0``).
"""

from __future__ import annotations

from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Malformed, Reader, arr, each, obj, sub, text


def _pointer(doc: Any, ref: str, where: str) -> Any:
    node = doc
    for part in ref.strip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise Malformed(where, f"_links.ref {ref!r} points at nothing") from None
    return node


class SrcClrReader(Reader):
    name = "srcclr"
    tool = "srcclr"

    def detect(self, doc: Any) -> bool:
        if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
            return False
        first = doc["records"][0] if doc["records"] else {}
        return isinstance(first, dict) and ("vulnerabilities" in first or "libraries" in first or not first)

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        out: list[fm.Finding] = []
        for rwhere, record in each(root, "records"):
            for where, vuln in each(record, "vulnerabilities", rwhere):
                score = fm.parse_score(vuln.get("cvss3Score")) or fm.parse_score(vuln.get("cvssScore"))
                severity = fm.from_score(score) or "medium"
                cve = text(vuln, "cve", where)
                vid = ("CVE-" + cve if cve and not cve.upper().startswith("CVE-") else cve) or (
                    "SRCCLR-" + (text(vuln, "id", where) or text(vuln, "title", where) or "unknown")
                )
                title = text(vuln, "title", where) or vid
                libs = arr(vuln, "libraries", where) or [{}]
                for lib_i, raw_lib in enumerate(libs):
                    lwhere = f"{where}.libraries[{lib_i}]"
                    lib_ref = obj(raw_lib, lwhere)
                    ref = text(sub(lib_ref, "_links", lwhere), "ref", f"{lwhere}._links")
                    name = version = None
                    if ref:
                        target = obj(_pointer(doc, ref, f"{lwhere}._links.ref"), f"{lwhere}._links.ref")
                        if "version" in target and "coordinate1" not in target:  # pointed at a version
                            version = text(target, "version", ref)
                            target = obj(_pointer(doc, ref.rsplit("/versions/", 1)[0], lwhere), ref)
                        c1, c2 = text(target, "coordinate1", ref), text(target, "coordinate2", ref)
                        name = f"{c1}:{c2}" if c1 and c2 else (c1 or text(target, "name", ref))
                        if version is None:
                            versions = arr(target, "versions", ref)
                            if versions and isinstance(versions[0], dict):
                                version = text(versions[0], "version", ref)
                    details = arr(lib_ref, "details", lwhere)
                    fixed = (
                        text(details[0], "updateToVersion", lwhere)
                        if details and isinstance(details[0], dict)
                        else None
                    )
                    package = fm.package_key(name)
                    f = fm.new(
                        self.tool,
                        fm.SCA,
                        vid,
                        severity,
                        title,
                        package=package,
                        version=version,
                        fixed_in=fixed or None,
                    )
                    f.fingerprint = fm.sca_fingerprint(vid, package, version)
                    out.append(f)
        return out
