#!/usr/bin/env python3
"""Benchmarks of the JUnit reader (issue 22 and issue 23 item 10): reading is linear in the report.

1. ``properties``: a 5 MB Surefire report whose suites carry large ``<properties>`` blocks (bound 1 s),
   and one whose every test case carries a block of its own (jest-junit, Playwright) (bound 1 s);
2. ``system-out``: a 5 MB report whose test cases print long ``system-out`` (bound 1 s);
3. ``cases``: 10^6 test cases in one report, 1 % failing, some skipped and flaky (bound 15 s, 600 MB);
4. ``scaling``: the properties report at 1x, 2x and 4x its size: time per MB stays flat (linear).

Each figure is taken in a fresh child interpreter that reads the report with
``pipekit.reports.junit.read_summary`` (dialect detected, counters checked) and reports its own wall
time and peak RSS (``ru_maxrss``); ``--cli`` also runs ``pipekit post-sync-test`` as a real process
over the 10^6-case report (the suite command copies it into ``--junit-dir``).

    .venv/bin/python scripts/bench_junit.py [--mb 5] [--cases 1000000] [--runs 3] [--cli] [--keep DIR]
                                            [--baseline a615d5a]

``--baseline REF`` also reads the 5 MB reports with the reader of git revision REF (one from before
the reader was rewritten, whose API was ``pipekit.reports.surefire.read_summary``).

The generators (:func:`write_properties`, :func:`write_case_properties`, :func:`write_system_out`,
:func:`write_cases`) are also
what tests/reports/test_junit_dialects.py uses for its scaled-down timing checks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
XSD = (
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation='
    '"https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" version="3.0"'
)


def write_properties(path: Path, mb: float, *, suites: int = 20) -> int:
    """A ``<testsuites>`` of ``suites`` Surefire-like suites, each with a properties block about
    ``mb / suites`` MB large and 10 test cases; returns the number of test cases."""
    budget = int(mb * 1_000_000) // suites
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        for s in range(suites):
            out.write(
                f'<testsuite name="bench.Props{s}" tests="10" failures="1" errors="0" skipped="0">\n'
                "<properties>\n"
            )
            written, i = 0, 0
            while written < budget:
                line = (
                    f'  <property name="java.prop.{s}.{i}" value="/opt/some/long/class/path/entry-{i}.jar:'
                    f'/more/of/it/{i}"/>\n'
                )
                out.write(line)
                written += len(line)
                i += 1
            out.write("</properties>\n")
            for c in range(10):
                body = '<failure message="boom" type="AssertionError">trace</failure>' if c == 0 else ""
                out.write(
                    f'<testcase classname="bench.Props{s}" name="case{c}" time="0.001">{body}</testcase>\n'
                )
            out.write("</testsuite>\n")
        out.write("</testsuites>\n")
    return suites * 10


def write_case_properties(path: Path, mb: float) -> int:
    """Test cases each carrying a ``<properties>`` block of their own (jest-junit's test-case properties,
    Playwright's annotations), about ``mb`` MB in all: many blocks rather than large ones."""
    budget = int(mb * 1_000_000)
    written = cases = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="jest tests">\n'
            '<testsuite name="bench cases" tests="0">\n'
        )
        while written < budget:
            line = (
                f'<testcase classname="bench case {cases}" name="bench case {cases}" '
                'time="0.001"><properties>'
                '<property name="invocations" value="1"/><property name="status" value="passed"/>'
                f'<property name="owner" value="team-{cases % 7}@example.com"/></properties></testcase>\n'
            )
            out.write(line)
            written += len(line)
            cases += 1
        out.write("</testsuite>\n</testsuites>\n")
    return cases


