"""Benchmark: the whole ``pipekit rehearse`` (init's pipeline through run-pipeline, dev to prod)
and pipekit's share.

    .venv/bin/python scripts/bench_rehearse.py [--repeat 1] [--image none|REF] [--fail-at WHAT]
        [-- more flags]

Each round runs the real CLI in a fresh process (``python -m pipekit rehearse --json``), as a user
would, timed from the outside (start-up, the stand-ins' start and stop, the clean-up included).
From the JSON result: each pipeline step's time, the time in the tools pipekit drives on the
pipeline's path (Maven, buildah/podman, git, semgrep, kubectl: what each step's pipekit commands
ran, from ``PIPEKIT_TIMINGS``, plus the runner's clone, container and docker-service work), and
pipekit's own share (everything else). Target from issue 20: the whole rehearsal <= 60 s here.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def once(extra: list[str]) -> tuple[float, int, dict[str, Any]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")
    }
    env.setdefault("PIPEKIT_CARD_RENDERER_DIR", str(ROOT / ".venv" / "card-renderer"))
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1")
    with tempfile.TemporaryDirectory(prefix="bench-rehearse-") as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pipekit", "rehearse", "--json", *extra],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - started
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.exit(f"rehearse exited {proc.returncode} without a JSON result:\n{proc.stderr[-2000:]}")
    if "result" in result and "stages" not in result:  # a failed rehearsal (--fail-at): its result inside
        result = result["result"]
    return wall, proc.returncode, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--image", default=None, help="rehearse --image (none: the steps on this machine)")
    parser.add_argument("--fail-at", default=None)
    parser.add_argument("extra", nargs="*", help="more rehearse flags (after --)")
    args = parser.parse_args()
    extra = [
        *(["--image", args.image] if args.image else []),
        *(["--fail-at", args.fail_at] if args.fail_at else []),
        *args.extra,
    ]
    walls, inner, own = [], [], []
    steps: dict[str, list[float]] = {}
    tools: dict[str, list[float]] = {}
    where, code = "", 0
    for i in range(args.repeat):
        wall, code, result = once(extra)
        walls.append(wall)
        inner.append(float(result["duration_s"]))
        own.append(float(result["pipekit_s"]))
        for stage in result["stages"]:
            steps.setdefault(stage["name"], []).append(float(stage["duration_s"]))
        for tool, seconds in result["tools_s"].items():
            tools.setdefault(tool, []).append(float(seconds))
        where = str(result["where"])
        print(f"round {i + 1}: {wall:.1f} s wall, exit {code}", file=sys.stderr)
    wall = statistics.median(walls)
    print(f"where: {where}")
    print(f"{'step':<38} {'median s':>9}")
    for name, values in steps.items():
        print(f"{name:<38} {statistics.median(values):>9.2f}")
    tool_total = sum(statistics.median(v) for v in tools.values())
    print(
        f"{'tools on the path':<38} {tool_total:>9.2f}  "
        + ", ".join(
            f"{t} {statistics.median(v):.2f}" for t, v in sorted(tools.items(), key=lambda kv: -sum(kv[1]))
        )
    )
    print(
        f"{'pipekit own share (in-process view)':<38} {statistics.median(own):>9.2f}  "
        f"({statistics.median(own) / statistics.median(inner):.0%} of the rehearsal's own "
        f"{statistics.median(inner):.1f} s)"
    )
    print(f"{'start-up and exit (outside the result)':<38} {wall - statistics.median(inner):>9.2f}")
    verdict = "within" if wall <= TARGET_S else "OVER"
    print(
        f"whole rehearsal: {wall:.1f} s wall (median of {len(walls)}, exit {code}); {verdict} the "
        f"{TARGET_S:.0f} s target"
    )


if __name__ == "__main__":
    main()
