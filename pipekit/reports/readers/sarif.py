"""SARIF 2.1.0 from any tool (CodeQL, Semgrep, Trivy, Bandit's formatter, pipekit itself).

Severity: a ``security-severity`` score on the result's properties, else on the rule, wins over
the level: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low. Without a score the level
(result, else the rule's default, else ``warning``): error -> high, warning -> medium, note -> low,
none -> info. ``suppressions`` (not rejected) mark a finding suppressed by the tool.
``partialFingerprints`` anchor the fingerprint; pipekit's own ``pipekit/v1`` is reused as is.
Results of ``kind`` pass/notApplicable and ``baselineState`` absent are not findings.

Big files (16 MB and more) with one run are streamed (ijson): the tool's rule table first, then
the results one at a time, so memory stays near the size of the findings, not of the JSON tree.
Their nesting depth is checked first (:func:`max_depth`): ijson has no depth limit, and a result
nested a million deep would take gigabytes to build.
"""

from __future__ import annotations

import mmap
import sys
from pathlib import Path
from typing import Any

from pipekit.reports import findings as fm
from pipekit.reports.readers.interface import Malformed, Reader, obj

LEVEL = {"error": "high", "warning": "medium", "note": "low", "none": "info"}
STREAM_FROM_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 512  # the whole-file parser (orjson) stops at 1024; no real SARIF comes near either
_intern = sys.intern
_EMPTY: dict[str, Any] = {}
_SEVERITIES = frozenset(fm.SEVERITIES)
_NOT_FINDINGS = frozenset({"pass", "notApplicable"})


class _Run:
    """What results need from their run: tool name, rules by id and index, pending fingerprints."""

    __slots__ = ("tool", "rule_ids", "rule_score", "rule_level", "rule_title", "pending", "severity_cache")

    def __init__(self, tool: Any, where: str) -> None:
        tool = obj(tool if tool is not None else {}, f"{where}.tool")
        driver = obj(tool.get("driver") or {}, f"{where}.tool.driver")
        name = driver.get("name") or "sarif"
        if not isinstance(name, str):
            raise Malformed(f"{where}.tool.driver.name", "expected a string")
        self.tool = _intern(name.lower() if name.isupper() else name)
        self.rule_ids: list[str] = []
        self.rule_score: dict[str, float] = {}
        self.rule_level: dict[str, str] = {}
        self.rule_title: dict[str, str] = {}
        self.pending: list[tuple[fm.Finding, str]] = []
        self.severity_cache: dict[tuple[str, Any], str] = {}
        rules = driver.get("rules") or []
        if not isinstance(rules, list):
            raise Malformed(f"{where}.tool.driver.rules", "expected an array")
        for i, rule in enumerate(rules):
            rule = obj(rule, f"{where}.tool.driver.rules[{i}]")
            rid = rule.get("id")
            if not isinstance(rid, str):
                raise Malformed(f"{where}.tool.driver.rules[{i}].id", "expected a string")
            self.rule_ids.append(rid)
            props = rule.get("properties") or {}
            score = fm.parse_score(props.get("security-severity")) if isinstance(props, dict) else None
            if score is not None:
                self.rule_score[rid] = score
            level = (rule.get("defaultConfiguration") or {}).get("level")
            if isinstance(level, str):
                self.rule_level[rid] = level
            short = rule.get("shortDescription") or {}
            if isinstance(short, dict) and isinstance(short.get("text"), str):
                self.rule_title[rid] = short["text"]

    def cache_severity(self, key: tuple[str, Any]) -> str:
        """Severity from the rule's score, else the level (result, rule default, ``warning``)."""
        rule, level = key
        score = self.rule_score.get(rule)
        if score is not None:
            severity = fm.from_score(score) or "info"
        else:
            level = level or self.rule_level.get(rule) or "warning"
            severity = LEVEL.get(level, "medium") if isinstance(level, str) else "medium"
        if isinstance(key[1], (str, type(None))):
            self.severity_cache[key] = severity
        return severity

    def finish(self) -> list[fm.Finding]:
        fm.assign_sast_fingerprints([p for p in self.pending if not p[0].fingerprint])
        return [f for f, _ in self.pending]


