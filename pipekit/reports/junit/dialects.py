"""The dialects real test tools write, and what the one reader does with each one's quirks.

Each :class:`Dialect` recognises its tool's reports (:meth:`Dialect.matches`), turns what the tool
wrote into one test case per test with the same meaning everywhere (:meth:`Dialect.adapt`), and
says whether the tool's counters can be trusted to agree with its cases (:attr:`Dialect.counters`).
The test cases decide the outcome. Counters are only cross-checked for the tools whose counters
are consistent (Surefire without reruns, Playwright, Cucumber); elsewhere they are never a reason
to refuse a report. Each adapter's quirks were checked against the real tool
(tests/reports/test_junit_tools.py); docs/post_sync_test.md has one table per tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipekit.core.errors import BadInput
from pipekit.reports.junit.model import TestCase
from pipekit.reports.junit.parser import Report, Suite, first_line


@dataclass
class Adapted:
    cases: list[TestCase]
    unlisted_skipped: int = 0  # skipped tests counted by the tool but not written as cases


class Dialect:
    name = "generic"
    counters = False  # the tool's counters always agree with its cases: a disagreement is bad input

    def matches(self, report: Report) -> bool:
        return True

    def adapt(self, report: Report) -> Adapted:
        return Adapted(report.cases)


class Surefire(Dialect):
    """Maven Surefire/Failsafe (3.x writes its schema location on the root ``<testsuite>``).

    With ``rerunFailingTestsCount``, ``tests=`` counts the last rerun round only and ``skipped=``
    can be 0 beside a ``<skipped/>`` case: such a suite's counters are not checked."""

    name = "surefire"
    counters = True

    def matches(self, report: Report) -> bool:
        return "surefire" in report.root_attrs.get("xsi:noNamespaceSchemaLocation", "")


class Playwright(Dialect):
    """Playwright's ``junit`` reporter: ``<testsuites id=".." name="..">``, one suite per spec file and
    project (the project in ``hostname``). Retries appear only with ``includeRetries`` (or
    ``PLAYWRIGHT_JUNIT_INCLUDE_RETRIES=1``, which post-sync-test sets), as Surefire's elements."""

    name = "playwright"
    counters = True

    def matches(self, report: Report) -> bool:
        return (
            report.root == "testsuites"
            and "id" in report.root_attrs
            and any("hostname" in s.attrs for s in report.suites[1:2])
        )

    def adapt(self, report: Report) -> Adapted:
        projects = {s.attrs.get("hostname") or "" for s in report.suites if s.tag == "testsuite"}
        if len(projects) > 1:  # the same test in several projects: tell them apart
            for suite in report.suites:
                project = suite.attrs.get("hostname")
                for case in (
                    report.cases[suite.first : suite.end] if project and suite.tag == "testsuite" else ()
                ):
                    if not case.name.startswith(f"[{project}] "):
                        case.name = f"[{project}] {case.name}"
        return Adapted(report.cases)


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NEWMAN_ERROR = re.compile(r"^(\w*Error)\b:?\s*(.*)$")
_NEWMAN_KIND = {
    "RequestError": "request failed",
    "testScriptError": "test script failed",
    "prerequestScriptError": "pre-request script failed",
}


class Newman(Dialect):
    """Newman's ``junit`` reporter: one suite per request (with a UUID ``id``), one case per
    ``pm.test``. The root's ``tests=`` counts test scripts run, not cases; request errors and
    test-script errors appear only in the suite's ``errors=`` and ``<system-err>``: each such
    suite gets one errored case, named after the request and the kind of error.
    ``pm.test.skip`` is written as a passing case (nothing tells it apart)."""

    name = "newman"

    def matches(self, report: Report) -> bool:
        return any(_UUID.match(s.attrs.get("id") or "") for s in report.suites[1:2])

    def adapt(self, report: Report) -> Adapted:
        cases = report.cases
        for (
            case
        ) in cases:  # Newman's classname is the request name squashed ("GetOrder"); the suite's is its own
            if case.suite:
                case.classname = case.suite
        extra: list[TestCase] = []
        for suite in report.suites:
            declared = _int(suite.attrs.get("errors"))
            if suite.tag == "testsuite" and declared > suite.errored:
                extra.append(_newman_error(report, suite))
        return Adapted(cases + extra if extra else cases)


