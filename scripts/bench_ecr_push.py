#!/usr/bin/env python
"""Benchmark ``pipekit ecr-push`` against moto_server + a local docker-registry.

(a) the skip path: every tag already in ECR with the same image (target <= 1.5 s wall);
(b) a push of a 50 MB image (FROM scratch + COPY of 50 MB of random bytes, built by buildah)
    against ``skopeo copy`` of the same image to the same kind of registry in the same run
    (target from issue 10: at most 0.5 s more than ``skopeo copy``; the older 1.2x ratio is
    still printed, and not met here: docs/ecr_push.md says why). Each push in (b) goes to a
    fresh registry (new filesystem root), so no blob is already there; the order rotates between
    rounds. pipekit runs as a real CLI process
    (``python -m pipekit ecr-push``, start-up included) from a git checkout that is not a source
    tree. Besides wall times it reports CPU seconds (user + sys of the process and its children,
    e.g. buildah): on a machine whose cores are busy with other work, wall time follows CPU.

Run: ``/work/main/.venv/bin/python scripts/bench_ecr_push.py [--rounds 3] [--size-mb 50]
[--baseline-tree DIR]``; for before/after figures in one run, unpack an older revision with
``git archive REV pipekit | tar -x -C DIR`` and pass ``--baseline-tree DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    subprocess.run(
        ["buildah", "bud", "-q", "--layers=false", "-t", ref, str(ctx)], check=True, capture_output=True
    )
    return ref


CPU: dict[str, list[float]] = {}  # CPU seconds (user + sys) of each run and its child processes


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pipekit(env: dict[str, str], *args: str, tree: Path = ROOT, who: str = "pipekit") -> float:
    """One real CLI process, start-up included; ``tree`` picks the pipekit source (for --baseline-tree)."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", *args],
        env={**env, "PYTHONPATH": str(tree)},
        cwd=env["PIPEKIT_BENCH_CWD"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    CPU.setdefault(who, []).append(_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"pipekit ecr-push failed ({done.returncode}): {done.stderr}")
    return elapsed


def startup(env: dict[str, str]) -> float:
    """Wall time of ``python -m pipekit ecr-push --help``: the CLI start-up every run pays first."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", "--help"],
        env=env,
        cwd=env["PIPEKIT_BENCH_CWD"],
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def skopeo(ref: str, dest: str) -> float:
    started, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"containers-storage:{ref}",
            f"docker://{dest}",
        ],
        check=True,
        capture_output=True,
    )
    CPU.setdefault("skopeo", []).append(_cpu() - cpu)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        help="another pipekit source tree (e.g. `git archive REV pipekit | tar -x -C DIR`) pushed "
        "in the same rounds, for before/after figures",
    )
    args = parser.parse_args()
    name = f"pipekit-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="pipekit-bench-") as tmp_s, MotoServer() as moto:
        tmp = Path(tmp_s)
        ref = build(tmp, args.size_mb, name)
        try:
            env = dict(
                os.environ,
                **moto.aws_env(),
                PYTHONPATH=str(ROOT),
                PIPEKIT_RUN_RECORD=str(tmp / "run.json"),
                REGISTRY_AUTH_FILE=str(tmp / "auth.json"),
            )
            env.pop("PIPEKIT_DEBUG", None)
            # cwd: a git checkout as in a pipeline (the step reads commit facts), but not a source tree
            # (`python -m` puts the cwd first on sys.path, which would beat --baseline-tree)
            work = tmp / "checkout"
            work.mkdir()
            git = ["git", "-C", str(work), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
            subprocess.run([*git, "init", "-q"], check=True)
            subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "bench"], check=True)
            env["PIPEKIT_BENCH_CWD"] = str(work)
            ecr = moto.client("ecr")
            pushes: list[float] = []
            copies: list[float] = []
            baseline: list[float] = []
            contenders = ["pipekit", "skopeo", *(["baseline"] if args.baseline_tree else [])]
            for n in range(args.rounds):
                repo = f"bench-{n}"
                order = contenders[n % len(contenders) :] + contenders[: n % len(contenders)]
                if len(contenders) == 2 and n % 2:
                    order = order[::-1]
                for who in order:
                    if who != "skopeo":  # its own ECR repository, no login to reuse: the full push path
                        ecr.create_repository(repositoryName=f"{repo}-{who}")
                        (tmp / "run.json").unlink(missing_ok=True)
                    common = [
                        "--image",
                        ref,
                        "--tags",
                        "1.0.0",
                        "--repository",
                        f"{repo}-{who}",
                        "--container-tool",
                        "buildah",
                    ]
                    with LocalRegistry() as reg:  # a fresh, empty registry for every push
                        if who == "pipekit":
                            pushes.append(pipekit(env, *common, "--registry-override", reg.host))
                        elif who == "baseline":
                            baseline.append(
                                pipekit(
                                    env,
                                    *common,
                                    "--registry-override",
                                    reg.host,
                                    tree=args.baseline_tree,
                                    who="baseline",
                                )
                            )
                        else:
                            copies.append(skopeo(ref, f"{reg.host}/{repo}:1.0.0"))
            # (a) the skip path: the last pushed repository already holds the tags
            with LocalRegistry() as reg:
                ecr.create_repository(repositoryName="bench-skip")
                skip_args = [
                    "--image",
                    ref,
                    "--tags",
                    "1.0.0 abc1234 latest",
                    "--repository",
                    "bench-skip",
                    "--container-tool",
                    "buildah",
                    "--registry-override",
                    reg.host,
                ]
                pipekit(env, *skip_args, who="first")
                skips = [pipekit(env, *skip_args, who="skip") for _ in range(5)]
            starts = [startup(env) for _ in range(5)]
        finally:
            subprocess.run(["buildah", "rmi", ref], capture_output=True)
    push_med, copy_med, skip_med = (
        statistics.median(pushes),
        statistics.median(copies),
        statistics.median(skips),
    )
    figures = {
        "skip_path_s": {
            "median": round(skip_med, 3),
            "max": round(max(skips), 3),
            "target": 1.5,
            "ok": max(skips) <= 1.5,
        },
        "push_50mb": {
            "size_mb": args.size_mb,
            "pipekit_s": [round(x, 3) for x in pushes],
            "skopeo_copy_s": [round(x, 3) for x in copies],
            "pipekit_median": round(push_med, 3),
            "skopeo_median": round(copy_med, 3),
            "ratio": round(push_med / copy_med, 3),
            "overhead_s": round(push_med - copy_med, 3),
            "overhead_target_s": 0.5,
            "ok": push_med - copy_med <= 0.5,
            "ratio_1_2x_met": push_med / copy_med <= 1.2,
            "cpu_s": {
                k: round(statistics.median(CPU[k]), 3) for k in ("pipekit", "skopeo", "baseline") if k in CPU
            },
        },
        **(
            {
                "baseline_push_50mb": {
                    "tree": str(args.baseline_tree),
                    "pipekit_s": [round(x, 3) for x in baseline],
                    "median": round(statistics.median(baseline), 3),
                    "ratio": round(statistics.median(baseline) / copy_med, 3),
                    "overhead_s": round(statistics.median(baseline) - copy_med, 3),
                }
            }
            if baseline
            else {}
        ),
        "cli_startup_s": {
            "median": round(statistics.median(starts), 3),
            "what": "python -m pipekit ecr-push --help: paid before any work",
        },
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
