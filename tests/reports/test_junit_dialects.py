"""The one JUnit reader: hostile and inconsistent files, the counters policy, linear reading.

The real tools' reports are read in tests/reports/test_junit_tools.py. The files here are written by hand
on purpose: no tool writes an XML bomb, an external entity, or counters that disagree with its own
cases, and those are what these tests are about.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput, ExitCode
from pipekit.reports import junit
from pipekit.reports.junit.parser import MAX_TEXT

REPO = Path(__file__).resolve().parents[2]
XSD = (
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation='
    '"https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" version="3.0"'
)


def write(tmp_path: Path, text: str, name: str = "report.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, dialect: str = "auto") -> junit.TestSummary:
    return junit.read_summary([path], check=True, dialect_name=dialect)[0]


BOMB = """<?xml version="1.0"?>
<!DOCTYPE testsuite [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<testsuite name="s"><testcase name="t"><failure message="&f;"/></testcase></testsuite>
"""


def test_an_xml_bomb_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    started = time.monotonic()
    with pytest.raises(BadInput) as info:
        read(path)
    assert time.monotonic() - started < 1
    assert info.value.exit_code == ExitCode.BAD_INPUT
    assert str(info.value).startswith(
        f"{path}:2: a test report with a document type declaration (DTD) is refused"
    )


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE testsuite [<!ENTITY secret SYSTEM "file://{fifo}">]>',
        '<!DOCTYPE testsuite SYSTEM "{fifo}">',
        '<!DOCTYPE testsuite [<!ENTITY % dtd SYSTEM "{fifo}"> %dtd;]>',
    ],
)
def test_an_external_entity_is_refused_and_nothing_is_read(tmp_path: Path, doctype: str) -> None:
    # a FIFO: opening it for reading blocks until a writer comes, so a parser that reads it hangs
    fifo = tmp_path / "secret"
    os.mkfifo(fifo)
    path = write(
        tmp_path,
        '<?xml version="1.0"?>\n'
        + doctype.format(fifo=fifo)
        + '\n<testsuite name="s"><testcase name="t"><failure message="&secret;"/></testcase></testsuite>\n',
    )
    code = (
        "import sys\nfrom pathlib import Path\nfrom pipekit.core.errors import BadInput\n"
        "from pipekit.reports import junit\n"
        "try:\n    junit.read_summary([Path(sys.argv[1])], check=True)\n"
        "except BadInput as exc:\n    print(exc)\n    sys.exit(2)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=20, cwd=REPO
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith(
        f"{path}:2: a test report with a document type declaration (DTD) is refused"
    )


def test_a_plain_doctype_is_harmless_and_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<?xml version="1.0"?>\n<!DOCTYPE testsuite>\n<testsuite name="s"><testcase name="t"/></testsuite>',
    )
    assert read(path).passed == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not xml at all", r"report.xml:1:1: unreadable test report \(truncated or not XML\): syntax error"),
        (
            '<testsuite name="s"><testcase name="a"/><testcase name="b"><failure message="x"',
            r"report.xml:1:\d+: unreadable test report \(truncated or not XML\): unclosed token",
        ),
        ("<html><body>not a report</body></html>", r"report.xml: not a JUnit report \(root element <html>\)"),
        ("", r"report.xml:1:1: unreadable test report \(truncated or not XML\): no element found"),
    ],
)
def test_not_xml_cut_off_or_not_junit_is_bad_input(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        read(write(tmp_path, text))


def test_counters_are_checked_only_where_the_dialect_writes_them_consistently(tmp_path: Path) -> None:
    cut = (
        '<testsuite {xsd} name="orders.ApiIT" tests="5" failures="0" errors="0" skipped="0">\n'
        '<testcase name="creates" classname="orders.ApiIT"/>\n'
        '<testcase name="reads" classname="orders.ApiIT"/>\n'
        "</testsuite>\n"
    )
    surefire = write(tmp_path, cut.format(xsd=XSD), "TEST-orders.ApiIT.xml")
    with pytest.raises(
        BadInput,
        match=r"TEST-orders.ApiIT.xml:1: <testsuite name='orders.ApiIT'> says tests=5 "
        r"but holds 2 test case\(s\), which surefire never writes",
    ):
        read(surefire)
    assert read(surefire, "generic").total == 2  # --junit-dialect generic: the cases decide
    unknown = write(tmp_path, cut.format(xsd=""), "other.xml")  # a tool pipekit does not know: never refused
    s = read(unknown)
    assert (s.total, s.passed, s.dialects) == (2, 2, ["generic"])
    failures = write(
        tmp_path, f'<testsuite {XSD} name="s" tests="1" failures="1"><testcase name="t"/></testsuite>'
    )
    with pytest.raises(BadInput, match=r"says failures=1 but 0 test case\(s\) inside have that outcome"):
        read(failures)


def test_surefire_suites_with_reruns_are_exempt(tmp_path: Path) -> None:
    # Surefire with rerunFailingTestsCount: tests= counts the last round, skipped=0 beside <skipped/>
    path = write(
        tmp_path,
        f'<testsuite {XSD} name="s" tests="1" failures="1" skipped="0" errors="0">'
        '<testcase name="skip"><skipped/></testcase><testcase name="ok"/>'
        '<testcase name="bad"><failure message="x"/><rerunFailure message="x"/></testcase>'
        '<testcase name="flaky"><flakyFailure message="timing"/></testcase></testsuite>',
    )
    s = read(path)
    assert (s.total, s.passed, s.failed, s.skipped, s.flaky) == (4, 2, 1, 1, 1)
    assert s.flaky_tests == [{"class": "", "name": "flaky", "message": "timing"}]


def test_an_unknown_dialect_name_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="unknown JUnit dialect 'xunit': one of auto, surefire"):
        read(write(tmp_path, '<testsuite name="s"><testcase name="t"/></testsuite>'), "xunit")


def test_result_text_is_kept_up_to_a_bound(tmp_path: Path) -> None:
    body = "at com.acme.Deep.frame(Deep.java:1)\n" * 200_000  # 7 MB of stack trace
    path = write(
        tmp_path,
        f'<testsuite name="s"><testcase name="t"><failure message="boom">{body}</failure>'
        f"<system-out>{body}</system-out></testcase></testsuite>",
    )
    _, cases = junit.read_summary([path], keep_cases=True)
    assert cases[0].message == "boom" and len(cases[0].details) <= MAX_TEXT


@pytest.mark.slow
def test_reading_is_linear_in_the_report(tmp_path: Path) -> None:
    """Many <properties> blocks made the old reader quadratic (3.8 s for 5 MB, 11 s reported for 3.5 MB)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import bench_junit
    finally:
        sys.path.remove(str(REPO / "scripts"))

    def seconds(path: Path) -> float:
        started = time.perf_counter()
        junit.read_summary([path], check=True)
        return time.perf_counter() - started

    small, big = tmp_path / "small.xml", tmp_path / "big.xml"
    bench_junit.write_case_properties(small, 1)
    bench_junit.write_case_properties(big, 5)
    t_small, t_big = min(seconds(small) for _ in range(3)), min(seconds(big) for _ in range(3))
    assert t_big < 1.0, t_big  # the bound for 5 MB
    assert t_big < 10 * t_small + 0.05, (t_small, t_big)  # linear: ~5x; quadratic: ~25x
    out = tmp_path / "out.xml"
    bench_junit.write_system_out(out, 5)
    assert seconds(out) < 1.0


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
        "def test_db(broken):\n    pass\n"
    )
    out = tmp_path / "reports" / "pytest.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={out}", str(suite)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout
    s, _ = junit.read_summary(junit.find(tmp_path / "reports"), check=True)
    assert (s.total, s.passed, s.failed, s.errored, s.skipped) == (4, 1, 1, 1, 1)
    assert {f["name"] for f in s.failing} == {"test_orders", "test_db"}
    assert s.dialects == ["pytest"]


def test_find_skips_stale_and_hidden(tmp_path: Path) -> None:
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.xml").write_text("<testsuite/>")
    old = tmp_path / "old.xml"
    old.write_text("<testsuite/>")
    os.utime(old, (time.time() - 100, time.time() - 100))
    (tmp_path / "new.xml").write_text("<testsuite/>")
    (tmp_path / "failsafe-summary.xml").write_text(
        '<failsafe-summary result="0"><completed>1</completed></failsafe-summary>'
    )
    (tmp_path / "garbage.xml").write_text("not xml at all")
    (tmp_path / "bomb.xml").write_text(BOMB)
    assert junit.find(tmp_path, newer_than=time.time() - 10) == [
        tmp_path / "bomb.xml",
        tmp_path / "garbage.xml",
        tmp_path / "new.xml",
    ]
    with pytest.raises(BadInput, match="garbage.xml:1:1: unreadable test report"):
        junit.read_summary([tmp_path / "garbage.xml"], check=True)
