"""Write the testcases of every module into one JUnit XML file (Bitbucket's test tab reads it).

One ``<testsuite>`` per test class inside a ``<testsuites>`` root with the totals. Flaky tests
are written as passed with Surefire's ``<flakyFailure>`` and a ``<system-out>`` note, so the tab
shows them as green but not silently, and a reader of the file still counts them as flaky.
Written atomically (temp file + rename).
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from pipekit.reports.junit import TestCase, TestSummary

_MAX_DETAILS = 20_000


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters other than tab/newline/CR)."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20) if text else text


def build_tree(summary: TestSummary, cases: Iterable[TestCase], *, name: str = "pipekit build") -> ET.Element:
    root = ET.Element(
        "testsuites",
        {
            "name": name,
            "tests": str(summary.total),
            "failures": str(summary.failed),
            "errors": str(summary.errored),
            "skipped": str(summary.skipped),
            "time": f"{summary.duration_s:.3f}",
        },
    )
    suites: dict[str, ET.Element] = {}
    counts: dict[str, list[float]] = {}
    for case in cases:
        suite = suites.get(case.classname)
        if suite is None:
            suite = suites[case.classname] = ET.SubElement(root, "testsuite", {"name": case.classname})
            counts[case.classname] = [0, 0, 0, 0, 0.0]
        c = counts[case.classname]
        c[0] += 1
        c[4] += case.time_s
        tc = ET.SubElement(
            suite, "testcase", {"classname": case.classname, "name": case.name, "time": f"{case.time_s:.3f}"}
        )
        if case.outcome in ("failed", "errored"):
            c[1 if case.outcome == "failed" else 2] += 1
            el = ET.SubElement(
                tc,
                "failure" if case.outcome == "failed" else "error",
                {"message": _clean(case.message), "type": case.kind},
            )
            el.text = _clean(case.details[:_MAX_DETAILS])
        elif case.outcome == "skipped":
            c[3] += 1
            ET.SubElement(tc, "skipped", {"message": _clean(case.message)})
        elif case.flaky:  # Surefire's element, so a reader of this file still sees it; and a note for people
            ET.SubElement(tc, "flakyFailure", {"message": _clean(case.message), "type": case.kind})
            out = ET.SubElement(tc, "system-out")
            out.text = _clean(f"flaky: passed on a rerun after: {case.message}")
    for classname, suite in suites.items():
        total, failures, errors, skipped, seconds = counts[classname]
        suite.attrib.update(
            tests=str(int(total)),
            failures=str(int(failures)),
            errors=str(int(errors)),
            skipped=str(int(skipped)),
            time=f"{seconds:.3f}",
        )
    return root


def write(path: Path, summary: TestSummary, cases: Iterable[TestCase]) -> Path:
    root = build_tree(summary, cases)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".junit.", suffix=".xml", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            ET.ElementTree(root).write(fh, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
