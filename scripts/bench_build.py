#!/usr/bin/env python3
"""Benchmarks for `pipekit build` (figures for the issue's closing note).

1. Overhead of `pipekit build` over running the same `mvn` and `buildah bud` commands
   directly on the sample service (target <= 1.10x wall). Runs alternate, median of N.
2. Reading 5,000 generated Surefire XML files into the test summary (target <= 1 s).

    .venv/bin/python scripts/bench_build.py [--runs 3] [--files 5000] [--skip-build]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.clients import maven  # noqa: E402
from pipekit.clients.containers import Buildah  # noqa: E402
from pipekit.reports import junit, surefire  # noqa: E402

SERVICE = ROOT / "tests" / "fixtures" / "java" / "service"
PROPS = "\n".join(
    f'    <property name="prop.{i}" value="value number {i} with some text"/>' for i in range(60)
)


def generate_reports(root: Path, files: int) -> int:
    """``files`` Surefire 3 shaped reports, 8 testcases each, in 10 modules; returns the testcase count."""
    cases = 0
    for n in range(files):
        module = root / f"module-{n % 10}" / "target" / "surefire-reports"
        module.mkdir(parents=True, exist_ok=True)
        name = f"com.acme.m{n % 10}.Service{n}Test"
        body = []
        for t in range(8):
            extra = ""
            if t == 3 and n % 7 == 0:
                extra = (
                    f'<failure message="expected: &lt;{n}&gt; but was: &lt;0&gt;" '
                    'type="AssertionFailedError">'
                    f"<![CDATA[org.opentest4j.AssertionFailedError: expected\n\tat {name}.t3({n}.java:3)\n]]>"
                    "</failure>"
                )
            elif t == 5 and n % 11 == 0:
                extra = '<skipped message="later"/>'
            elif t == 6 and n % 13 == 0:
                extra = '<flakyFailure message="timing" type="X"><stackTrace>x</stackTrace></flakyFailure>'
            out = f"<system-out><![CDATA[{'log line grüße ✓ ' * 20}\n]]></system-out>" if t % 2 else ""
            body.append(
                f'  <testcase name="test{t}" classname="{name}" time="0.0{t}">{extra}{out}</testcase>'
            )
            cases += 1
        (module / f"TEST-{name}.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite version="3.0" name="{name}" time="0.3" tests="8" errors="0" '
            'skipped="0" failures="0">\n'
            f"  <properties>\n{PROPS}\n  </properties>\n" + "\n".join(body) + "\n</testsuite>\n",
            encoding="utf-8",
        )
    return cases


def bench_reports(files: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-surefire-") as tmp:
        root = Path(tmp)
        cases = generate_reports(root, files)
        size = sum(p.stat().st_size for p in root.rglob("*.xml"))
        times = []
        for _ in range(3):
            start = time.perf_counter()
            paths, _ = surefire.find_reports(root)
            summary, _ = junit.read_summary(paths, dialect_name="surefire")
            times.append(time.perf_counter() - start)
        assert summary.total == cases and summary.reports == files, (summary.total, cases)
    return {
        "files": files,
        "testcases": cases,
        "megabytes": round(size / 1e6, 1),
        "first_s": round(times[0], 3),
        "best_s": round(min(times), 3),
    }


def _git_checkout(dest: Path) -> None:
    shutil.copytree(SERVICE, dest, ignore=shutil.ignore_patterns("target"))
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.email=b@example.com", "-c", "user.name=Bench", "commit", "-q", "-m", "bench"],
    ):
        subprocess.run(["git", *args], cwd=dest, check=True)


def _timed(argvs: list[list[str]], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system of the child processes) of running ``argvs``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for argv in argvs:
        subprocess.run(
            argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_build(runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        project = Path(tmp) / "greeter"
        _git_checkout(project)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
        env.update(PIPEKIT_RUN_RECORD=str(Path(tmp) / "run.json"), PYTHONPATH=str(ROOT))
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
        direct_image, pk_image = "localhost/bench-direct", "localhost/bench-pipekit"
        mvn = maven.build_argv(
            shutil.which("mvn") or "mvn", maven.MavenOptions(project_dir=project, offline=True)
        )
        labels = {
            "org.opencontainers.image.revision": commit,
            "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
            "org.opencontainers.image.version": "1.4.2",
            "org.opencontainers.image.title": "greeter",
        }
        bud = Buildah().build_argv(
            context=Path("."),
            dockerfile=None,
            labels=labels,
            build_args={},
            tags=[f"{direct_image}:{commit[:7]}", f"{direct_image}:1.4.2", f"{direct_image}:main"],
            iidfile=Path(tmp) / "iid",
        )
        pipekit = [
            sys.executable,
            "-m",
            "pipekit",
            "build",
            "--offline",
            "--container-tool",
            "buildah",
            "--image",
            pk_image,
        ]
        _timed([mvn], project, env)  # warm the JVM's file cache once, not counted
        direct: list[tuple[float, float]] = []
        wrapped: list[tuple[float, float]] = []
        try:
            for _ in range(runs):
                direct.append(_timed([mvn, bud], project, env))
                wrapped.append(_timed([pipekit], project, env))
        finally:
            for image in (direct_image, pk_image):
                for tag in (commit[:7], "1.4.2", "main"):
                    subprocess.run(["buildah", "rmi", f"{image}:{tag}"], capture_output=True, check=False)
        dw, ww = [d[0] for d in direct], [w[0] for w in wrapped]
        dc, wc = [d[1] for d in direct], [w[1] for w in wrapped]
        return {
            "runs": runs,
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "direct_wall_median_s": round(statistics.median(dw), 3),
            "pipekit_wall_median_s": round(statistics.median(ww), 3),
            "ratio_wall_median": round(statistics.median(ww) / statistics.median(dw), 3),
            "ratio_wall_best": round(min(ww) / min(dw), 3),
            "ratio_cpu_median": round(statistics.median(wc) / statistics.median(dc), 3),
            # each pipekit run against the direct run just before it (same machine load): robust
            "ratio_pairs_median": round(statistics.median(w / d for w, d in zip(ww, dw, strict=True)), 3),
            "ratio_pairs": [round(w / d, 3) for w, d in zip(ww, dw, strict=True)],
            "direct_wall_s": [round(x, 3) for x in dw],
            "pipekit_wall_s": [round(x, 3) for x in ww],
            "direct_cpu_s": [round(x, 3) for x in dc],
            "pipekit_cpu_s": [round(x, 3) for x in wc],
            "mvn": " ".join(mvn[1:]),
            "buildah": " ".join(bud[:2]) + " ...",
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--skip-build", action="store_true", help="only the report-reading benchmark")
    args = parser.parse_args()
    results: dict[str, object] = {"reports": bench_reports(args.files)}
    if not args.skip_build:
        results["build"] = bench_build(args.runs)
    print(json.dumps(results, indent=2))
    reports_ok = results["reports"]["best_s"] <= 1.0  # type: ignore[index]
    build_ok = args.skip_build or results["build"]["ratio_pairs_median"] <= 1.10  # type: ignore[index]
    print(
        f"reports <= 1 s: {'PASS' if reports_ok else 'FAIL'}; build overhead <= 1.10x: "
        f"{'PASS' if build_ok else 'FAIL'}{' (skipped)' if args.skip_build else ''}"
    )
    return 0 if reports_ok and build_ok else 1


if __name__ == "__main__":
    sys.exit(main())
