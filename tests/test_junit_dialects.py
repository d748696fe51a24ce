"""One JUnit reader for every suite's dialect, and counters that must agree with the test cases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput
from pipekit.reports import junit, surefire

FIXTURES = Path(__file__).parent / "fixtures" / "junit"
JAVA_REPORTS = Path(__file__).parent / "fixtures" / "java" / "reports"


def read(name: str) -> surefire.TestSummary:
    return surefire.read_summary([FIXTURES / name], check_counters=True)[0]


def test_newman_iterations_count_twice_at_the_root_and_per_failure() -> None:
    s = read("newman.xml")
    assert (s.total, s.passed, s.failed) == (5, 4, 1)
    assert s.failing == [{"class": "Orders / Get order", "name": "order is OPEN", "message": "Failed 2 times."}]


def test_cucumber_bare_testsuite_root() -> None:
    s = read("cucumber.xml")
    assert (s.total, s.passed, s.failed, s.skipped) == (3, 1, 1, 1)
    assert s.failing[0] == {"class": "Orders API", "name": "Cancel an order",
                            "message": "expected: <CANCELLED> but was: <OPEN>"}


def test_playwright_reporter() -> None:
    s = read("playwright.xml")
    assert (s.total, s.passed, s.failed, s.skipped) == (4, 2, 1, 1)
    assert s.failing[0]["name"] == "checkout › shows the receipt"
    assert s.failing[0]["message"] == "checkout.spec.ts:18:5 shows the receipt"


def test_surefire_reports_with_reruns_keep_their_counts() -> None:
    paths = junit.find(JAVA_REPORTS / "module-a" / "target")
    s, _ = surefire.read_summary(paths, check_counters=True)
    assert s.total > 0 and s.flaky >= 1


@pytest.mark.parametrize(("name", "message"), [
    ("truncated-run.xml", r"truncated-run.xml:3: <testsuite name='orders.ApiIT'> says tests=5 but holds 2 test case"),
    ("failures-without-failed-case.xml", r"<testsuite name='smoke'> says failures=1 but 0 test case\(s\) inside have that outcome"),
])
def test_counters_that_disagree_are_bad_input(name: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        read(name)
    surefire.read_summary([FIXTURES / name])  # build's reading (no check) is unchanged


@pytest.mark.slow
def test_real_pytest_junit_xml(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_api.py").write_text(
        "import pytest\n"
        "def test_health():\n    assert True\n"
        "def test_orders():\n    assert 1 + 1 == 3, 'orders total is wrong'\n"
        "@pytest.mark.skip(reason='not in this env')\ndef test_refund():\n    pass\n"
        "@pytest.fixture\ndef broken():\n    raise RuntimeError('no database')\n"
        "def test_db(broken):\n    pass\n")
    out = tmp_path / "reports" / "pytest.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={out}",
                           str(suite)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout
    s, _ = surefire.read_summary(junit.find(tmp_path / "reports"), check_counters=True)
    assert (s.total, s.passed, s.failed, s.errored, s.skipped) == (4, 1, 1, 1, 1)
    assert {f["name"] for f in s.failing} == {"test_orders", "test_db"}


def test_find_skips_stale_and_hidden(tmp_path: Path) -> None:
    import os
    import time

    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.xml").write_text("<testsuite/>")
    old = tmp_path / "old.xml"
    old.write_text("<testsuite/>")
    os.utime(old, (time.time() - 100, time.time() - 100))
    (tmp_path / "new.xml").write_text("<testsuite/>")
    (tmp_path / "failsafe-summary.xml").write_text("<failsafe-summary result=\"0\"><completed>1</completed></failsafe-summary>")
    (tmp_path / "garbage.xml").write_text("not xml at all")
    assert junit.find(tmp_path, newer_than=time.time() - 10) == [tmp_path / "garbage.xml", tmp_path / "new.xml"]
    with pytest.raises(BadInput, match="garbage.xml:1:1: unreadable test report"):
        surefire.read_summary([tmp_path / "garbage.xml"], check_counters=True)
