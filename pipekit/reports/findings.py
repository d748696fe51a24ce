"""One finding model for every SAST and SCA tool: severity, identity and a stable fingerprint.

The fingerprint hashes a tool-independent identity, never a line number:

- SCA: the vulnerability id (a CVE alias when the tool reports a GHSA) + the package
  (``namespace/name`` from the purl or Maven coordinates, lower case) + its version, so Trivy,
  Grype, Dependency-Check and SourceClear reporting the same CVE in the same jar collapse to one.
- SAST: the rule id + the file path + the best line-independent anchor the tool gives
  (Veracode's ``flaw_match`` hashes, a SARIF ``partialFingerprints`` value, the function,
  a normalised code snippet, else the message), plus an ordinal among equal anchors.
"""

from __future__ import annotations

import gc
import hashlib
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
RANK = {name: i for i, name in enumerate(SEVERITIES)}  # 0 = most severe
SAST, SCA = "sast", "sca"
FINGERPRINT_KEY = "pipekit/v1"

_intern = sys.intern


def at_least(severity: str, threshold: str) -> bool:
    """``severity`` is as severe as ``threshold`` or more."""
    return RANK[severity] <= RANK[threshold]


def from_score(score: float | None) -> str | None:
    """A CVSS-like 0-10 score: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low, 0 info."""
    if score is None:
        return None
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "info"


def parse_score(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@dataclass(slots=True, eq=False)
class Finding:
    """A finding from one tool, normalised. Strings are interned: big reports repeat them a lot."""

    tool: str
    kind: str  # sast | sca
    rule_id: str  # rule or vulnerability id (CVE-..., GHSA-..., CWE-..., a tool rule)
    severity: str  # one of SEVERITIES
    title: str
    path: str | None = None
    line: int | None = None
    package: str | None = None  # namespace/name (SCA)
    version: str | None = None
    purl: str | None = None
    fixed_in: str | None = None
    cwe: str | None = None
    fingerprint: str = ""
    aliases: tuple[str, ...] = ()
    tool_suppression: str | None = None  # suppressed by the tool itself (SARIF suppressions, grype ignore)
    # filled in by the gate
    baseline_state: str | None = None  # new | unchanged (only with a baseline)
    suppressed_by: str | None = None  # reason of the pipekit suppression that applies
    blocking: bool = False
    also_reported_by: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        if self.kind == SCA and self.package:
            where = f"{self.package}@{self.version}" if self.version else self.package
            return f"{where} ({self.path})" if self.path else where
        if self.path:
            return f"{self.path}:{self.line}" if self.line else self.path
        return "-"

    @property
    def short_location(self) -> str:
        """``package@version`` for SCA (without the manifest path), else ``file:line``."""
        if self.kind == SCA and self.package:
            return f"{self.package}@{self.version}" if self.version else self.package
        return self.location

    @property
    def suppressed(self) -> bool:
        return self.suppressed_by is not None or self.tool_suppression is not None

    def ids(self) -> tuple[str, ...]:
        return (self.rule_id, *self.aliases) + ((self.cwe,) if self.cwe else ())


def new(tool: str, kind: str, rule_id: str, severity: str, title: str, **kw: object) -> Finding:
    """Build a finding with interned repeated strings (tool, kind, rule, severity, path, package)."""
    f = Finding(_intern(tool), kind, _intern(rule_id), severity, title, **kw)  # type: ignore[arg-type]
    if f.path:
        f.path = _intern(f.path)
    if f.package:
        f.package = _intern(f.package)
    return f


# -- identity -----------------------------------------------------------------------
_PURL = re.compile(r"^pkg:(?P<type>[^/]+)/(?P<rest>[^@?#]+)(?:@(?P<version>[^?#]+))?")


def package_key(name: str | None, purl: str | None = None) -> str | None:
    """``namespace/name`` in lower case, from a purl when there is one, else ``group:artifact``."""
    if purl:
        m = _PURL.match(purl)
        if m:
            from urllib.parse import unquote

            return unquote(m.group("rest")).lower()
    if not name:
        return None
    return name.replace(":", "/").lower()


def purl_version(purl: str | None) -> str | None:
    if purl:
        m = _PURL.match(purl)
        if m and m.group("version"):
            from urllib.parse import unquote

            return unquote(m.group("version"))
    return None


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def sca_fingerprint(vuln_id: str, package: str | None, version: str | None) -> str:
    return digest(f"sca|{vuln_id.upper()}|{package or ''}|{version or ''}")


_WS = re.compile(r"\s+")


def normalise_snippet(text: str) -> str:
    return _WS.sub(" ", text).strip()


def assign_sast_fingerprints(findings: Iterable[tuple[Finding, str]]) -> None:
    """Give SAST findings ``hash(rule | path | anchor | ordinal)``;
    ordinals count equal anchors in line order."""
    items = sorted(findings, key=lambda fa: fa[0].line or 0)
    seen: dict[str, int] = {}
    for finding, anchor in items:
        key = f"sast|{finding.rule_id}|{finding.path or ''}|{anchor}"
        seen[key] = seen.get(key, 0) + 1
        finding.fingerprint = digest(f"{key}|{seen[key]}")


def sort_key(f: Finding) -> tuple[int, int, str, str, int]:
    """Blocking first, then the other active findings, then suppressed or known ones; most severe first."""
    group = 0 if f.blocking else (2 if f.suppressed or f.baseline_state == "unchanged" else 1)
    return (group, RANK[f.severity], f.tool, f.path or f.package or "", f.line or 0)


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the most severe severity wins, other tools are remembered.

    A finding one tool ignores but another reports stays unsuppressed.
    """
    with gc_paused():
        return _merge(findings)


def _merge(findings: Iterable[Finding]) -> list[Finding]:
    by_fp: dict[str, Finding] = {}
    out: list[Finding] = []
    for f in findings:
        seen = by_fp.get(f.fingerprint)
        if seen is None:
            by_fp[f.fingerprint] = f
            out.append(f)
            continue
        if f.tool != seen.tool and f.tool not in seen.also_reported_by:
            seen.also_reported_by = (*seen.also_reported_by, f.tool)
        if RANK[f.severity] < RANK[seen.severity]:
            seen.severity = f.severity
        seen.fixed_in = seen.fixed_in or f.fixed_in
        seen.purl = seen.purl or f.purl
        seen.path = seen.path or f.path
        seen.cwe = seen.cwe or f.cwe
        if f.tool_suppression is None:
            seen.tool_suppression = None
    return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or writing many findings.

    Hundreds of thousands of new objects (none in cycles) would otherwise trigger full
    collections over everything alive again and again: reading and writing 200,000 results
    takes about twice as long with it running.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
