"""One JUnit XML file -> a :class:`Report`: its test cases in order and every ``<testsuite>`` with its
declared counters and what it really holds. No dialect knowledge here (see :mod:`.dialects`).

Reading is one pass of a bare expat parser over the file in chunks: no element tree, character
data gathered only inside result elements (``failure``, ``error``, ``skipped``, Surefire's
``rerun*``/``flaky*``) and a suite's own ``system-err``, each kept up to a bound. Large
``properties`` blocks and ``system-out`` bodies cost expat's scan and nothing more, so time is
linear in the file and memory in the number of test cases.

Refused, as bad input naming the file: anything that is not well-formed XML (a truncated file
too: a visibly cut-off case leaves an unclosed element), a root other than ``testsuite`` or
``testsuites``, and any document type declaration with an internal subset or an external
identifier. That last rule closes XML bombs (entity expansion) and external entities (a parser
reading ``/etc/passwd`` or fetching a URL) before either can start: no JUnit writer emits a DTD,
so the stdlib parser is made safe by refusing them rather than by a defusing library.

Per test case, in Surefire's own terms:

- ``<failure>`` -> failed; ``<error>`` -> errored (a case with both is failed); ``<skipped>`` -> skipped;
- ``<rerunFailure>``/``<rerunError>`` are reruns of a test that never passed: failed (errored),
  also when only the rerun elements are present;
- ``<flakyFailure>``/``<flakyError>`` without a final failure: passed on a rerun, so passed *and* flaky;
- no result element -> passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pipekit.core.errors import BadInput
from pipekit.reports.junit.model import TestCase

SUITE_TAGS = ("testsuite", "testsuites")
_FAIL = frozenset({"failure", "rerunFailure"})
_ERROR = frozenset({"error", "rerunError"})
_FLAKY = frozenset({"flakyFailure", "flakyError"})
_RERUN = frozenset({"rerunFailure", "rerunError"})
_RESULTS = _FAIL | _ERROR | _FLAKY | {"skipped"}
MAX_TEXT = 20_000  # characters kept of one result element's text (the rest is the tool's log)
MAX_SUITE_ERR = 8_000  # characters kept of a suite's own system-err
_CHUNK = 1 << 20


class _Text:
    """Character data, kept up to ``limit`` characters (expat hands it over in buffered pieces)."""

    __slots__ = ("parts", "size", "limit")

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def add(self, data: str) -> None:
        if self.size < self.limit:
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> str:
        return "".join(self.parts)[: self.limit]


@dataclass
class Result:
    """A result element inside a test case and its text."""

    tag: str
    attrs: dict[str, str]
    text: _Text = field(default_factory=lambda: _Text(MAX_TEXT))
    trace: _Text = field(default_factory=lambda: _Text(MAX_TEXT))


@dataclass
class Suite:
    """A ``<testsuite>``/``<testsuites>`` element: what it declares and what it holds."""

    tag: str
    attrs: dict[str, str]
    line: int
    depth: int
    first: int  # index of its first test case in Report.cases
    end: int = -1  # one past its last
    tests: int = 0
    failed: int = 0
    errored: int = 0
    skipped: int = 0
    reruns: int = 0  # cases with rerun*/flaky* elements
    system_err: str = ""  # the start of a <system-err> directly inside it

    @property
    def name(self) -> str:
        return self.attrs.get("name") or ""


@dataclass
class Report:
    path: Path
    root: str
    root_attrs: dict[str, str]
    cases: list[TestCase]
    suites: list[Suite]  # in document order (root first when it is a suite)


def parse(path: Path) -> Report:
    """Read ``path``; :class:`BadInput` naming it when it is not a readable, safe JUnit report."""
    from xml.parsers import expat

    try:
        with open(path, "rb") as fh:
            return _Reader(path, expat.ParserCreate()).read(fh)
    except expat.ExpatError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}:{exc.offset + 1}: unreadable test report (truncated or not XML): "
            f"{expat.ErrorString(exc.code)}",
            hint="rerun the suite, or delete the file if a crashed run left it behind",
        ) from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read test report: {exc.strerror or exc}") from None


class _Reader:
    def __init__(self, path: Path, parser: Any) -> None:
        self.path, self.parser = path, parser
        self.where = str(path)
        self.cases: list[TestCase] = []
        self.suites: list[Suite] = []
        self.open: list[Suite] = []
        self.root: str | None = None
        self.root_attrs: dict[str, str] = {}
        self.case: dict[str, str] | None = None
        self.results: list[Result] = []
        self.props: dict[str, str] | None = None
        self.inner: list[str] = []  # elements open inside the current test case
        self.err: _Text | None = None  # a suite's own system-err being read
        self.names: dict[str, str] = {}  # one string object per distinct class/suite name

    def read(self, fh: BinaryIO) -> Report:
        p = self.parser
        p.buffer_text = True
        p.buffer_size = 1 << 16
        p.StartElementHandler = self.first
        p.EndElementHandler = self.end
        p.StartDoctypeDeclHandler = self.doctype
        p.EntityDeclHandler = self.entity
        p.ExternalEntityRefHandler = self.external
        while chunk := fh.read(_CHUNK):  # a chunk at a time: memory does not follow the file's size
            p.Parse(chunk, False)
        p.Parse(b"", True)
        if self.root is None:  # pragma: no cover - expat refuses a document without an element
            raise BadInput(f"{self.path}: not a JUnit report (no root element)")
        return Report(self.path, self.root, self.root_attrs, self.cases, self.suites)

    # -- safety -------------------------------------------------------------------------------
    def doctype(self, name: str, system_id: str | None, public_id: str | None, internal: int) -> None:
        if system_id or public_id or internal:
            raise BadInput(
                f"{self.path}:{self.parser.CurrentLineNumber}: a test report with a document type "
                "declaration (DTD) is refused: its entities could expand without bound or read "
                "other files",
                hint="JUnit writers never emit one: check where this file came from",
            )

    def entity(self, name: str, *_: Any) -> None:
        raise BadInput(
            f"{self.path}:{self.parser.CurrentLineNumber}: entity {name!r} declared in a test report: "
            "refused (entity expansion or an external file)"
        )

    def external(
        self, context: str | None, base: str | None, system_id: str | None, public_id: str | None
    ) -> int:
        raise BadInput(
            f"{self.path}: external entity {system_id or public_id!r} in a test report: refused, "
            "nothing was read"
        )

    # -- elements -----------------------------------------------------------------------------
    def first(self, tag: str, attrs: dict[str, str]) -> None:
        """The root element: a JUnit report's, or the file is refused."""
        if tag not in SUITE_TAGS:
            raise BadInput(
                f"{self.path}: not a JUnit report (root element <{tag}>)",
                hint="point --junit-dir at the folder the runner writes JUnit XML to",
            )
        self.root, self.root_attrs = tag, attrs
        self.parser.StartElementHandler = self.start
        self.start(tag, attrs)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.case is not None:
            self.inner.append(tag)
            p = self.parser
            if tag in _RESULTS:
                result = Result(tag, attrs)
                self.results.append(result)
                p.CharacterDataHandler = result.text.add
            elif tag == "stackTrace" and self.results:
                p.CharacterDataHandler = self.results[-1].trace.add
            elif tag == "property":
                if self.props is None:
                    self.props = {}
                if len(self.props) < 64:
                    self.props[attrs.get("name") or ""] = attrs.get("value") or ""
                p.CharacterDataHandler = None
            else:
                p.CharacterDataHandler = None
        elif tag == "testcase":
            self.case, self.results, self.props, self.inner = attrs, [], None, []
        elif tag in SUITE_TAGS:
            suite = Suite(tag, attrs, self.parser.CurrentLineNumber, len(self.open), len(self.cases))
            self.suites.append(suite)
            self.open.append(suite)
        elif tag == "properties":
            # a suite's properties (Surefire: the JVM's, dozens a file) are not read: no handler call per
            # element start inside, one per end, until </properties>
            self.parser.StartElementHandler = None
            self.parser.EndElementHandler = self.end_properties
        elif tag == "system-err" and self.open and self.err is None:
            self.err = _Text(MAX_SUITE_ERR)
            self.parser.CharacterDataHandler = self.err.add

    def end_properties(self, tag: str) -> None:
        if tag == "properties":
            self.parser.StartElementHandler = self.start
            self.parser.EndElementHandler = self.end

    def end(self, tag: str) -> None:
        if self.case is not None:
            if tag == "testcase" and not self.inner:
                self._close_case()
                return
            if self.inner:
                self.inner.pop()
            # back to the text of the result element still open, if any
            p = self.parser
            if self.inner and self.inner[-1] in _RESULTS and self.results:
                p.CharacterDataHandler = self.results[-1].text.add
            else:
                p.CharacterDataHandler = None
            return
        if tag in SUITE_TAGS and self.open:
            suite = self.open.pop()
            suite.end = len(self.cases)
            if self.open:  # what a nested suite holds, its parent holds too
                parent = self.open[-1]
                parent.tests += suite.tests
                parent.failed += suite.failed
                parent.errored += suite.errored
                parent.skipped += suite.skipped
                parent.reruns += suite.reruns
        elif tag == "system-err" and self.err is not None:
            if self.open and not self.open[-1].system_err:
                self.open[-1].system_err = self.err.value()
            self.err = None
            self.parser.CharacterDataHandler = None

    def _close_case(self) -> None:
        attrs, results, names = self.case or {}, self.results, self.names
        self.case = None
        if self.open:
            suite = self.open[-1]
            suite_name = suite.attrs.get("name") or ""
        else:  # pragma: no cover - the root is a suite
            suite, suite_name = None, ""
        classname = attrs.get("classname") or attrs.get("class") or ""
        time_s = attrs.get("time")
        case = TestCase(
            names.setdefault(classname, classname),
            attrs.get("name") or "",
            "passed",
            time_s=_float(time_s) if time_s else 0.0,
            report=self.where,
            suite=names.setdefault(suite_name, suite_name),
            props=self.props,
        )
        if results:
            self.parser.CharacterDataHandler = None
            _judge(case, results)
        if (
            suite is not None
        ):  # counted in the innermost suite; a suite's counts go to its parent when it closes
            suite.tests += 1
            if results:
                outcome = case.outcome
                suite.failed += outcome == "failed"
                suite.errored += outcome == "errored"
                suite.skipped += outcome == "skipped"
                suite.reruns += case.reruns > 0
        self.cases.append(case)


