#!/usr/bin/env python3
"""Benchmark ``pipekit dora`` and ``pipekit history`` over generated GitOps histories.

    .venv/bin/python scripts/bench_dora.py [--runs 3] [--keep DIR]

- dora over 50,000 deployment commits (300 services, every environment): target <= 3 s wall,
  peak memory (max RSS of the pipekit process) reported;
- history of one service in a 20,000-commit repository: target <= 0.5 s wall.

Repositories come from scripts/gen_gitops_repo.py (git fast-import); each figure is the best
of ``--runs`` runs of the real CLI (``python -m pipekit``) as a pipeline would start it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from gen_gitops_repo import generate  # noqa: E402

ENVS = ("dev", "qa", "preprod", "prod")


def timed(argv: list[str]) -> tuple[float, float, int, str]:
    """(wall s, CPU s of pipekit and its git children, max RSS KiB of the pipekit process, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pipekit", *argv], env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)  # the child's own usage, its reaped children included
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"pipekit {argv[0]} exited {proc.returncode}: {err.read().decode()[-500:]}")
        text = out.read().decode()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, text


def best(argv: list[str], runs: int) -> tuple[float, float, int, str]:
    results = [timed(argv) for _ in range(runs)]
    return (
        min(r[0] for r in results),
        min(r[1] for r in results),
        max(r[2] for r in results),
        results[-1][3],
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Reuse/keep the generated repositories here.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dora-"))
    work.mkdir(parents=True, exist_ok=True)
    big, mid = work / "gitops-50k.git", work / "gitops-20k.git"
    for repo, commits in ((big, 50_001), (mid, 20_000)):
        if not repo.exists():
            started = time.perf_counter()
            generate(repo, services=300, commits=commits, seed=1)
            print(f"generated {repo.name}: {commits} commits in {time.perf_counter() - started:.1f} s")
    # The generator's commits are one minute apart from 2023-11-14: the range covers them all.
    dora = [
        "dora",
        "--gitops-repo",
        str(big),
        "--since",
        "2023-11-01",
        "--until",
        "2024-01-31",
        "--json",
        *[a for env in ENVS for a in ("--env", env)],
    ]
    print(f"before: {load()}")
    wall, cpu, rss, out = best(dora, args.runs)
    deployments = json.loads(out)["deployments"]
    print(
        f"dora, {deployments} deployments (every environment): {wall:.2f} s wall (target <= 3 s), "
        f"{cpu:.2f} s CPU (pipekit + git), peak RSS {rss / 1024:.0f} MiB (the pipekit process)"
    )
    wall, cpu, rss, out = best(dora[:-8] + ["--env", "prod"], args.runs)
    print(
        f"dora, prod only ({json.loads(out)['deployments']} deployments): {wall:.2f} s wall, {cpu:.2f} s "
        f"CPU, peak RSS {rss / 1024:.0f} MiB"
    )
    history = ["history", "--gitops-repo", str(mid), "--service", "svc001", "--json", "--limit", "1000"]
    wall, cpu, _rss, out = best(history, args.runs)
    print(
        f"history of svc001 in a 20,000-commit repository ({len(json.loads(out)['deployments'])} "
        f"deployments): {wall:.3f} s wall (target <= 0.5 s), {cpu:.3f} s CPU"
    )
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
