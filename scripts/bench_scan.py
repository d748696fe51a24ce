"""Benchmark: read + gate + write SARIF for a big SARIF file, against a bare stdlib ``json.load``.

    .venv/bin/python scripts/bench_scan.py [--results 200000] [--file big.sarif] [--repeat 3]

Each round measures every mode back to back (the ratio to ``json.load`` of the same round is
reported as a median over rounds, which holds up on a busy machine). Each measurement runs in
a fresh child process; its peak memory is read with
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` by the parent and its work time (without
interpreter start-up) is printed by the child. Targets from the issue: pipekit <= 2.0x the time
of ``json.load`` on the same file, and peak memory <= 4x the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(mode: str, path: str) -> None:
    started = time.perf_counter()
    if mode == "json.load":
        with open(path, encoding="utf-8") as fh:
            json.load(fh)
    elif mode == "pipekit":
        from pipekit.reports import findings as fm
        from pipekit.reports import policy
        from pipekit.reports.readers.detect import read_report
        from pipekit.reports.writers import sarif

        with fm.gc_paused(), tempfile.TemporaryDirectory() as tmp:  # as `pipekit scan` does
            report = read_report(path)
            found = fm.merge(report.findings)
            verdict = policy.apply(found, policy.Policy(fail_on="high"))
            sarif.write(Path(tmp) / "out.sarif", found)
        print(f"# {len(found)} findings, {len(verdict.blocking)} blocking", file=sys.stderr)
    elif mode == "cli":
        from pipekit.cli import main

        with tempfile.TemporaryDirectory() as tmp:
            os.environ["PIPEKIT_RUN_RECORD"] = str(Path(tmp) / "run.json")
            try:
                main(["scan", path, "--sarif-out", str(Path(tmp) / "out.sarif"), "--fail-on", "none"])
            except SystemExit as exc:
                if exc.code not in (0, None):
                    raise
    print(json.dumps({"seconds": time.perf_counter() - started}))


def measure(mode: str, path: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wall = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, path], env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - wall
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    return {"seconds": seconds, "wall": wall}


def measure_isolated(mode: str, path: str) -> dict[str, float]:
    """One child per measurement, inside a fresh parent, so RUSAGE_CHILDREN is that child's peak alone."""
    here = str(Path(__file__).parent)
    code = (
        f"import json,resource,sys; sys.path.insert(0, {here!r}); import bench_scan as b; "
        f"r = b.measure({mode!r}, {path!r}); "
        "r['peak_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, default=None, help="SARIF to use (generated when missing)")
    parser.add_argument("--results", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli", action="store_true", help="also time the whole `pipekit scan` command")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    import gen_sarif

    with tempfile.TemporaryDirectory(prefix="pipekit-bench-") as tmp:
        path = args.file or Path(tmp) / "big.sarif"
        if not path.exists():
            gen_sarif.write(path, args.results, 7)
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"file: {path} ({size_mb:.1f} MiB, {args.results} results), python {sys.version.split()[0]}")
        modes = ["json.load", "pipekit"] + (["cli"] if args.cli else [])
        best: dict[str, dict[str, float]] = {}
        ratios: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.repeat):  # each round measures every mode back to back: paired ratios
            round_ = {mode: measure_isolated(mode, str(path)) for mode in modes}
            for mode, r in round_.items():
                ratios[mode].append(r["seconds"] / round_["json.load"]["seconds"])
                if mode not in best or r["seconds"] < best[mode]["seconds"]:
                    best[mode] = r
        for mode in modes:
            r = best[mode]
            print(
                f"{mode:10s} best work {r['seconds']:.2f} s, wall {r['wall']:.2f} s; "
                f"median paired ratio {statistics.median(ratios[mode]):.2f}x json.load; "
                f"peak {r['peak_mb']:.0f} MiB ({r['peak_mb'] / size_mb:.2f}x file)"
            )
        ratio = statistics.median(ratios["pipekit"])
        ok_mem = best["pipekit"]["peak_mb"] <= 4.0 * size_mb
        print(
            f"targets: time <= 2.0x json.load: {'OK' if ratio <= 2.0 else 'MISSED'} ({ratio:.2f}x); "
            f"peak <= 4x file: {'OK' if ok_mem else 'MISSED'} ({best['pipekit']['peak_mb'] / size_mb:.2f}x)"
        )


if __name__ == "__main__":
    main()
