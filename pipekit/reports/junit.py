"""JUnit reports of any suite: finding them under ``--junit-dir`` (:func:`find`), and
whether a report's counters agree (:func:`check`).

Do a JUnit report's counters agree with its test cases? A crashed, killed or truncated suite
often leaves counters (``tests="40"``) over far fewer ``<testcase>`` elements, or says
``failures="2"`` over cases that all passed: believe neither, stop with exit 2.

The rules, per element, where the attribute is present:

- ``<testsuite tests="N">``: exactly N test cases inside it (nested suites included);
- ``<testsuites tests="N">``: at least the test cases inside it. Newman's root counts every
  assertion of every iteration (``-n 2`` doubles it) while its suites hold each assertion once;
- ``failures``, ``errors``, ``skipped``: zero exactly when no case inside has that outcome, and
  never fewer than the cases that do. Newman counts a failing assertion once per iteration
  (``Failed 2 times.``), and pytest may count one test's call failure and teardown error both.
  A suite with Surefire's rerun elements (``rerunFailure``, ``flakyError``, ...) is exempt from
  the ``failures``/``errors`` rule: Surefire's counters are not reliable once tests are rerun.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipekit.core.errors import BadInput


@dataclass
class SuiteCount:
    """A ``<testsuite>``/``<testsuites>`` element: its declared counters and the test cases inside it
    (counted by :func:`pipekit.reports.surefire.read_file` as it parses)."""

    tag: str
    attrs: dict[str, str]
    line: int
    tests: int = 0
    failed: int = 0
    errored: int = 0
    skipped: int = 0
    reruns: int = 0  # cases with Surefire's rerun*/flaky* elements

    def count(self, *, failed: bool, errored: bool, skipped: bool, rerun: bool) -> None:
        self.tests += 1
        self.failed += failed
        self.errored += errored
        self.skipped += skipped
        self.reruns += rerun


def find(root: Path, *, newer_than: float | None = None) -> list[Path]:
    """Every JUnit ``*.xml`` under ``root`` (sorted), skipping hidden folders and ``node_modules``;
    with ``newer_than``, only files written since then (a report left by an earlier run is not this run's).

    XML files with another root element (Failsafe's ``failsafe-summary.xml``, a runner's config) are
    left out; a file whose root cannot be told (truncated, not XML) is kept, for the reader to refuse.
    """
    import os

    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
        for name in filenames:
            if name.endswith(".xml"):
                path = Path(dirpath, name)
                if (newer_than is None or path.stat().st_mtime >= newer_than) \
                        and root_element(path) in (None, "testsuite", "testsuites"):
                    found.append(path)
    return sorted(found)


def root_element(path: Path) -> str | None:
    """The root element's name, read from the file's start; None when it cannot be told."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    seen: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        seen.append(tag)
        raise StopIteration

    parser.StartElementHandler = start
    try:
        with open(path, "rb") as fh:
            parser.Parse(fh.read(65536), False)
    except (StopIteration, expat.ExpatError, OSError):
        pass
    return seen[0] if seen else None


def _declared(suite: SuiteCount, name: str, where: str) -> int | None:
    raw = suite.attrs.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return int(float(raw.replace(",", "")))
    except ValueError:
        raise BadInput(f"{where}: {name}={raw!r} is not a number") from None


def _where(path: Path, suite: SuiteCount) -> str:
    name = suite.attrs.get("name")
    return f"{path}:{suite.line}: <{suite.tag}" + (f" name={name!r}" if name else "") + ">"


def check(path: Path, suites: list[SuiteCount]) -> None:
    for suite in suites:
        where = _where(path, suite)
        tests = _declared(suite, "tests", where)
        if tests is not None and (tests != suite.tests if suite.tag == "testsuite" else tests < suite.tests):
            raise BadInput(f"{where} says tests={tests} but holds {suite.tests} test case(s): "
                           "the counters disagree with the test cases (a crashed or truncated run?)",
                           hint="rerun the suite; do not trust this report")
        for name, found in (("failures", suite.failed), ("errors", suite.errored), ("skipped", suite.skipped)):
            if suite.reruns and name != "skipped":
                continue
            declared = _declared(suite, name, where)
            if declared is not None and ((declared == 0) != (found == 0) or declared < found):
                raise BadInput(f"{where} says {name}={declared} but {found} test case(s) inside have that "
                               "outcome: the counters disagree with the test cases",
                               hint="rerun the suite; do not trust this report")
