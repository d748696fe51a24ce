"""run-pipeline's own cost per step: each step's wall time minus the time its commands took.

The sample pipeline has what costs the runner something: a fresh clone per step, artifacts kept
and restored, two caches (one under ~, one in the clone) restored through overlay mounts after
the first round, a buildah container of a local image for every step, and a podman docker
service in most steps (one builds an image in it). The commands themselves sleep a little, so
that the subtraction is visible. The image is Debian's static busybox in an empty image, built
here (``--image`` takes another local image, e.g. ``localhost/pipekit-base:0.1.0-local``).

    .venv/bin/python scripts/bench_run_pipeline.py [--rounds 5] [--image IMAGE]

Target (issue 20): median per-step overhead <= 1.0 s.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipekit.core.console import Console  # noqa: E402
from pipekit.core.errors import CheckFailed  # noqa: E402
from pipekit.core.step import StepContext  # noqa: E402
from pipekit.run_pipeline import RunPipelineOptions, run  # noqa: E402

TARGET_S = 1.0

PIPELINE = """
image: {image}
definitions:
  caches:
    deps:
      key:
        files: [deps.lock]
      path: ~/.deps
pipelines:
  branches:
    main:
      - step:
          name: Build
          services: [docker]
          caches: [deps, node]
          script:
            - mkdir -p dist ~/.deps node_modules && echo app > dist/app.jar
            - echo dep > ~/.deps/dep && echo mod > node_modules/mod
            - docker build -q -t app:1 .
            - sleep 0.3
          artifacts: [dist/**]
      - parallel:
          - step:
              name: Unit tests
              services: [docker]
              caches: [deps]
              script: [test -f dist/app.jar, mkdir -p reports, echo ok > reports/unit.txt, sleep 0.3]
              artifacts: [reports/*.txt]
          - step:
              name: Lint
              caches: [node]
              script: [ls node_modules, sleep 0.3]
      - step:
          name: Package
          services: [docker]
          caches: [deps]
          script: [cat dist/app.jar reports/unit.txt, docker images -q, sleep 0.3]
          artifacts: [dist/**]
      - step:
          name: Deploy
          deployment: dev
          script: [cat dist/app.jar, sleep 0.3]
"""


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def busybox_image() -> str:
    name = f"localhost/pipekit-bench-busybox:{os.getpid()}"
    container = sh("buildah", "from", "scratch")
    try:
        sh("buildah", "copy", container, "/bin/busybox", "/bin/busybox")
        sh(
            "buildah",
            "run",
            "--isolation",
            "chroot",
            container,
            "--",
            "/bin/busybox",
            "--install",
            "-s",
            "/bin",
        )
        sh("buildah", "config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", container)
        sh("buildah", "commit", "-q", container, name)
    finally:
        sh("buildah", "rm", container)
    return name


def sample_repo(root: Path, image: str) -> Path:
    repo = root / "sample"
    repo.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    (repo / "bitbucket-pipelines.yml").write_text(PIPELINE.format(image=image))
    (repo / "deps.lock").write_text("v1\n")
    (repo / "Dockerfile").write_text("FROM scratch\nCOPY deps.lock /\n")
    for n in range(200):  # a small repository's worth of files for the clones
        (repo / "src" / f"m{n // 20}").mkdir(parents=True, exist_ok=True)
        (repo / "src" / f"m{n // 20}" / f"f{n}.txt").write_text(f"{n}\n" * 50)
    sh("git", "add", ".", cwd=repo)
    sh("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "sample", cwd=repo)
    return repo


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--image", help="a local image to run the steps in [default: a busybox one built here]"
    )
    args = parser.parse_args()
    image = args.image or busybox_image()
    overheads: list[float] = []
    phases: dict[str, list[float]] = {}
    walls: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-run-pipeline-") as tmp:
            root = Path(tmp)
            repo = sample_repo(root, image)
            for n in range(args.rounds):
                ctx = StepContext.create(env=dict(os.environ), cwd=repo)
                ctx.console = Console(stream=open(os.devnull, "w"))  # noqa: SIM115 - the run's output is not the point
                options = RunPipelineOptions(
                    file=repo / "bitbucket-pipelines.yml", cache_dir=root / "cache", ask=False
                )
                began = time.monotonic()
                try:
                    result = run(options, ctx)
                except CheckFailed as exc:
                    raise SystemExit(f"round {n + 1} failed: {exc}") from None
                walls.append(time.monotonic() - began)
                for step in result.steps:
                    assert step.overhead_s is not None
                    overheads.append(step.overhead_s)
                    for name, spent in step.phases.items():
                        if name == "script":  # the container's start and end around the commands
                            phases.setdefault("script around commands", []).append(
                                spent - (step.commands_s or 0)
                            )
                        else:
                            phases.setdefault(name, []).append(spent)
                print(
                    f"round {n + 1}: {walls[-1]:.2f} s, "
                    + ", ".join(f"{s.name} {s.duration_s:.2f}-{s.commands_s:.2f}" for s in result.steps)
                )
    finally:
        if not args.image:
            subprocess.run(["buildah", "rmi", image], capture_output=True)
    median = statistics.median(overheads)
    print(f"\nsteps measured: {len(overheads)} ({args.rounds} rounds of 5 steps)")
    print(
        f"runner's own cost per step (wall - commands): median {median:.3f} s, "
        f"p90 {statistics.quantiles(overheads, n=10)[-1]:.3f} s, max {max(overheads):.3f} s "
        f"(target <= {TARGET_S} s)"
    )
    print(
        "median seconds per step by phase (clone, image and services overlap): "
        + ", ".join(f"{name} {statistics.median(values):.3f}" for name, values in sorted(phases.items()))
    )
    print(f"whole run: median {statistics.median(walls):.2f} s")
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
