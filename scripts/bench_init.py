#!/usr/bin/env python3
"""Benchmark ``pipekit init``: one service with every check, and 20 services into one GitOps repo.

    .venv/bin/python scripts/bench_init.py [--runs 7] [--services 20] [--schemas DIR]

1. ``python -m pipekit init --gitops-dir`` of one service into a fresh GitOps checkout, ``--runs``
   times (each in new repositories): all checks (the shipped Bitbucket, Kustomization and Argo CD
   schemas, the lint, pipekit.yaml, the restricted Pod Security level, the deploy's clocks) and four
   ``kubectl kustomize`` renders included. Target: <= 0.5 s median.
2. ``--services`` services onboarded one after another into one bare GitOps repository with
   ``--gitops-repo`` (branch found with ``git ls-remote``, clone, checks, renders, commit with
   trailers, push). Target: <= 20 s.
The whole process is timed (interpreter start-up included), as a developer or a pipeline sees it.
``--schemas DIR`` sets PIPEKIT_SCHEMAS_DIR (the shipped schemas are used without it).
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
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
GITOPS_URL = (
    "https://bitbucket.example.com/acme/gitops.git"  # what Argo CD reads; the bench pushes to a local path
)


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def service_repo(root: Path, name: str) -> Path:
    repo = root / name
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    return repo


def gitops_repo(root: Path) -> tuple[Path, Path]:
    seed = root / "seed"
    seed.mkdir()
    git("init", "-q", "-b", "main", cwd=seed)
    (seed / "README.md").write_text("# GitOps\n")
    git("add", ".", cwd=seed)
    git("-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "seed", cwd=seed)
    bare = root / "gitops.git"
    git("clone", "-q", "--bare", str(seed), str(bare), cwd=root)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    checkout = root / "gitops"
    git("clone", "-q", str(bare), str(checkout), cwd=root)
    return bare, checkout


CPU: list[float] = []  # CPU seconds (user + system) of each init and its children: what load does not inflate


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def init(cwd: Path, env: dict[str, str], *args: str) -> float:
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit", "init", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    CPU.append(_children_cpu() - cpu)
    if proc.returncode != 0:
        raise SystemExit(
            f"pipekit init {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--schemas", help="PIPEKIT_SCHEMAS_DIR (default: the schemas shipped with pipekit)")
    a = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEKIT_", "BITBUCKET_"))}
    env.update(PYTHONPATH=str(ROOT))  # init runs in temporary folders
    if a.schemas:
        env["PIPEKIT_SCHEMAS_DIR"] = str(Path(a.schemas).resolve())

    # An installed pipekit has its bytecode (pip compiles on install): so does this one, whatever
    # PYTHONDONTWRITEBYTECODE says, or every run would compile the modules again.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pipekit")], check=True)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    one = []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory(prefix="bench-init-") as tmp:
            root = Path(tmp)
            _bare, checkout = gitops_repo(root)
            service = service_repo(root, "orders")
            one.append(
                init(
                    service,
                    env,
                    "--service",
                    "orders",
                    "--gitops-dir",
                    str(checkout),
                    "--gitops-url",
                    GITOPS_URL,
                    "--image-repo",
                    f"{REGISTRY}/orders",
                )
            )
    print(
        f"init, one service, --gitops-dir, all checks + 4 renders: median {statistics.median(one):.2f}s "
        f"(min {min(one):.2f}s, max {max(one):.2f}s, {a.runs} runs; CPU median "
        f"{statistics.median(CPU):.2f}s; target <= 0.5 s)"
    )
    CPU.clear()

    with tempfile.TemporaryDirectory(prefix="bench-init-many-") as tmp:
        root = Path(tmp)
        bare, _checkout = gitops_repo(root)
        each = []
        started = time.perf_counter()
        for i in range(a.services):
            name = f"svc{i:02d}"
            service = service_repo(root, name)
            each.append(
                init(
                    service,
                    env,
                    "--service",
                    name,
                    "--gitops-repo",
                    str(bare),
                    "--gitops-url",
                    GITOPS_URL,
                    "--image-repo",
                    f"{REGISTRY}/{name}",
                )
            )
        total = time.perf_counter() - started
        count = subprocess.run(
            ["git", "rev-list", "--count", "main"], cwd=bare, capture_output=True, text=True, check=True
        ).stdout.strip()
    print(
        f"init, {a.services} services one after another into one repo, --gitops-repo: {total:.1f}s total "
        f"(median {statistics.median(each):.2f}s, max {max(each):.2f}s each; CPU {sum(CPU):.1f}s in all; "
        f"{count} commits on main; target <= 20 s)"
    )


if __name__ == "__main__":
    main()
