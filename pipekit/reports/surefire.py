"""JUnit XML reports -> one :class:`TestSummary`: Surefire/Failsafe (``TEST-*.xml``, what ``build``
reads) and the dialects other suites write, read by the same parser: Newman's ``junit`` reporter
(``<testsuites>``, one ``<testsuite>`` per request, one ``<testcase>`` per assertion), Cucumber's
JUnit formatter (a bare ``<testsuite>`` root), Playwright's ``junit`` reporter (one ``<testsuite>``
per spec file) and pytest's ``--junit-xml``.

With ``check_counters`` (``post-sync-test``), a report whose counters disagree with its test cases
is :class:`BadInput`: see :mod:`pipekit.reports.junit`.

Counting follows the testcases, not the suite attributes (Surefire's suite counts are
wrong when tests are rerun). Per testcase, in Surefire's own terms:

- ``<failure>`` -> failed; ``<error>`` -> errored; ``<skipped>`` -> skipped;
- ``<rerunFailure>``/``<rerunError>`` are the reruns of a test that never passed: it stays
  failed (errored), also when only the rerun elements are present;
- ``<flakyFailure>``/``<flakyError>`` without a final failure: the test passed on a rerun,
  so it counts as passed *and* as flaky;
- no child element -> passed.

Reading uses a bare expat parser (no element tree); text is gathered only inside result
elements, so large ``system-out`` bodies are never kept; 5,000 files read in under a second.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.reports.junit import SuiteCount, check

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
        """The run record's ``build.tests`` shape: the counts, and the first :data:`RECORDED` failing
        and flaky tests (messages cut to :data:`RECORDED_MESSAGE` characters) with how many there are:
        200,000 failures must not make a 29 MB record that every later step reads."""
        return {
            "total": self.total, "passed": self.passed, "failed": self.failed, "errored": self.errored,
            "skipped": self.skipped, "flaky": self.flaky, "duration_s": round(self.duration_s, 3),
            "failing": _first(self.failing), "failing_count": len(self.failing),
            "flaky_tests": _first(self.flaky_tests),
        }


RECORDED = 50  # failing (or flaky) tests named in the run record and on the card
RECORDED_MESSAGE = 500  # characters of each one's message kept there


def _first(tests: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**t, "message": (t.get("message") or "")[:RECORDED_MESSAGE]} for t in tests[:RECORDED]]


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


@dataclass
class _Child:
    """A result element inside a testcase (failure, error, skipped, rerun*/flaky*) and its text."""

    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)


_CHILDREN = _FAIL | _ERROR | _FLAKY | {"skipped"}
_RERUN = {"rerunFailure", "rerunError"}


def read_file(path: Path, suites: list[SuiteCount] | None = None) -> list[TestCase]:
    """The testcases of one report; a truncated or non-JUnit file is :class:`BadInput` naming it.

    With ``suites``, every ``<testsuite>``/``<testsuites>`` element's declared counters and the
    test cases found inside it are appended there (for :func:`pipekit.reports.junit.check`).

    A bare expat parser with only start/end handlers: no tree is built, and character data
    is collected only inside result elements, so ``system-out`` bodies and ``properties`` cost
    nothing beyond expat's own scan.
    """
    from xml.parsers import expat

    parser = expat.ParserCreate()
    parser.buffer_text = True
    cases: list[TestCase] = []
    current: dict[str, str] | None = None
    children: list[_Child] = []
    seen_root = False
    open_suites: list[SuiteCount] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current, children, seen_root
        if not seen_root:
            seen_root = True
            if tag not in ("testsuite", "testsuites"):
                raise BadInput(f"{path}: not a Surefire/JUnit report (root element <{tag}>)")
        if tag in ("testsuite", "testsuites") and suites is not None:
            open_suites.append(SuiteCount(tag, dict(attrs), parser.CurrentLineNumber))
        if tag == "testcase":
            current, children = attrs, []
        elif current is not None:
            if tag in _CHILDREN:
                child = _Child(tag, attrs)
                children.append(child)
                parser.CharacterDataHandler = child.text.append
            elif tag == "stackTrace" and children:
                parser.CharacterDataHandler = children[-1].trace.append

    def end(tag: str) -> None:
        nonlocal current
        if tag == "testcase" and current is not None:
            cases.append(_case(current, children, path))
            if open_suites:
                tags = {c.tag for c in children}
                failed, errored, rerun = bool(tags & _FAIL), bool(tags & _ERROR), bool(tags & (_FLAKY | _RERUN))
                for suite in open_suites:
                    suite.count(failed=failed, errored=errored, skipped="skipped" in tags, rerun=rerun)
            current = None
        elif tag in ("testsuite", "testsuites") and open_suites and suites is not None:
            suites.append(open_suites.pop())
        elif tag in _CHILDREN or tag == "stackTrace":
            parser.CharacterDataHandler = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        parser.Parse(_without_properties(data), True)
    except expat.ExpatError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}:{exc.offset + 1}: unreadable test report (truncated or not XML): "
            f"{expat.ErrorString(exc.code)}",
            hint="rerun the build, or delete the file if a crashed fork left it behind") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read test report: {exc.strerror or exc}") from None
    return cases


def _without_properties(data: bytes) -> bytes:
    """Blank out ``<properties>...</properties>`` blocks (dozens of JVM properties per file) before
    parsing; newlines are kept so error positions stay right."""
    start = data.find(b"<properties>")
    while start != -1:
        end = data.find(b"</properties>", start)
        if end == -1:
            break
        end += len(b"</properties>")
        data = data[:start] + b"\n" * data.count(b"\n", start, end) + data[end:]
        start = data.find(b"<properties>", start)
    return data


def _case(attrs: dict[str, str], children: list[_Child], path: Path) -> TestCase:
    tags = {c.tag for c in children}
    case = TestCase(classname=attrs.get("classname") or attrs.get("class") or "", name=attrs.get("name") or "",
                    outcome="passed", time_s=_float(attrs.get("time")), report=str(path))
    if tags & _ERROR and "failure" not in tags:
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
        body = "".join(culprit.text)
        if not body.strip():
            body = "".join(culprit.trace)
        case.message = first_line(culprit.attrs.get("message")) or first_line(body) or culprit.attrs.get("type", "")
        case.kind = culprit.attrs.get("type", "")
        if case.outcome != "skipped":
            case.details = body.strip()
    return case


def _pick(children: list[_Child], order: tuple[str, ...]) -> _Child | None:
    for tag in order:
        for child in children:
            if child.tag == tag:
                return child
    return None


def read_summary(paths: Iterable[Path], *, keep_cases: bool = False,
                 check_counters: bool = False) -> tuple[TestSummary, list[TestCase]]:
    """Read every report into one summary; with ``keep_cases`` also return every testcase.

    ``check_counters``: a report whose ``tests``/``failures``/``errors``/``skipped`` attributes
    disagree with the test cases it holds is :class:`BadInput` (a crashed or truncated run).
    """
    summary = TestSummary()
    cases: list[TestCase] = []
    for path in paths:
        summary.reports += 1
        suites: list[SuiteCount] | None = [] if check_counters else None
        found = read_file(path, suites)
        if suites is not None:
            check(path, suites)
        for case in found:
            summary.add(case)
            if keep_cases:
                cases.append(case)
    summary.duration_s = round(summary.duration_s, 3)
    return summary, cases
