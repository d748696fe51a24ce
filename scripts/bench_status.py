#!/usr/bin/env python3
"""Benchmark ``pipekit status`` over a generated GitOps history.

    .venv/bin/python scripts/bench_status.py [--runs 3] [--keep DIR]

- status over 300 services x 4 environments in a 50,000-commit GitOps history: target <= 1 s wall
  (table, JSON and HTML);
- the same with one overlay that no commit ever deployed (the walk then reads the whole history).

The repository comes from scripts/gen_gitops_repo.py (git fast-import); each figure is the best
of ``--runs`` runs of the real CLI (``python -m pipekit``) as a pipeline would start it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_dora import best, load  # noqa: E402
from gen_gitops_repo import generate  # noqa: E402

TARGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Reuse/keep the generated repositories here.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-status-"))
    work.mkdir(parents=True, exist_ok=True)
    big = work / "gitops-50k.git"
    if not big.exists():
        started = time.perf_counter()
        generate(big, services=300, commits=50_001, seed=1)
        print(f"generated {big.name}: 50,001 commits in {time.perf_counter() - started:.1f} s")
    onboarded = work / "gitops-50k-onboarded.git"
    if not onboarded.exists():  # one more commit: a new service's overlay, never deployed
        clone = work / "clone"
        subprocess.run(["git", "clone", "-q", str(big), str(clone)], check=True)
        folder = clone / "svc999" / "overlays" / "prod"
        folder.mkdir(parents=True)
        shutil.copy(clone / "svc000" / "overlays" / "prod" / "kustomization.yaml", folder)
        subprocess.run(["git", "add", "."], cwd=clone, check=True)
        subprocess.run(
            [
                "git",
                "-c",
                "user.name=Bench",
                "-c",
                "user.email=bench@example.com",
                "commit",
                "-qm",
                "Onboard svc999",
            ],
            cwd=clone,
            check=True,
        )
        subprocess.run(["git", "clone", "-q", "--bare", str(clone), str(onboarded)], check=True)
        shutil.rmtree(clone)
    print(f"before: {load()}")
    worst = 0.0
    for fmt in ("table", "json", "html"):
        out = work / f"status.{fmt}"
        wall, cpu, rss, _ = best(
            ["status", "--gitops-repo", str(big), "--format", fmt, "--out", str(out)], args.runs
        )
        worst = max(worst, wall)
        print(
            f"status, 300 services x 4 environments, 50,000 commits, {fmt}: {wall:.2f} s wall "
            f"(target <= {TARGET_S:.0f} s), {cpu:.2f} s CPU, peak RSS {rss / 1024:.0f} MiB"
        )
    report = json.loads((work / "status.json").read_text())
    cells = sum(1 for row in report["services"] for c in row["environments"].values() if c)
    print(f"  {len(report['services'])} services, {cells} cells")
    wall, cpu, rss, _ = best(
        [
            "status",
            "--gitops-repo",
            str(onboarded),
            "--format",
            "json",
            "--out",
            str(work / "status-onboarded.json"),
        ],
        args.runs,
    )
    print(
        f"status with one overlay never deployed (the whole history read): {wall:.2f} s wall, {cpu:.2f} s "
        f"CPU, peak RSS {rss / 1024:.0f} MiB"
    )
    print(f"after: {load()}")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
