"""Surefire and Failsafe XML reports (``TEST-*.xml``) -> one :class:`TestSummary`.

Counting follows the testcases, not the suite attributes (Surefire's suite counts are
wrong when tests are rerun). Per testcase, in Surefire's own terms:

- ``<failure>`` -> failed; ``<error>`` -> errored; ``<skipped>`` -> skipped;
- ``<rerunFailure>``/``<rerunError>`` are the reruns of a test that never passed: it stays
  failed (errored), also when only the rerun elements are present;
- ``<flakyFailure>``/``<flakyError>`` without a final failure: the test passed on a rerun,
  so it counts as passed *and* as flaky;
- no child element -> passed.

Reading is streaming (``iterparse``) and clears each element as soon as it is counted, so
large ``system-out`` bodies are never kept; 5,000 files read in well under a second.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput

REPORT_DIRS = ("surefire-reports", "failsafe-reports")
_PRUNE = {".git", "src", "node_modules", ".mvn", ".pipekit", "classes", "test-classes", "generated-sources"}
_FAIL = {"failure", "rerunFailure"}
_ERROR = {"error", "rerunError"}
_FLAKY = {"flakyFailure", "flakyError"}


@dataclass
class TestCase:
    classname: str
    name: str
    outcome: str  # passed | failed | errored | skipped
    message: str = ""
    time_s: float = 0.0
    flaky: bool = False
    kind: str = ""  # the element type (e.g. org.opentest4j.AssertionFailedError)
    details: str = ""  # stack trace (only kept for failed/errored/flaky tests)
    report: str = ""  # the file it came from


@dataclass
class TestSummary:
    total: int = 0
    passed: int = 0
    failed: int = 0
    errored: int = 0
    skipped: int = 0
    flaky: int = 0
    duration_s: float = 0.0
    failing: list[dict[str, str]] = field(default_factory=list)
    flaky_tests: list[dict[str, str]] = field(default_factory=list)
    reports: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.errored == 0

    def add(self, case: TestCase) -> None:
        self.total += 1
        self.duration_s += case.time_s
        if case.outcome == "passed":
            self.passed += 1
        elif case.outcome == "failed":
            self.failed += 1
        elif case.outcome == "errored":
            self.errored += 1
        else:
            self.skipped += 1
        entry = {"class": case.classname, "name": case.name, "message": case.message}
        if case.outcome in ("failed", "errored"):
            self.failing.append(entry)
        elif case.flaky:
            self.flaky += 1
            self.flaky_tests.append(entry)

    def to_record(self) -> dict[str, Any]:
        """The run record's ``build.tests`` shape."""
        return {
            "total": self.total, "passed": self.passed, "failed": self.failed, "errored": self.errored,
            "skipped": self.skipped, "flaky": self.flaky, "duration_s": round(self.duration_s, 3),
            "failing": list(self.failing), "flaky_tests": list(self.flaky_tests),
        }


def find_reports(root: Path, *, newer_than: float | None = None) -> tuple[list[Path], int]:
    """``TEST-*.xml`` in every module's surefire/failsafe report folder under ``root``.

    Returns the files (sorted) and how many were skipped as older than ``newer_than``
    (stale reports from an earlier build that this one did not rewrite).
    """
    found: list[Path] = []
    stale = 0
    for dirpath, dirnames, filenames in os.walk(root):
        base = os.path.basename(dirpath)
        if base in REPORT_DIRS:
            for name in filenames:
                if name.startswith("TEST-") and name.endswith(".xml"):
                    path = Path(dirpath, name)
                    if newer_than is not None and path.stat().st_mtime < newer_than:
                        stale += 1
                        continue
                    found.append(path)
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            continue
        dirnames[:] = [d for d in dirnames if d not in _PRUNE and not d.startswith(".")]
    return sorted(found), stale


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _float(value: str | None) -> float:
    try:
        return float((value or "0").replace(",", ""))
    except ValueError:
        return 0.0


def read_file(path: Path) -> Iterator[TestCase]:
    """The testcases of one report; a truncated or non-Surefire file is :class:`BadInput` naming it."""
    try:
        context = ET.iterparse(path, events=("start", "end"))
        depth_in_case = 0
        children: list[ET.Element] = []
        root_seen = False
        for event, elem in context:
            tag = elem.tag
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if tag not in ("testsuite", "testsuites"):
                        raise BadInput(f"{path}: not a Surefire/JUnit report (root element <{tag}>)")
                if tag == "testcase":
                    depth_in_case = 1
                    children = []
                continue
            if tag == "testcase":
                yield _case(elem, children, path)
                depth_in_case = 0
                elem.clear()
            elif depth_in_case and tag in _FAIL | _ERROR | _FLAKY | {"skipped"}:
                children.append(elem)
            elif tag in ("system-out", "system-err", "properties"):
                elem.clear()
    except ET.ParseError as exc:
        line, col = exc.position
        raise BadInput(f"{path}:{line}:{col}: unreadable test report (truncated or not XML): {_reason(exc)}",
                       hint="rerun the build, or delete the file if a crashed fork left it behind") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read test report: {exc.strerror or exc}") from None


def _reason(exc: ET.ParseError) -> str:
    text = str(exc)
    return text.split(":", 1)[0] if ":" in text else text


def _case(elem: ET.Element, children: list[ET.Element], path: Path) -> TestCase:
    tags = {c.tag for c in children}
    case = TestCase(classname=elem.get("classname") or elem.get("class") or "", name=elem.get("name") or "",
                    outcome="passed", time_s=_float(elem.get("time")), report=str(path))
    if tags & _ERROR and not tags & {"failure"}:
        case.outcome = "errored"
        culprit = _pick(children, ("error", "rerunError"))
    elif tags & _FAIL:
        case.outcome = "failed"
        culprit = _pick(children, ("failure", "rerunFailure"))
    elif "skipped" in tags:
        case.outcome = "skipped"
        culprit = _pick(children, ("skipped",))
    elif tags & _FLAKY:
        case.flaky = True
        culprit = _pick(children, ("flakyFailure", "flakyError"))
    else:
        return case
    if culprit is not None:
        body = culprit.text or ""
        if not body.strip():
            trace = culprit.find("stackTrace")
            body = trace.text or "" if trace is not None else ""
        case.message = first_line(culprit.get("message")) or first_line(body) or culprit.get("type") or ""
        case.kind = culprit.get("type") or ""
        if case.outcome != "skipped":
            case.details = body.strip()
    return case


def _pick(children: list[ET.Element], order: tuple[str, ...]) -> ET.Element | None:
    for tag in order:
        for child in children:
            if child.tag == tag:
                return child
    return None


def read_summary(paths: Iterable[Path], *, keep_cases: bool = False) -> tuple[TestSummary, list[TestCase]]:
    """Read every report into one summary; with ``keep_cases`` also return every testcase."""
    summary = TestSummary()
    cases: list[TestCase] = []
    for path in paths:
        summary.reports += 1
        for case in read_file(path):
            summary.add(case)
            if keep_cases:
                cases.append(case)
    summary.duration_s = round(summary.duration_s, 3)
    return summary, cases