class _Where:
    """The JSON path of a result, built only when there is an error to report."""

    __slots__ = ("run", "index")

    def __init__(self, run: int, index: int) -> None:
        self.run, self.index = run, index

    def __format__(self, spec: str) -> str:
        return f"$.runs[{self.run}].results[{self.index}]"


def _bad(where: object, what: str) -> Malformed:
    return Malformed(format(where), f"expected {what}")


def _convert(res: Any, run: _Run, where: _Where) -> None:
    """One result into a finding; written for speed (200,000 results a second or so)."""
    if type(res) is not dict:
        raise _bad(where, "an object")
    get = res.get
    if get("kind") in _NOT_FINDINGS or get("baselineState") == "absent":
        return  # a check that passed, or a result the tool says is gone
    rule = get("ruleId")
    if rule is None:
        rule_obj = get("rule")
        rule = rule_obj.get("id") if isinstance(rule_obj, dict) else None
        if rule is None:
            index = get("ruleIndex")
            ids = run.rule_ids
            rule = ids[index] if type(index) is int and 0 <= index < len(ids) else "sarif-result"
    if type(rule) is not str:
        raise _bad(f"{where}.ruleId", "a string")
    props = get("properties")
    if props is None:
        props = _EMPTY
    elif type(props) is not dict:
        raise _bad(f"{where}.properties", "an object")
    severity: str = props.get("pipekit/severity")  # type: ignore[assignment]
    if severity not in _SEVERITIES:
        score = props.get("security-severity")
        if score is None:  # the common case: decided by rule and level, cached per run
            key = (rule, get("level"))
            severity = run.severity_cache.get(key)  # type: ignore[assignment]
            if severity is None:
                severity = run.cache_severity(key)
        else:
            severity = fm.from_score(fm.parse_score(score)) or run.cache_severity((rule, get("level")))
    message = get("message")
    title = message.get("text") if type(message) is dict else None
    if type(title) is not str:
        title = run.rule_title.get(rule, rule)
    elif "\n" in title:
        title = title.splitlines()[0]
    path = line = snippet = None
    locations = get("locations")
    if locations:
        try:
            phys = locations[0].get("physicalLocation") or _EMPTY
            path = (phys.get("artifactLocation") or _EMPTY).get("uri")
            region = phys.get("region")
        except (AttributeError, KeyError, TypeError):
            raise _bad(f"{where}.locations", "an array of location objects") from None
        if region:
            if type(region) is not dict:
                raise _bad(f"{where}.locations[0].physicalLocation.region", "an object")
            line = region.get("startLine")
            if line is not None and type(line) is not int:
                raise _bad(
                    f"{where}.locations[0].physicalLocation.region.startLine", f"an integer, got {line!r}"
                )
            snip = region.get("snippet")
            if snip is not None and type(snip) is dict:
                snippet = snip.get("text")
        if path is not None and type(path) is not str:
            raise _bad(f"{where}.locations[0].physicalLocation.artifactLocation.uri", "a string")
    f = fm.Finding(run.tool, fm.SAST, _intern(rule), severity, title, _intern(path) if path else None, line)
    if props:
        kind = props.get("pipekit/kind")
        if kind == fm.SCA:
            f.kind = fm.SCA
            f.package, f.version = props.get("pipekit/package"), props.get("pipekit/version")
            f.purl, f.fixed_in = props.get("pipekit/purl"), props.get("pipekit/fixedIn")
        tool = props.get("pipekit/tool")
        if type(tool) is str:
            f.tool = _intern(tool)
    pfs = get("partialFingerprints")
    if pfs:
        if type(pfs) is not dict:
            raise _bad(f"{where}.partialFingerprints", "an object")
        own = pfs.get(fm.FINGERPRINT_KEY)
        if type(own) is str:
            f.fingerprint = own
        else:  # content hashes that already count repeats (primaryLocationLineHash "hash:ordinal")
            if len(pfs) == 1:
                ((k, v),) = pfs.items()
                anchor = f"{k}={v}"
            else:
                anchor = "|".join(f"{k}={v}" for k, v in sorted(pfs.items()))
            f.fingerprint = fm.digest(f"sast|{rule}|{path or ''}|{anchor}")
    sups = get("suppressions")
    if sups:
        if type(sups) is not list:
            raise _bad(f"{where}.suppressions", "an array")
        for s in sups:
            if type(s) is dict and s.get("status", "accepted") == "accepted":
                f.tool_suppression = str(
                    s.get("justification") or f"suppressed ({s.get('kind', 'inSource')})"
                )
                break
    if f.fingerprint:
        run.pending.append((f, ""))
    else:
        run.pending.append((f, fm.normalise_snippet(snippet if type(snippet) is str else title)))