def _float(value: str | None) -> float:
    try:
        return float((value or "0").replace(",", ""))
    except ValueError:
        return 0.0


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _judge(case: TestCase, results: list[Result]) -> None:
    tags = {r.tag for r in results}
    case.reruns = sum(r.tag in _RERUN or r.tag in _FLAKY for r in results)
    if tags & _ERROR and "failure" not in tags:
        case.outcome = "errored"
        culprit = _pick(results, ("error", "rerunError"))
    elif tags & _FAIL:
        case.outcome = "failed"
        culprit = _pick(results, ("failure", "rerunFailure"))
    elif "skipped" in tags:
        case.outcome = "skipped"
        culprit = _pick(results, ("skipped",))
    elif tags & _FLAKY:
        case.flaky = True
        culprit = _pick(results, ("flakyFailure", "flakyError"))
    else:  # pragma: no cover - results only holds result elements
        return
    if culprit is not None:
        body = culprit.text.value()
        if not body.strip():
            body = culprit.trace.value()
        case.message = (
            first_line(culprit.attrs.get("message")) or first_line(body) or culprit.attrs.get("type", "")
        )
        case.kind = culprit.attrs.get("type", "")
        if case.outcome != "skipped":
            case.details = body.strip()


def _pick(results: list[Result], order: tuple[str, ...]) -> Result | None:
    for tag in order:
        for result in results:
            if result.tag == tag:
                return result
    return None