def _newman_error(report: Report, suite: Suite) -> TestCase:
    kind, message = "", ""
    for line in suite.system_err.splitlines():
        m = _NEWMAN_ERROR.match(line.strip())
        if m:
            kind, message = m.group(1), line.strip()
            break
    what = _NEWMAN_KIND.get(kind, "error")
    return TestCase(
        suite.name,
        what,
        "errored",
        message=message
        or f"{suite.attrs.get('errors')} error(s) recorded outside any test (see the report's system-err)",
        kind=kind,
        details=suite.system_err.strip(),
        report=str(report.path),
        suite=suite.name,
    )


class Pytest(Dialect):
    """pytest's ``--junit-xml``. pytest-rerunfailures writes every rerun as an extra, *bare* case
    with the same name before the final one (the failure of the rerun attempt is not written), so
    the last occurrence decides and an earlier one means it failed before: flaky when the last
    passed. A test whose call failed and whose teardown errored is written twice (failure, then
    error): one failed test. ``xfail`` is ``<skipped type="pytest.xfail">``: skipped."""

    name = "pytest"

    def matches(self, report: Report) -> bool:
        return report.root_attrs.get("name") == "pytest tests" or any(
            s.name == "pytest" and s.tag == "testsuite" for s in report.suites[:2]
        )

    def adapt(self, report: Report) -> Adapted:
        groups: dict[tuple[str, str, str], list[TestCase]] = {}
        for case in report.cases:
            groups.setdefault((case.suite, case.classname, case.name), []).append(case)
        if len(groups) == len(report.cases):
            return Adapted(report.cases)
        return Adapted([_last_decides(group) if len(group) > 1 else group[0] for group in groups.values()])


def _last_decides(group: list[TestCase]) -> TestCase:
    # the final attempt: the trailing entries with a result element (a failed call and a failed
    # teardown are two entries of one attempt); bare entries before it are rerun attempts
    final = len(group) - 1
    while final > 0 and group[final - 1].outcome != "passed" and group[final].outcome != "passed":
        final -= 1
    last, attempt = group[-1], group[final:]
    reruns = final
    if last.outcome == "passed":
        last.flaky = reruns > 0
        last.reruns = reruns
        if last.flaky:
            last.message = (
                f"failed before passing on attempt {reruns + 1} (pytest-rerunfailures does not "
                "write the failed attempts' errors)"
            )
        return last
    culprit = next((c for c in attempt if c.outcome == "failed"), None) or next(
        (c for c in attempt if c.failing), attempt[0]
    )
    culprit.reruns = reruns
    culprit.time_s = sum(c.time_s for c in attempt)
    return culprit


class Jest(Dialect):
    """jest-junit. ``test.todo`` is a bare case left out of ``tests=``; a test file that fails to
    load is dropped unless ``reportTestSuiteErrors`` (post-sync-test sets
    ``JEST_JUNIT_REPORT_TEST_SUITE_ERRORS=true``), then written as two cases named after the file
    under ``Test suite failed to run``: one errored case here. Retries (``jest.retryTimes``) leave
    no trace unless a test-case properties file writes ``invocations`` (post-sync-test installs
    one): more than one invocation of a passed test is flaky. ``classname`` repeats ``name``."""

    name = "jest"
    SUITE_FAILED = "Test suite failed to run"

    def matches(self, report: Report) -> bool:
        return report.root_attrs.get("name") == "jest tests" or any(
            c.classname == self.SUITE_FAILED for c in report.cases[:1000]
        )

    def adapt(self, report: Report) -> Adapted:
        out: list[TestCase] = []
        for case in report.cases:
            if case.classname == self.SUITE_FAILED:
                if out and out[-1].name == self.SUITE_FAILED and out[-1].classname == case.suite:
                    continue  # the second entry jest-junit writes for the same failure
                lines = [ln.strip() for ln in case.details.splitlines() if ln.strip()]
                message = next((ln for ln in lines if self.SUITE_FAILED not in ln), case.message)
                out.append(
                    TestCase(
                        case.suite or case.name,
                        self.SUITE_FAILED,
                        "errored",
                        message=message,
                        kind=case.kind,
                        details=case.details,
                        report=case.report,
                        suite=case.suite,
                    )
                )
                continue
            case.classname, case.name = _one_title(case.classname, case.name)
            props = case.props or {}
            if props.get("status") == "todo":
                case.outcome, case.message = "skipped", "todo"
            invocations = _int(props.get("invocations"))
            if invocations > 1:
                case.reruns = invocations - 1
                if case.outcome == "passed":
                    case.flaky = True
                    case.message = (
                        props.get("retryReason")
                        or f"failed before passing on attempt {invocations} "
                        "(jest.retryTimes; logErrorsBeforeRetry keeps the error)"
                    )
            out.append(case)
        return Adapted(out)


