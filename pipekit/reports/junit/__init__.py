"""The one JUnit reader, for ``build`` (Surefire/Failsafe) and ``post-sync-test`` (any suite).

- :func:`find`: the JUnit files under a folder (``--junit-dir``);
- :func:`read`: files -> a :class:`Reading` (each file parsed by :mod:`.parser`, its dialect
  detected or named, its quirks adapted by :mod:`.dialects`, counters checked where the dialect's
  are consistent);
- :func:`merge_attempts` and :func:`summarize`: one outcome per test over reruns, into a
  :class:`~.model.TestSummary`.

A test that failed and then passed is flaky, the same way whoever reran it: the tool itself
(Surefire's ``flakyFailure``, Playwright with retries, pytest-rerunfailures' repeated cases,
jest's invocations) or ``--rerun-failed`` (a later attempt of the whole command).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipekit.reports.junit.dialects import NAMES, check_counters, detect, dialect
from pipekit.reports.junit.model import TestCase, TestSummary
from pipekit.reports.junit.parser import first_line, parse

__all__ = [
    "NAMES",
    "Reading",
    "TestCase",
    "TestSummary",
    "find",
    "first_line",
    "merge_attempts",
    "read",
    "read_summary",
    "root_element",
    "summarize",
]


@dataclass
class Reading:
    """What a set of report files says: every test case (dialects adapted) and what else they count."""

    cases: list[TestCase] = field(default_factory=list)
    reports: int = 0
    unlisted_skipped: int = 0
    dialects: list[str] = field(default_factory=list)


def read(paths: Iterable[Path], *, dialect_name: str = "auto", check: bool = True) -> Reading:
    """Read every report. ``dialect_name``: ``auto`` (detected per file) or one of :data:`NAMES`.
    With ``check``, a report of a dialect whose counters are consistent and disagree is bad input."""
    reading = Reading()
    forced = None if dialect_name == "auto" else dialect(dialect_name)
    for path in paths:
        report = parse(path)
        d = forced or detect(report)
        if check:
            check_counters(report, d)
        adapted = d.adapt(report)
        reading.reports += 1
        reading.unlisted_skipped += adapted.unlisted_skipped
        if d.name not in reading.dialects:
            reading.dialects.append(d.name)
        if reading.cases:
            reading.cases.extend(adapted.cases)
        else:
            reading.cases = adapted.cases
    return reading


def summarize(
    cases: Iterable[TestCase], *, reports: int = 0, unlisted_skipped: int = 0, dialects: Sequence[str] = ()
) -> TestSummary:
    summary = TestSummary(reports=reports, dialects=list(dialects))
    for case in cases:
        summary.add(case)
    if unlisted_skipped:
        summary.add_unlisted_skipped(unlisted_skipped)
    summary.duration_s = round(summary.duration_s, 3)
    return summary


def read_summary(
    paths: Iterable[Path], *, keep_cases: bool = False, dialect_name: str = "auto", check: bool = False
) -> tuple[TestSummary, list[TestCase]]:
    """Read every report into one summary; with ``keep_cases`` also return every test case."""
    reading = read(paths, dialect_name=dialect_name, check=check)
    summary = summarize(
        reading.cases,
        reports=reading.reports,
        unlisted_skipped=reading.unlisted_skipped,
        dialects=reading.dialects,
    )
    return summary, reading.cases if keep_cases else []


def key(case: TestCase, occurrence: int = 0) -> tuple[str, str, str, int]:
    return case.suite, case.classname, case.name, occurrence


def keys(cases: Iterable[TestCase]) -> Iterable[tuple[tuple[str, str, str, int], TestCase]]:
    """Each case with its key; two cases of one report under the same name are told apart by order."""
    seen: dict[tuple[str, str, str, int], int] = {}
    for case in cases:
        base = key(case)
        n = seen.get(base, 0)
        seen[base] = n + 1
        yield (key(case, n) if n else base), case


def merge_attempts(attempts: Sequence[Sequence[TestCase]]) -> list[TestCase]:
    """One outcome per test over every run of the command: the latest run that ran it decides, and a
    test that failed in an earlier run and passed in a later one is passed and flaky."""
    if len(attempts) == 1:
        return list(attempts[0])
    merged: dict[tuple[str, str, str, int], TestCase] = {}
    for cases in attempts:
        for k, case in keys(cases):
            before = merged.get(k)
            if before is not None and case.outcome == "passed" and (before.failing or before.flaky):
                case = replace(
                    case,
                    flaky=True,
                    message=before.message,
                    kind=before.kind,
                    details=before.details,
                    reruns=case.reruns + before.reruns + 1,
                )
            merged[k] = case
    return list(merged.values())


def failed_keys(cases: Iterable[TestCase]) -> list[tuple[str, str, str, int]]:
    return [k for k, c in keys(cases) if c.failing]


def find(root: Path, *, newer_than: float | None = None) -> list[Path]:
    """Every JUnit ``*.xml`` under ``root`` (sorted), skipping hidden folders and ``node_modules``;
    with ``newer_than``, only files written since then (a report left by an earlier run is not this run's).

    XML files with another root element (Failsafe's ``failsafe-summary.xml``, a runner's config) are
    left out; a file whose root cannot be told (truncated, not XML) is kept, for the reader to refuse.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
        for name in filenames:
            if name.endswith(".xml"):
                path = Path(dirpath, name)
                if (newer_than is None or path.stat().st_mtime >= newer_than) and root_element(path) in (
                    None,
                    "testsuite",
                    "testsuites",
                ):
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

    def refuse(*_: object) -> None:  # a DTD: let the reader say why it refuses the file
        raise StopIteration

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = refuse
    try:
        with open(path, "rb") as fh:
            parser.Parse(fh.read(65536), False)
    except (StopIteration, expat.ExpatError, OSError):
        pass
    return seen[0] if seen else None
