#!/usr/bin/env python
"""Benchmark ``pipekit ecr-push`` against moto_server + a local docker-registry.

(a) the skip path: every tag already in ECR with the same image (target <= 1.5 s wall);
(b) a push of a 50 MB image (FROM scratch + COPY of 50 MB of random bytes, built by buildah)
    against ``skopeo copy`` of the same image to the same kind of registry in the same run
    (target <= 1.2x). Each push in (b) goes to a fresh registry (new filesystem root), so no
    blob is already there; the order alternates between rounds.

Run: ``/work/main/.venv/bin/python scripts/bench_ecr_push.py [--rounds 3] [--size-mb 50]``
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
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.testing.moto import MotoServer  # noqa: E402
from pipekit.testing.registry import LocalRegistry  # noqa: E402


def build(tmp: Path, size_mb: int, name: str) -> str:
    ctx = tmp / "ctx"
    ctx.mkdir()
    with open(ctx / "blob.bin", "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(1024 * 1024))
    (ctx / "Containerfile").write_text("FROM scratch\nCOPY blob.bin /blob.bin\n")
    ref = f"localhost/{name}:bench"
    subprocess.run(["buildah", "bud", "-q", "--layers=false", "-t", ref, str(ctx)], check=True, capture_output=True)
    return ref


def pipekit(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipekit", "ecr-push", *args], env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pipekit ecr-push failed ({done.returncode}): {done.stderr}")
    return elapsed


def startup(env: dict[str, str]) -> float:
    """Wall time of ``python -m pipekit ecr-push --help``: the CLI start-up every run pays first."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipekit", "ecr-push", "--help"], env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def skopeo(ref: str, dest: str) -> float:
    started = time.perf_counter()
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"containers-storage:{ref}",
                    f"docker://{dest}"], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=50)
    args = parser.parse_args()
    name = f"pipekit-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="pipekit-bench-") as tmp_s, MotoServer() as moto:
        tmp = Path(tmp_s)
        ref = build(tmp, args.size_mb, name)
        try:
            env = dict(os.environ, **moto.aws_env(), PYTHONPATH=str(ROOT),
                       PIPEKIT_RUN_RECORD=str(tmp / "run.json"), REGISTRY_AUTH_FILE=str(tmp / "auth.json"))
            env.pop("PIPEKIT_DEBUG", None)
            ecr = moto.client("ecr")
            pushes: list[float] = []
            copies: list[float] = []
            for n in range(args.rounds):
                repo = f"bench-{n}"
                ecr.create_repository(repositoryName=repo)
                (tmp / "run.json").unlink(missing_ok=True)  # no login to reuse: the full push path
                common = ["--image", ref, "--tags", "1.0.0", "--repository", repo, "--container-tool", "buildah"]
                order = ["pipekit", "skopeo"] if n % 2 == 0 else ["skopeo", "pipekit"]
                for who in order:
                    with LocalRegistry() as reg:  # a fresh, empty registry for every push
                        if who == "pipekit":
                            pushes.append(pipekit(env, *common, "--registry-override", reg.host))
                        else:
                            copies.append(skopeo(ref, f"{reg.host}/{repo}:1.0.0"))
            # (a) the skip path: the last pushed repository already holds the tags
            with LocalRegistry() as reg:
                ecr.create_repository(repositoryName="bench-skip")
                skip_args = ["--image", ref, "--tags", "1.0.0 abc1234 latest", "--repository", "bench-skip",
                             "--container-tool", "buildah", "--registry-override", reg.host]
                pipekit(env, *skip_args)
                skips = [pipekit(env, *skip_args) for _ in range(5)]
            starts = [startup(env) for _ in range(5)]
        finally:
            subprocess.run(["buildah", "rmi", ref], capture_output=True)
    push_med, copy_med, skip_med = statistics.median(pushes), statistics.median(copies), statistics.median(skips)
    figures = {
        "skip_path_s": {"median": round(skip_med, 3), "max": round(max(skips), 3), "target": 1.5,
                        "ok": max(skips) <= 1.5},
        "push_50mb": {"size_mb": args.size_mb, "pipekit_s": [round(x, 3) for x in pushes],
                      "skopeo_copy_s": [round(x, 3) for x in copies], "pipekit_median": round(push_med, 3),
                      "skopeo_median": round(copy_med, 3), "ratio": round(push_med / copy_med, 3), "target": 1.2,
                      "ok": push_med / copy_med <= 1.2, "overhead_s": round(push_med - copy_med, 3),
                      "overhead_allowed_s": round(0.2 * copy_med, 3)},
        "cli_startup_s": {"median": round(statistics.median(starts), 3),
                          "what": "python -m pipekit ecr-push --help: paid before any work"},
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
