"""What a JUnit report says, once read: one :class:`TestCase` per test, one :class:`TestSummary` per run.

Outcomes are Surefire's words: ``passed``, ``failed`` (an assertion: ``<failure>``), ``errored``
(anything else that broke: ``<error>``, or an error a tool records outside any test case) and
``skipped``. ``flaky`` is not an outcome: a flaky test passed, after failing at least once
(a rerun by the tool or by ``--rerun-failed``), and it is counted as passed *and* as flaky.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAILING = ("failed", "errored")


@dataclass(slots=True)
class TestCase:
    __test__ = False  # not a pytest test class

    classname: str
    name: str
    outcome: str  # passed | failed | errored | skipped
    message: str = ""
    time_s: float = 0.0
    flaky: bool = False
    kind: str = ""  # the element's type (e.g. org.opentest4j.AssertionFailedError)
    details: str = ""  # stack trace or failure text (failed, errored and flaky tests only)
    report: str = ""  # the file it came from
    suite: str = ""  # the name of the <testsuite> around it
    reruns: int = 0  # failed attempts the tool recorded before the last one
    props: dict[str, str] | None = None  # the test case's own <property> elements

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING

    @property
    def title(self) -> str:
        """``class.name`` as the card and the messages show it."""
        return ".".join(p for p in (self.classname, self.name) if p)


RECORDED = 50  # failing (or flaky) tests named in the run record and on the card
RECORDED_MESSAGE = 500  # characters of each one's message kept there


def _first(tests: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**t, "message": (t.get("message") or "")[:RECORDED_MESSAGE]} for t in tests[:RECORDED]]


@dataclass
class TestSummary:
    __test__ = False

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
    dialects: list[str] = field(default_factory=list)  # the dialect of each report read, once each

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
        if case.failing:
            self.failing.append({"class": case.classname, "name": case.name, "message": case.message})
        elif case.flaky and case.outcome == "passed":
            self.flaky += 1
            self.flaky_tests.append({"class": case.classname, "name": case.name, "message": case.message})

    def add_unlisted_skipped(self, count: int) -> None:
        """Skipped tests a report counts but does not list (mocha's pending tests)."""
        self.total += count
        self.skipped += count

    def to_record(self) -> dict[str, Any]:
        """The run record's ``tests`` shape (build and post-sync-test): the counts, and the first
        :data:`RECORDED` failing and flaky tests (messages cut to :data:`RECORDED_MESSAGE` characters)
        with how many there are: 200,000 failures must not make a 29 MB record every later step reads."""
        record: dict[str, Any] = {
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "errored": self.errored,
            "skipped": self.skipped,
            "flaky": self.flaky,
            "duration_s": round(self.duration_s, 3),
            "failing": _first(self.failing),
            "failing_count": len(self.failing),
            "flaky_tests": _first(self.flaky_tests),
        }
        if self.dialects:
            record["dialect"] = ", ".join(self.dialects)
        return record
