"""Surefire/Failsafe reader and the merged JUnit writer, on report files shaped like Surefire 3's."""

from __future__ import annotations

import os
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput, ExitCode
from pipekit.reports import junit, junit_merge, surefire

REPORTS = Path(__file__).parents[1] / "fixtures" / "java" / "reports"
SERVICE = Path(__file__).parents[1] / "fixtures" / "java" / "service"


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPORTS, root)
    return root


def _by_name(cases: list[junit.TestCase]) -> dict[str, junit.TestCase]:
    return {c.name: c for c in cases}


def test_finds_surefire_and_failsafe_reports_of_every_module(reports: Path) -> None:
    paths, stale = surefire.find_reports(reports)
    names = sorted(p.name for p in paths)
    assert names == [
        "TEST-com.acme.OrderIT.xml",
        "TEST-com.acme.OrderServiceTest.xml",
        "TEST-com.acme.RetryTest.xml",
    ]
    assert stale == 0  # failsafe-summary.xml is not a test report and is not counted


def test_summary_counts_follow_the_testcases(reports: Path) -> None:
    paths, _ = surefire.find_reports(reports)
    summary, cases = junit.read_summary(paths, keep_cases=True)
    # OrderServiceTest: 2 passed, 2 failed, 1 errored, 1 skipped; RetryTest: 2 flaky (passed),
    # 2 failed (failure+rerun, rerun only), 1 errored (rerunError only); OrderIT: 1 passed, 1 failed
    assert (
        summary.total,
        summary.passed,
        summary.failed,
        summary.errored,
        summary.skipped,
        summary.flaky,
    ) == (13, 5, 5, 2, 1, 2)
    assert summary.reports == 3
    assert summary.duration_s == pytest.approx(5.65)
    assert not summary.ok
    by = _by_name(cases)
    assert by["flakyThenPassed"].outcome == "passed" and by["flakyThenPassed"].flaky
    assert by["flakyErrorThenPassed"].message == "socket closed"
    assert by["failedEveryRun"].outcome == "failed" and not by["failedEveryRun"].flaky
    assert by["onlyRerunFailures"].outcome == "failed"
    assert by["onlyRerunFailures"].message == "wrong on the rerun"
    assert by["onlyRerunErrors"].outcome == "errored"
    assert (
        by["onlyRerunErrors"].message
        == "java.lang.IllegalStateException: no message attribute, first line of the trace"
    )


def test_failing_list_has_class_name_and_first_line_of_message(reports: Path) -> None:
    summary, _ = junit.read_summary(surefire.find_reports(reports)[0])
    failing = {(f["class"], f["name"]): f["message"] for f in summary.failing}
    assert failing[("com.acme.OrderServiceTest", "talksToTheDatabase")] == "Connection refused"
    assert (
        failing[("com.acme.OrderServiceTest", "rejectsNegativeQuantity")] == "expected: <400> but was: <200>"
    )
    assert (
        failing[("com.acme.OrderServiceTest", "noMessageAttribute")]
        == "java.lang.AssertionError: totals differ"
    )
    assert failing[("com.acme.OrderIT", "survivesRestart")] == "order lost after restart"
    assert len(failing) == 7
    assert [t["name"] for t in summary.flaky_tests] == ["flakyThenPassed", "flakyErrorThenPassed"]
    record = summary.to_record()
    assert set(record) >= {
        "total",
        "passed",
        "failed",
        "errored",
        "skipped",
        "flaky",
        "duration_s",
        "failing",
    }


def test_non_ascii_system_out_is_read_without_harm(tmp_path: Path) -> None:
    report = tmp_path / "target" / "surefire-reports" / "TEST-x.Unicode.xml"
    report.parent.mkdir(parents=True)
    big = "Grüße ✓ 日本語 🚀 " * 20_000  # ~400 KB of non-ASCII output in one test
    report.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="x.Unicode" tests="1">'
        f'<testcase name="prints" classname="x.Unicode" time="0.1"><system-out><![CDATA[{big}]]></system-out>'
        '</testcase><testcase name="fails" classname="x.Unicode"><failure message="Ärger: ✗ 失败">x</failure>'
        "</testcase></testsuite>",
        encoding="utf-8",
    )
    summary, _ = junit.read_summary([report])
    assert (summary.passed, summary.failed) == (1, 1)
    assert summary.failing[0]["message"] == "Ärger: ✗ 失败"


