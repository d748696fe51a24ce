#!/usr/bin/env python3
"""Benchmark ``pipekit update-tag`` against a hand-written git baseline on a big GitOps repo.

    .venv/bin/python scripts/bench_update_tag.py [--repo /tmp/big.git] [--runs 7] [--concurrent 30]

1. Generates (or reuses) a repository with 20,000 commits and 300 services
   (``scripts/gen_gitops_repo.py``).
2. Alternates, ``--runs`` times each, a hand-written baseline -- ``git clone --depth 1
   --filter=blob:none --sparse`` + ``sparse-checkout set`` + ``sed`` + ``git commit`` +
   ``git push`` -- with ``python -m pipekit.update_tag`` (which also validates and renders the
   overlay with ``kubectl kustomize``), each on a different service so every run commits.
3. Starts ``--concurrent`` update-tag processes at once on different services and reports the
   total wall time and retries per update.
Targets (issue 5): update-tag <= 1 s wall and <= 1.6x the baseline median.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from gen_gitops_repo import REGISTRY, generate, service_name  # noqa: E402

BASELINE = r"""
set -e
url=$1 svc=$2 env=$3 tag=$4
d=$(mktemp -d)
git clone -q --depth 1 --filter=blob:none --sparse "$url" "$d/r"
cd "$d/r"
git sparse-checkout set "$svc/overlays/$env"
sed -i "s/newTag: \"[^\"]*\"/newTag: \"$tag\"/" "$svc/overlays/$env/kustomization.yaml"
git -c user.name=bench -c user.email=bench@example.com commit -qam "$svc: $env -> $tag"
git push -q origin HEAD:main
rm -rf "$d"
"""


def timed(argv: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv[:4])}...\n{proc.stderr}")
    return elapsed, proc


def pipekit_argv(url: str, service: str, env: str, tag: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipekit.update_tag",
        "--gitops-repo",
        url,
        "--path",
        f"{service}/overlays/{env}",
        "--image",
        f"{REGISTRY}/{service}",
        "--tag",
        tag,
        "--service",
        service,
        "--env",
        env,
        *extra,
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "pipekit-bench-gitops.git")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--concurrent", type=int, default=30)
    args = parser.parse_args()
    if not args.repo.exists():
        started = time.monotonic()
        generate(args.repo, 300, 20_000)
        print(f"generated {args.repo} (20,000 commits, 300 services) in {time.monotonic() - started:.1f}s")
    url = args.repo.resolve().as_uri()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PIPEKIT_CONFIG", None)
    with tempfile.TemporaryDirectory(prefix="bench-update-tag-") as tmp:
        return bench(args, url, env, Path(tmp))


def bench(args: argparse.Namespace, url: str, env: dict[str, str], work: Path) -> int:
    env["PIPEKIT_RUN_RECORD"] = str(work / "run.json")
    stamp = int(time.time()) % 100000

    base_times, kit_times = [], []
    for i in range(args.runs):
        tag = f"b{stamp:05d}{i:02d}"
        t, _ = timed(["bash", "-c", BASELINE, "baseline", url, service_name(2 * i), "dev", tag], cwd=work)
        base_times.append(t)
        t, _ = timed(pipekit_argv(url, service_name(2 * i + 1), "dev", tag), env=env, cwd=work)
        kit_times.append(t)
    base, kit = statistics.median(base_times), statistics.median(kit_times)
    print("baseline runs:", " ".join(f"{t:.3f}" for t in base_times))
    print("pipekit runs: ", " ".join(f"{t:.3f}" for t in kit_times))
    print(
        f"baseline clone+sed+commit+push: median {base:.3f}s  min {min(base_times):.3f}s  ({args.runs} runs)"
    )
    print(
        f"pipekit update-tag (kustomize):  median {kit:.3f}s  min {min(kit_times):.3f}s  ({args.runs} runs)"
    )
    paired = statistics.median(k / b for k, b in zip(kit_times, base_times, strict=True))
    print(
        f"ratio of medians {kit / base:.2f}x, median of paired ratios {paired:.2f}x, "
        f"of minimums {min(kit_times) / min(base_times):.2f}x; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"target <= 1.6x and <= 1.0 s: {'PASS' if kit / base <= 1.6 and kit <= 1.0 else 'FAIL'}")

    n = args.concurrent
    if n <= 0:
        return 0
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            pipekit_argv(
                url,
                service_name(100 + i),
                "qa",
                f"c{stamp:05d}{i:02d}",
                "--json",
                "--run-record",
                str(work / f"run{i}.json"),
            ),
            env=env,
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    retries = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"concurrent update failed: {err}")
        retries.append(json.loads(out)["retries"])
    wall = time.perf_counter() - started
    print(
        f"{n} concurrent updates (different services, kustomize on): total wall {wall:.1f}s; retries per "
        f"update: mean {statistics.mean(retries):.1f}, "
        f"median {statistics.median(retries):.0f}, max {max(retries)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