_HOOK = re.compile(r'"(before|after) (each|all)" hook')


class Mocha(Dialect):
    """mocha-junit-reporter. Pending (``it.skip``) tests are counted in ``tests=``/``skipped=`` but not
    written (``includePending`` writes them): counted here as skipped without names. An empty
    "Root Suite" is written first. A failed hook is a case of its own
    (``"before each" hook for "..."``): errored. mocha exits with the number of failures."""

    name = "mocha"

    def matches(self, report: Report) -> bool:
        return report.root_attrs.get("name") == "Mocha Tests" or any(
            s.name == "Root Suite" for s in report.suites[:3]
        )

    def adapt(self, report: Report) -> Adapted:
        for case in report.cases:
            case.classname, case.name = _one_title(case.classname, case.name)
            if case.failing and _HOOK.search(case.name):
                case.outcome = "errored"
        written = sum(c.outcome == "skipped" for c in report.cases)
        declared = _int(report.root_attrs.get("skipped")) if report.root == "testsuites" else 0
        return Adapted(report.cases, unlisted_skipped=max(0, declared - written))


class Cucumber(Dialect):
    """cucumber-js's ``junit`` formatter: a bare ``<testsuite name="Cucumber">``, a case per scenario,
    outline examples named ``<outline> - <examples> - #1.2``. An undefined, pending or ambiguous
    step is an empty ``<failure/>``. ``--retry`` leaves only the last attempt in the report."""

    name = "cucumber"
    counters = True

    def matches(self, report: Report) -> bool:
        return report.root == "testsuite" and report.root_attrs.get("name") == "Cucumber"

    def adapt(self, report: Report) -> Adapted:
        for case in report.cases:
            if case.outcome == "failed" and not case.message and not case.details:
                case.message = "a step is undefined, pending or ambiguous (no error was raised)"
        return Adapted(report.cases)


DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (Surefire(), Playwright(), Newman(), Pytest(), Jest(), Mocha(), Cucumber(), Dialect())
}
NAMES = ("auto", *DIALECTS)


def detect(report: Report) -> Dialect:
    return next(d for d in DIALECTS.values() if d.matches(report))


def dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise BadInput(f"unknown JUnit dialect {name!r}: one of {', '.join(NAMES)}") from None


def check_counters(report: Report, d: Dialect) -> None:
    """For a dialect whose counters are consistent: every suite's ``tests=`` is the number of cases it
    holds, and ``failures``/``errors``/``skipped`` are zero exactly when no case inside has that
    outcome and never fewer than the cases that do. Suites with rerun elements are exempt (Surefire
    counts one round there)."""
    if not d.counters:
        return
    for suite in report.suites:
        if suite.reruns:
            continue
        where = (
            f"{report.path}:{suite.line}: <{suite.tag}"
            + (f" name={suite.name!r}" if suite.name else "")
            + ">"
        )
        tests = _declared(suite, "tests", where)
        if tests is not None and tests != suite.tests:
            raise BadInput(
                f"{where} says tests={tests} but holds {suite.tests} test case(s), which {d.name} "
                "never writes: the report was cut short or edited",
                hint=f"rerun the suite; if the tool is not {d.name}, pass --junit-dialect generic",
            )
        for attr, found in (
            ("failures", suite.failed),
            ("errors", suite.errored),
            ("skipped", suite.skipped),
        ):
            declared = _declared(suite, attr, where)
            if declared is not None and ((declared == 0) != (found == 0) or declared < found):
                raise BadInput(
                    f"{where} says {attr}={declared} but {found} test case(s) inside have that "
                    f"outcome, which {d.name} never writes: the report was cut short or edited",
                    hint=f"rerun the suite; if the tool is not {d.name}, pass --junit-dialect generic",
                )


def _declared(suite: Suite, name: str, where: str) -> int | None:
    raw = suite.attrs.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return int(float(raw.replace(",", "")))
    except ValueError:
        raise BadInput(f"{where}: {name}={raw!r} is not a number") from None


def _int(raw: str | None) -> int:
    try:
        return int(float((raw or "0").replace(",", "")))
    except ValueError:
        return 0


def _one_title(classname: str, name: str) -> tuple[str, str]:
    """jest-junit and mocha-junit-reporter repeat the title in both attributes: keep the full one."""
    c, n = classname.strip(), name.strip()
    if c and n and (c in n or n in c):
        return "", n if len(n) >= len(c) else c
    return c, n


__all__ = ["DIALECTS", "NAMES", "Adapted", "Dialect", "check_counters", "detect", "dialect", "first_line"]