def test_truncated_report_is_bad_input_naming_the_file(reports: Path) -> None:
    report = reports / "module-a" / "target" / "surefire-reports" / "TEST-com.acme.RetryTest.xml"
    data = report.read_bytes()
    report.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput) as info:
        junit.read_summary(surefire.find_reports(reports)[0])
    assert info.value.exit_code == ExitCode.BAD_INPUT
    message = str(info.value)
    assert message.startswith(f"{report}:") and "truncated" in message and "\n" not in message


def test_a_report_that_is_not_junit_is_bad_input(tmp_path: Path) -> None:
    report = tmp_path / "surefire-reports" / "TEST-odd.xml"
    report.parent.mkdir()
    report.write_text("<html><body>not a report</body></html>")
    with pytest.raises(BadInput, match=r"TEST-odd.xml: not a JUnit report \(root element <html>\)"):
        junit.read_summary([report])


def test_stale_reports_are_left_out(reports: Path) -> None:
    for path in surefire.find_reports(reports)[0]:
        os.utime(path)  # written by "this" build
    old = reports / "module-b" / "target" / "failsafe-reports" / "TEST-com.acme.OrderIT.xml"
    past = time.time() - 3600
    os.utime(old, (past, past))
    paths, stale = surefire.find_reports(reports, newer_than=time.time() - 60)
    assert stale == 1 and old not in paths and len(paths) == 2


def test_testsuites_root_and_no_reports(tmp_path: Path) -> None:
    assert surefire.find_reports(tmp_path) == ([], 0)
    report = tmp_path / "surefire-reports" / "TEST-all.xml"
    report.parent.mkdir()
    report.write_text(
        '<testsuites><testsuite name="a"><testcase classname="a.A" name="one"/></testsuite>'
        '<testsuite name="b"><testcase classname="b.B" name="two"><skipped/></testcase></testsuite>'
        "</testsuites>"
    )
    summary, _ = junit.read_summary([report])
    assert (summary.total, summary.passed, summary.skipped) == (2, 1, 1)


def test_merged_junit_round_trips_through_the_reader(reports: Path, tmp_path: Path) -> None:
    summary, cases = junit.read_summary(surefire.find_reports(reports)[0], keep_cases=True)
    out = junit_merge.write(tmp_path / "test-results" / "pipekit-junit.xml", summary, cases)
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "13",
        "5",
        "2",
        "1",
    )
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"com.acme.OrderServiceTest", "com.acme.RetryTest", "com.acme.OrderIT"}
    assert (
        suites["com.acme.RetryTest"].get("failures") == "2"
        and suites["com.acme.RetryTest"].get("errors") == "1"
    )
    again, _ = junit.read_summary([_as_report(out, tmp_path)])
    assert (again.total, again.passed, again.failed, again.errored, again.skipped, again.flaky) == (
        13,
        5,
        5,
        2,
        1,
        2,
    )
    flaky = root.find(".//testcase[@name='flakyThenPassed']/system-out")
    assert flaky is not None and "flaky" in (flaky.text or "")


def _as_report(path: Path, tmp_path: Path) -> Path:
    target = tmp_path / "again" / "surefire-reports" / "TEST-merged.xml"
    target.parent.mkdir(parents=True)
    shutil.copy(path, target)
    return target


def test_error_position_is_right_after_the_properties_block(tmp_path: Path) -> None:
    report = tmp_path / "surefire-reports" / "TEST-p.xml"
    report.parent.mkdir()
    report.write_text(
        '<testsuite name="p">\n  <properties>\n    <property name="a" value="1"/>\n'
        '    <property name="b" value="2"/>\n  </properties>\n  <testcase classname="p.P" name="ok"/>\n'
        '  <testcase classname="p.P" name="cut">\n    <failure message="x"'
    )
    with pytest.raises(BadInput, match=rf"{report}:8:\d+: unreadable test report"):
        junit.read_summary([report])
