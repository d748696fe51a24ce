"""Run a test suite command, rerun its failed tests, and read what it reported.

The command runs through :mod:`pipekit.core.process` with its output streamed line by line. After
each attempt the JUnit files written under the report folder since the attempt started are read
(each in its dialect, counters checked where the dialect's are consistent) and copied aside, so
that a rerun overwriting them loses nothing: every attempt's files are kept for the upload
(``attempt-1/...``). The outcome of each test is that of the last attempt that ran it
(:func:`pipekit.reports.junit.merge_attempts`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import BadInput
from pipekit.reports import junit, reruns
from pipekit.reports.junit import Reading, TestCase, TestSummary


@dataclass
class Attempt:
    argv: list[str]
    exit_code: int
    reports: list[Path]
    reading: Reading
    started: float  # monotonic

    @property
    def cases(self) -> list[TestCase]:
        return self.reading.cases


@dataclass
class SuiteRun:
    runner: str
    attempts: list[Attempt] = field(default_factory=list)
    summary: TestSummary = field(default_factory=TestSummary)
    files: dict[str, Path] = field(default_factory=dict)  # relative upload key -> kept copy
    rerun_unsupported: bool = False

    @property
    def exit_code(self) -> int:
        return self.attempts[-1].exit_code if self.attempts else -1


def run_suite(
    command: Sequence[str],
    junit_dir: Path,
    keep: Path,
    *,
    rerun: int = 0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    stream: Callable[[str], None] | None = None,
    on_attempt: Callable[[int, list[str]], None] | None = None,
    on_started: Callable[[], None] | None = None,
    dialect: str = "auto",
) -> SuiteRun:
    """Run ``command`` (then up to ``rerun`` reruns of its failed tests); the merged summary.

    No report after the first run, or reports with no test case at all, is :class:`BadInput`; so is
    a report that is not well-formed or safe XML, or whose counters disagree with its test cases
    where its dialect (``dialect``: named, or detected per file) always writes them consistently.
    """
    result = SuiteRun(reruns.runner_of(command))
    argv = reruns.first_run(command, rerun)
    again = reruns.rerun_command(command)
    result.rerun_unsupported = bool(rerun) and again is None and result.runner != reruns.MAVEN
    for number in range(1, 2 + (rerun if again else 0)):
        if on_attempt is not None:
            on_attempt(number, argv)
        wall, started = time.time(), time.monotonic()
        if number == 1 and on_started is not None:
            on_started()
        done = process.run(
            argv,
            env=env,
            cwd=cwd,
            timeout=timeout,
            check=False,
            stream=stream,
            what=f"the suite command ({process.describe(argv)})",
        )
        since = wall - (1.0 if number == 1 else 0.0)  # a rerun: only the files it rewrote
        reports = junit.find(junit_dir, newer_than=since) if junit_dir.is_dir() else []
        if not reports:
            if number == 1:
                raise BadInput(
                    f"{junit_dir}: the suite wrote no JUnit report (command exit {done.returncode})",
                    hint="point --junit-dir at where the runner writes JUnit XML, and enable its "
                    "JUnit reporter",
                    result=result,
                )
            break  # a rerun that ran nothing (all passed meanwhile) adds nothing
        reading = junit.read(reports, dialect_name=dialect)
        result.attempts.append(Attempt(list(argv), done.returncode, reports, reading, started))
        for path in reports:
            rel = f"attempt-{number}/{path.relative_to(junit_dir).as_posix()}"
            copy = keep / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
            result.files[rel] = copy
        if again is None or not junit.failed_keys(reading.cases):
            break
        argv = list(again)
    first = result.attempts[0].reading
    dialects = list(dict.fromkeys(d for a in result.attempts for d in a.reading.dialects))
    result.summary = junit.summarize(
        junit.merge_attempts([a.cases for a in result.attempts]),
        reports=sum(len(a.reports) for a in result.attempts),
        unlisted_skipped=first.unlisted_skipped,
        dialects=dialects,
    )
    if result.summary.total == 0:
        raise BadInput(
            f"{junit_dir}: the JUnit report(s) hold no test case "
            f"({', '.join(p.name for p in result.attempts[0].reports)})",
            hint="check the suite selected any test for this environment",
            result=result,
        )
    return result


def health_suite(
    urls: Sequence[str],
    junit_dir: Path,
    keep: Path,
    *,
    suite: str,
    deadline: float,
    say: Callable[[str], None] | None = None,
) -> SuiteRun:
    """Each URL must answer 2xx before ``deadline`` (monotonic): one JUnit test case per URL, in
    ``junit_dir/health.xml``, read back like any suite's report (so it is judged and uploaded the same)."""
    from xml.sax.saxutils import quoteattr

    from pipekit.core.errors import TimedOut
    from pipekit.core.masking import mask_url
    from pipekit.kube.health import wait_healthy

    started = time.monotonic()
    cases = []
    for url in urls:
        began = time.monotonic()
        failure = ""
        try:
            wait_healthy([url], deadline, on_progress=say)
        except TimedOut as exc:
            failure = exc.message
        took = time.monotonic() - began
        body = f'<failure message={quoteattr(failure)} type="NotHealthy"/>' if failure else ""
        cases.append((f"answers 2xx: {mask_url(url)}", took, body))
    failures = sum(1 for _, _, body in cases if body)
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name={quoteattr(suite)} tests="{len(cases)}" '
        f'failures="{failures}" errors="0" skipped="0" time="{time.monotonic() - started:.3f}">\n'
        + "".join(
            f'  <testcase classname="health" name={quoteattr(name)} time="{took:.3f}">{body}</testcase>\n'
            for name, took, body in cases
        )
        + "</testsuite>\n"
    )
    junit_dir.mkdir(parents=True, exist_ok=True)
    report = junit_dir / "health.xml"
    report.write_text(xml, encoding="utf-8")
    result = SuiteRun("health")
    reading = junit.read([report])
    result.attempts.append(Attempt(["health-check", *urls], 0, [report], reading, started))
    copy = keep / "attempt-1" / report.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(report, copy)
    result.files[f"attempt-1/{report.name}"] = copy
    result.summary = junit.summarize(
        junit.merge_attempts([reading.cases]),
        reports=1,
        unlisted_skipped=reading.unlisted_skipped,
        dialects=list(reading.dialects),
    )
    return result
