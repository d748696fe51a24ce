#!/usr/bin/env python3
"""Benchmark ``pipekit alerts test`` for one service, and what the alerts add to ``pipekit init``.

    .venv/bin/python scripts/bench_alerts.py [--runs 5]

1. ``python -m pipekit alerts test --gitops-dir DIR`` on one service onboarded by ``pipekit init``
   (four environments: 4 kustomize renders, CRD schema checks, ``promtool check rules`` on 64
   rules, ``promtool test rules`` with 128 unit tests, amtool when installed), ``--runs`` times.
   Target: <= 3 s.
2. ``python -m pipekit init`` of one service with the alerts (the default) and with
   ``alerts.enabled: false``, ``--runs`` times each: the alerts' share of init's time (init's own
   bound is <= 0.5 s; ``scripts/bench_init.py`` measures the rest).
The whole process is timed (interpreter start-up included); CPU is user + system of the process
and its children, which load on a shared machine does not inflate.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
GITOPS_URL = "https://bitbucket.org/acme/gitops.git"  # what Argo CD reads (the checkout is local)


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def repos(root: Path) -> tuple[Path, Path]:
    git("init", "-q", "--bare", "-b", "main", "gitops.git", cwd=root)
    git("clone", "-q", "gitops.git", "gitops", cwd=root)
    (root / "orders").mkdir()
    git("init", "-q", "-b", "main", cwd=root / "orders")
    for repo in (root / "orders", root / "gitops"):  # a first commit: init reads each repository's branch
        (repo / "README.md").write_text("# seed\n")
        git("add", "README.md", cwd=repo)
        git("-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "seed", cwd=repo)
    git("push", "-q", "origin", "main", cwd=root / "gitops")
    return root / "orders", root / "gitops"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit", *argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"pipekit {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, usage.ru_utime + usage.ru_stime - cpu


def report(label: str, runs: list[tuple[float, float]], target: str) -> None:
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    print(
        f"{label}: median {statistics.median(walls):.2f}s (min {min(walls):.2f}s, max {max(walls):.2f}s, "
        f"{len(runs)} runs; CPU median {statistics.median(cpus):.2f}s; {target})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    a = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEKIT_", "BITBUCKET_"))}
    env["PYTHONPATH"] = str(ROOT)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    init = ["init", "--service", "orders", "--image-repo", IMAGE, "--gitops-url", GITOPS_URL]
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        service, gitops = repos(Path(tmp))
        timed([*init, "--gitops-dir", str(gitops)], service, env)
        tests = [timed(["alerts", "test", "--gitops-dir", str(gitops)], service, env) for _ in range(a.runs)]
    report(
        "pipekit alerts test, one service, 4 environments, 64 rules, 128 unit tests", tests, "target <= 3 s"
    )

    with_alerts, without = [], []
    for _ in range(a.runs):
        for runs, disabled in ((with_alerts, False), (without, True)):
            with tempfile.TemporaryDirectory(prefix="bench-alerts-init-") as tmp:
                service, gitops = repos(Path(tmp))
                if disabled:
                    (service / "pipekit.yaml").write_text("alerts:\n  enabled: false\n")
                runs.append(
                    timed(
                        [*init, "--gitops-dir", str(gitops), *(["--force"] if disabled else [])], service, env
                    )
                )
    report("pipekit init, one service, with the alerts", with_alerts, "init's bound <= 0.5 s")
    report("pipekit init, one service, alerts.enabled: false", without, "the same init without them")


if __name__ == "__main__":
    main()