def write_system_out(path: Path, mb: float, *, cases: int = 50) -> int:
    """One suite of ``cases`` test cases, each printing about ``mb / cases`` MB of ``system-out``
    (plain text and a CDATA half), the failing ones a long failure body too."""
    budget = int(mb * 1_000_000) // cases
    chunk = 'GET /orders/42 -> 200 OK {"id": 42, "status": "OPEN"} &amp; more log text\n'
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite {XSD} name="bench.Out" tests="{cases}" '
            f'failures="{cases // 10}" errors="0" skipped="0">\n'
        )
        for c in range(cases):
            out.write(f'<testcase classname="bench.Out" name="case{c}" time="0.01">')
            if c % 10 == 0:
                out.write(
                    '<failure message="expected 200" type="AssertionError">'
                    + "at x.y(Z.java:1)\n" * 2000
                    + "</failure>"
                )
            text = chunk * max(1, budget // 2 // len(chunk))
            out.write(f"<system-out>{text}<![CDATA[{text.replace('&amp;', '&')}]]></system-out></testcase>\n")
        out.write("</testsuite>\n")
    return cases


def write_cases(path: Path, count: int, *, per_suite: int = 1000) -> int:
    """``count`` test cases in suites of ``per_suite``: 1 % failing, 0.5 % skipped, 0.1 % flaky."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        for start in range(0, count, per_suite):
            n = min(per_suite, count - start)
            out.write(f'<testsuite name="bench.Suite{start // per_suite}" tests="{n}">\n')
            lines = []
            for i in range(start, start + n):
                cls = f"com.acme.bench.Suite{start // per_suite}"
                if i % 100 == 1:
                    body = (
                        f'<failure message="expected {i}" type="AssertionError">at T.t{i}(T.java:1)</failure>'
                    )
                elif i % 200 == 2:
                    body = '<skipped message="not here"/>'
                elif i % 1000 == 3:
                    body = '<flakyFailure message="timing" type="X"><stackTrace>x</stackTrace></flakyFailure>'
                else:
                    body = ""
                lines.append(f'<testcase classname="{cls}" name="test{i}" time="0.002">{body}</testcase>\n')
            out.write("".join(lines))
            out.write("</testsuite>\n")
        out.write("</testsuites>\n")
    return count


CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from pipekit.reports import junit
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
summary, _ = junit.read_summary([Path(sys.argv[2])], check=True)
record = summary.to_record()
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "base_rss_mb": base / 1024, "total": summary.total, "failed": summary.failed,
                  "skipped": summary.skipped, "flaky": summary.flaky, \
"dialects": getattr(summary, "dialects", [])}))
"""


OLD_CHILD = CHILD.replace(
    "from pipekit.reports import junit", "from pipekit.reports import surefire"
).replace("junit.read_summary([Path(sys.argv[2])], check=True)", "surefire.read_summary([Path(sys.argv[2])])")


def measure(path: Path, root: Path = ROOT, child: str = CHILD) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", child, str(root), str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def baseline(ref: str, tmp: Path) -> Path:
    """The ``pipekit`` package of git revision ``ref``, extracted under ``tmp``."""
    target = tmp / f"baseline-{ref}"
    target.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "pipekit"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def best_of(path: Path, runs: int) -> dict:
    results = [measure(path) for _ in range(runs)]
    best = min(results, key=lambda r: r["wall_s"])
    best["median_wall_s"] = statistics.median(r["wall_s"] for r in results)
    best["max_peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    return best


def cli(report: Path, tmp: Path) -> dict:
    """``pipekit post-sync-test`` as a real process over ``report`` (copied in by the suite command)."""
    results = tmp / "results"
    results.mkdir(exist_ok=True)
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t, 'exit': p.returncode, "
        "'stderr': p.stderr[-600:],\n"
        "  'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
    )
    pipekit = ROOT / ".venv" / "bin" / "pipekit"
    argv = [
        str(pipekit),
        "post-sync-test",
        "--junit-dir",
        str(results),
        "--",
        "cp",
        str(report),
        str(results),
    ]
    env = {**os.environ, "PIPEKIT_RUN_RECORD": str(tmp / "run.json"), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True, env=env, cwd=tmp
    )
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=5.0, help="size of the properties and system-out reports")
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--cli", action="store_true", help="also time pipekit post-sync-test over the cases report"
    )
    ap.add_argument("--keep", type=Path, help="write the reports here and keep them")
    ap.add_argument(
        "--baseline", metavar="REF", help="also time the reader of this git revision (the old API)"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-junit-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        rows = []
        for kind, writer, bound_s in (
            ("properties", write_properties, 1.0),
            ("properties per case", write_case_properties, 1.0),
            ("system-out", write_system_out, 1.0),
        ):
            path = tmp / f"{kind.replace(' ', '-')}.xml"
            writer(path, args.mb)
            r = best_of(path, args.runs)
            size = path.stat().st_size / 1e6
            rows.append((kind, size, r, bound_s))
            ok &= r["median_wall_s"] <= bound_s
        old = baseline(args.baseline, tmp) if args.baseline else None
        print(
            "| report | size | cases | median wall | best | peak RSS | bound |"
            + (" baseline |" if old else "")
        )
        print("|---|---|---|---|---|---|---|" + ("---|" if old else ""))
        for kind, size, r, bound_s in rows:
            extra = ""
            if old is not None:
                b = statistics.median(
                    measure(tmp / f"{kind.replace(' ', '-')}.xml", old, OLD_CHILD)["wall_s"]
                    for _ in range(args.runs)
                )
                extra = f" {b:.3f} s |"
            print(
                f"| {kind} | {size:.1f} MB | {r['total']} | {r['median_wall_s']:.3f} s | {r['wall_s']:.3f} s "
                f"| {r['max_peak_rss_mb']:.0f} MB | {bound_s:g} s |{extra}"
            )
        per_mb = []
        for factor in (1, 2, 4):
            path = tmp / f"properties-{factor}x.xml"
            write_properties(path, args.mb * factor)
            r = best_of(path, args.runs)
            size = path.stat().st_size / 1e6
            per_mb.append(r["wall_s"] / size)
            print(
                f"| properties {factor}x | {size:.1f} MB | {r['total']} | {r['median_wall_s']:.3f} s | "
                f"{r['wall_s']:.3f} s | {r['max_peak_rss_mb']:.0f} MB | linear |"
            )
            path.unlink()
        print(
            f"\ntime per MB at 1x/2x/4x: {', '.join(f'{x * 1000:.1f} ms' for x in per_mb)} "
            f"(ratio 4x/1x {per_mb[-1] / per_mb[0]:.2f}; linear is ~1)"
        )
        ok &= per_mb[-1] / per_mb[0] < 1.5
        path = tmp / "cases.xml"
        write_cases(path, args.cases)
        r = best_of(path, max(1, min(args.runs, 2)))
        size = path.stat().st_size / 1e6
        print(
            f"\n{args.cases:,} test cases ({size:.0f} MB): median {r['median_wall_s']:.2f} s, best "
            f"{r['wall_s']:.2f} s, peak RSS {r['max_peak_rss_mb']:.0f} MB (interpreter at start "
            f"{r['base_rss_mb']:.0f} MB); {r['total']:,} tests, {r['failed']:,} failed, {r['skipped']:,} "
            f"skipped, {r['flaky']:,} flaky; bound 15 s and 600 MB"
        )
        ok &= r["median_wall_s"] <= 15 and r["max_peak_rss_mb"] <= 600
        if args.cli:
            c = cli(path, tmp)
            print(
                f"pipekit post-sync-test over it: {c['wall_s']:.2f} s wall, peak RSS {c['peak_rss_mb']:.0f} "
                f"MB, exit {c['exit']} (1: its 1 % failing tests)"
            )
            ok &= c["wall_s"] <= 15 and c["peak_rss_mb"] <= 600
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\nOK" if ok else "\nOVER A BOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"(bench took {time.monotonic() - started:.0f} s)")
    sys.exit(code)