class SarifReader(Reader):
    name = "sarif"
    tool = "sarif"

    def detect(self, doc: Any) -> bool:
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("runs"), list)
            and ("version" in doc or "$schema" in doc)
        )

    def read(self, doc: Any) -> list[fm.Finding]:
        root = obj(doc, "$")
        version = root.get("version")
        if version is not None and version != "2.1.0":
            raise Malformed("$.version", f"SARIF {version!r} is not supported (only 2.1.0)")
        runs = root.get("runs")
        if not isinstance(runs, list):
            raise Malformed("$.runs", "expected an array")
        out: list[fm.Finding] = []
        for r, raw_run in enumerate(runs):
            rwhere = f"$.runs[{r}]"
            run_doc = obj(raw_run, rwhere)
            run = _Run(run_doc.get("tool"), rwhere)
            results = run_doc.get("results") or []
            if not isinstance(results, list):
                raise Malformed(f"{rwhere}.results", "expected an array")
            for i, res in enumerate(results):
                _convert(res, run, _Where(r, i))
            out.extend(run.finish())
        return out


def count_drivers(path: Path) -> int:
    """How many ``"driver"`` keys (one per run) the file has, found without parsing it."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        count, pos = 0, mm.find(b'"driver"')
        while pos != -1:
            if pos == 0 or mm[pos - 1] != 0x5C:  # not an escaped quote inside a string
                count += 1
            pos = mm.find(b'"driver"', pos + 8)
        return count


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = bytes.maketrans(b"[]{}", bytes([1, 255, 1, 255]))  # +1 / -1 as signed bytes


def max_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON ``data``, brackets inside strings not counted.

    Done with whole-buffer C operations (about 5% of the streaming read): escaped backslashes and
    quotes are dropped, then everything but brackets and quotes; every second piece between
    quotes is string content; the running sum of +1/-1 over what is left is the depth.
    """
    from array import array
    from itertools import accumulate

    kept = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_BRACKETS)
    # Two quotes next to each other here (an empty string, or two strings with only ',' or ':'
    # between them) hide no structural bracket: dropping them first leaves little to split.
    brackets = b"".join(kept.replace(b'""', b"").split(b'"')[::2]).translate(_STEP)
    return max(accumulate(array("b", brackets)), default=0)


def stream(path: Path) -> list[fm.Finding]:
    """Read a one-run SARIF file result by result (ijson); raises ``ijson.JSONError`` when malformed."""
    import ijson

    depth = max_depth(path.read_bytes())
    if depth > MAX_DEPTH:
        raise Malformed("$", f"nested {depth} levels deep, past the depth limit of {MAX_DEPTH}")

    with path.open("rb") as fh:
        tool = next(iter(ijson.items(fh, "runs.item.tool", use_float=True)), None)
    run = _Run(tool, "$.runs[0]")
    with path.open("rb") as fh:
        where = _Where(0, 0)
        for i, res in enumerate(ijson.items(fh, "runs.item.results.item", use_float=True)):
            where.index = i
            _convert(res, run, where)
    return run.finish()
