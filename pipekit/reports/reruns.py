"""Which test runner a suite command is, and how it reruns only its failed tests.

- Maven (``mvn``, ``mvnw``): Surefire and Failsafe rerun failed tests *inside* the same run with
  ``-Dsurefire.rerunFailingTestsCount=N`` / ``-Dfailsafe.rerunFailingTestsCount=N`` and write
  ``flakyFailure``/``rerunFailure`` elements, which :mod:`pipekit.reports.surefire` reads.
- Playwright (``npx playwright test``, ``playwright test``): ``--last-failed`` reruns the tests
  that failed in the previous run (Playwright >= 1.44).
- pytest (``pytest``, ``python -m pytest``): ``--last-failed`` from its cache.
- jest (``jest``, ``npx jest``): ``--onlyFailures`` reruns the test files that failed (from its cache).

A test that failed and then passed on a rerun is *flaky*: counted as passed and reported as flaky,
never silently green (:func:`pipekit.reports.junit.merge_attempts`). Other runners get no rerun
(and the step says so).

:func:`report_env` is what every suite command gets so that its tool's JUnit tells what happened:
retries and suites that failed to load (unless the environment already sets them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

MAVEN, PLAYWRIGHT, PYTEST, JEST, OTHER = "maven", "playwright", "pytest", "jest", "other"


def runner_of(command: Sequence[str]) -> str:
    if not command:
        return OTHER
    exe = os.path.basename(command[0])
    if exe in ("mvn", "mvnw", "mvn.cmd", "mvnw.cmd"):
        return MAVEN
    if exe in ("pytest", "py.test") or (exe.startswith("python") and list(command[1:3]) == ["-m", "pytest"]):
        return PYTEST
    words = [os.path.basename(w) for w in command[:4]]
    if (
        "playwright" in words
        and "test" in command[words.index("playwright") + 1 : words.index("playwright") + 2]
    ):
        return PLAYWRIGHT
    if "jest" in words or "jest.js" in words:
        return JEST
    return OTHER


def first_run(command: Sequence[str], rerun: int) -> list[str]:
    """The command of the first run (Maven gets its rerun count here)."""
    argv = list(command)
    if rerun and runner_of(argv) == MAVEN:
        argv += [f"-Dsurefire.rerunFailingTestsCount={rerun}", f"-Dfailsafe.rerunFailingTestsCount={rerun}"]
    return argv


def rerun_command(command: Sequence[str]) -> list[str] | None:
    """The command that reruns only the last run's failed tests, or None
    (Maven reruns in-run; others can't)."""
    runner = runner_of(command)
    if runner in (PLAYWRIGHT, PYTEST):
        return [*command, "--last-failed"]
    if runner == JEST:
        return [*command, "--onlyFailures"]
    return None


# jest-junit writes a test case's properties from this module: how many times jest ran the test
# (more than once: jest.retryTimes retried it), its status (a test.todo looks passed otherwise) and,
# with retryTimes(n, {logErrorsBeforeRetry: true}), the first line of the first failed attempt's error.
JEST_PROPERTIES = """module.exports = (tc) => Object.assign(
  { invocations: String(tc.invocations ?? 1), status: String(tc.status) },
  tc.retryReasons && tc.retryReasons.length ? \
{ retryReason: String(tc.retryReasons[0]).split("\\n")[0] } : {});
"""


def report_env(env: Mapping[str, str], scratch: Path) -> dict[str, str]:
    """Variables that make the test tools' JUnit reports tell retries and load failures, added to
    ``env`` where it does not set them: Playwright's ``includeRetries``, jest-junit's suite errors
    and its test-case properties file (``invocations``, ``status``). Harmless to other commands."""
    extra: dict[str, str] = {}
    if "PLAYWRIGHT_JUNIT_INCLUDE_RETRIES" not in env:
        extra["PLAYWRIGHT_JUNIT_INCLUDE_RETRIES"] = "1"
    if "JEST_JUNIT_REPORT_TEST_SUITE_ERRORS" not in env:
        extra["JEST_JUNIT_REPORT_TEST_SUITE_ERRORS"] = "true"
    if (
        "JEST_JUNIT_TEST_CASE_PROPERTIES_JSON_FILE" not in env
        and "JEST_JUNIT_TEST_CASE_PROPERTIES_DIR" not in env
    ):
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / "pipekit-jest-properties.js").write_text(JEST_PROPERTIES, encoding="utf-8")
        extra["JEST_JUNIT_TEST_CASE_PROPERTIES_DIR"] = str(scratch)
        extra["JEST_JUNIT_TEST_CASE_PROPERTIES_JSON_FILE"] = "pipekit-jest-properties.js"
    return {**env, **extra}
