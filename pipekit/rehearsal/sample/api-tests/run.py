"""Run the demo service's API tests and write a JUnit XML report, with Python's standard library only.

The PostSync Job runs ``python3 api-tests/run.py --junit-xml /reports/demo-service-api.xml`` in the
pipekit base image, which ships no pytest: every ``test_*`` function of :mod:`test_api` runs in
the order written; an ``AssertionError`` is a failure, any other exception an error. Exit 0 when
all passed, 1 otherwise (``pipekit post-sync-test`` reads the JUnit file either way).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_api  # noqa: E402 - beside this file, found through the path set just above

SUITE = "demo-service-api"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit-xml", required=True, type=Path, help="Where to write the JUnit report.")
    args = parser.parse_args(argv)
    tests = [(name, fn) for name, fn in vars(test_api).items() if name.startswith("test_") and callable(fn)]
    suite = ET.Element("testsuite", name=SUITE)
    counts = {"failures": 0, "errors": 0}
    started = time.monotonic()
    for name, fn in tests:
        case = ET.SubElement(suite, "testcase", classname=f"{SUITE}.test_api", name=name)
        t0 = time.monotonic()
        outcome, why = "passed", ""
        try:
            fn()
        except AssertionError as exc:
            outcome, why = "failures", str(exc) or "assertion failed"
            ET.SubElement(case, "failure", message=why).text = traceback.format_exc()
        except Exception as exc:  # an error, not a failure, as JUnit tells them apart
            outcome, why = "errors", f"{type(exc).__name__}: {exc}"
            ET.SubElement(case, "error", message=why, type=type(exc).__name__).text = traceback.format_exc()
        case.set("time", f"{time.monotonic() - t0:.3f}")
        if outcome != "passed":
            counts[outcome] += 1
        print(f"{name}: {outcome}" if outcome == "passed" else f"{name}: {outcome[:-1]}: {why}", flush=True)
    suite.attrib.update(
        tests=str(len(tests)),
        failures=str(counts["failures"]),
        errors=str(counts["errors"]),
        skipped="0",
        time=f"{time.monotonic() - started:.3f}",
    )
    args.junit_xml.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(args.junit_xml, encoding="utf-8", xml_declaration=True)
    failed = counts["failures"] + counts["errors"]
    print(f"{len(tests) - failed} of {len(tests)} API tests passed; JUnit {args.junit_xml}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
