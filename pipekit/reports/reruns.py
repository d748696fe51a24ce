"""Which test runner a suite command is, and how it reruns only its failed tests.

- Maven (``mvn``, ``mvnw``): Surefire and Failsafe rerun failed tests *inside* the same run with
  ``-Dsurefire.rerunFailingTestsCount=N`` / ``-Dfailsafe.rerunFailingTestsCount=N`` and write
  ``flakyFailure``/``rerunFailure`` elements, which :mod:`pipekit.reports.surefire` reads.
- Playwright (``npx playwright test``, ``playwright test``): ``--last-failed`` reruns the tests
  that failed in the previous run (Playwright >= 1.44).
- pytest (``pytest``, ``python -m pytest``): ``--last-failed`` from its cache.

A test that failed and then passed on a rerun is *flaky*: counted as passed and reported as flaky,
never silently green. Other runners get no rerun (and the step says so).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from pipekit.reports.surefire import TestCase, TestSummary

MAVEN, PLAYWRIGHT, PYTEST, OTHER = "maven", "playwright", "pytest", "other"


def runner_of(command: Sequence[str]) -> str:
    if not command:
        return OTHER
    exe = os.path.basename(command[0])
    if exe in ("mvn", "mvnw", "mvn.cmd", "mvnw.cmd"):
        return MAVEN
    if exe in ("pytest", "py.test") or (exe.startswith("python") and list(command[1:3]) == ["-m", "pytest"]):
        return PYTEST
    words = [os.path.basename(w) for w in command[:4]]
    if "playwright" in words and "test" in command[words.index("playwright") + 1:words.index("playwright") + 2]:
        return PLAYWRIGHT
    return OTHER


def first_run(command: Sequence[str], rerun: int) -> list[str]:
    """The command of the first run (Maven gets its rerun count here)."""
    argv = list(command)
    if rerun and runner_of(argv) == MAVEN:
        argv += [f"-Dsurefire.rerunFailingTestsCount={rerun}", f"-Dfailsafe.rerunFailingTestsCount={rerun}"]
    return argv


def rerun_command(command: Sequence[str]) -> list[str] | None:
    """The command that reruns only the last run's failed tests, or None (Maven reruns in-run; others can't)."""
    if runner_of(command) in (PLAYWRIGHT, PYTEST):
        return [*command, "--last-failed"]
    return None


def key(case: TestCase) -> tuple[str, str]:
    return case.classname, case.name


def merge(attempts: Sequence[Sequence[TestCase]]) -> list[TestCase]:
    """One outcome per test over all attempts: the latest attempt that ran it decides; a test that
    failed earlier and passed later is passed and flaky."""
    merged: dict[tuple[str, str], TestCase] = {}
    for cases in attempts:
        for case in cases:
            before = merged.get(key(case))
            if before is not None and before.outcome in ("failed", "errored") and case.outcome == "passed":
                case = replace(case, flaky=True, message=before.message, kind=before.kind)
            merged[key(case)] = case
    return list(merged.values())


def summarize(cases: Sequence[TestCase], reports: int) -> TestSummary:
    summary = TestSummary(reports=reports)
    for case in cases:
        summary.add(case)
    summary.duration_s = round(summary.duration_s, 3)
    return summary


def failed_keys(cases: Sequence[TestCase]) -> list[tuple[str, str]]:
    return [key(c) for c in cases if c.outcome in ("failed", "errored")]
