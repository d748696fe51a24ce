#!/usr/bin/env python3
"""Benchmark for `pipekit jira-gate` (the issue's figure: 2,000 issues in 40 pages <= 2 s).

The local Jira stand-in (pipekit.testing.jira, Cloud REST v3) serves one version with 2,000 issues;
`search/jql` pages hold 50, so the gate reads 40 pages by nextPageToken. Measures the whole CLI
(a fresh `python -m pipekit jira-gate` process, as a pipeline step runs it) and the library call
(pipekit.jira.gate.decide) alone; median of N runs.

    .venv/bin/python scripts/bench_jira_gate.py [--runs 5] [--issues 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.clients.jira import JiraClient  # noqa: E402
from pipekit.jira import gate  # noqa: E402
from pipekit.testing.jira import JiraStandIn  # noqa: E402

EMAIL, TOKEN = "bench@example.com", "bench-token-0123456789"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--issues", type=int, default=2000)
    args = parser.parse_args()
    with JiraStandIn(email=EMAIL, token=TOKEN, max_results=50) as jira, tempfile.TemporaryDirectory() as tmp:
        jira.add_version("ORD", "1.4.2")
        for n in range(args.issues):
            jira.add_issue(
                "ORD",
                f"change {n}: a summary of a realistic length for a Jira issue",
                "Done" if n % 500 else "In Progress",
                fix_versions=("1.4.2",),
                assignee=f"dev{n % 9}",
            )
        env = {
            **os.environ,
            "JIRA_BASE_URL": jira.base_url,
            "JIRA_USER_EMAIL": EMAIL,
            "JIRA_API_TOKEN": TOKEN,
            "PIPEKIT_RUN_RECORD": str(Path(tmp) / "run.json"),
            "PYTHONPATH": str(ROOT),
        }
        argv = [
            sys.executable,
            "-m",
            "pipekit",
            "jira-gate",
            "--project",
            "ORD",
            "--version",
            "1.4.2",
            "--allowed-statuses",
            "Done",
            "--json",
        ]
        cli: list[float] = []
        for _ in range(args.runs):
            jira.requests.clear()
            started = time.perf_counter()
            proc = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, check=False)
            cli.append(time.perf_counter() - started)
            if proc.returncode != 1:  # 4 issues are In Progress: the gate must block
                print(proc.stderr, file=sys.stderr)
                return 1
        pages = sum(1 for _, path, _ in jira.requests if path.endswith("/search/jql"))
        lib: list[float] = []
        for _ in range(args.runs):
            c = JiraClient(jira.base_url, email=EMAIL, token=TOKEN)
            started = time.perf_counter()
            decision = gate.decide(c, "ORD", "1.4.2", allowed_statuses=["Done"])
            lib.append(time.perf_counter() - started)
            assert decision.issues == args.issues and len(decision.blocking) == args.issues // 500
    print(f"issues: {args.issues} in {pages} search/jql pages (+1 versions page), runs: {args.runs}")
    print(
        f"CLI `pipekit jira-gate` wall: median {statistics.median(cli):.3f} s "
        f"(min {min(cli):.3f}, max {max(cli):.3f}); target <= 2 s"
    )
    print(
        f"library gate.decide():        median {statistics.median(lib):.3f} s "
        f"(min {min(lib):.3f}, max {max(lib):.3f})"
    )
    return 0 if statistics.median(cli) <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
