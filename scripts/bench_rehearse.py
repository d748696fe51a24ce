"""Benchmark: the whole ``pipekit rehearse`` wall time and each stage's share of it.

    .venv/bin/python scripts/bench_rehearse.py [--repeat 1] [--fail-at STAGE] [-- extra rehearse flags]

Each round runs the real CLI in a fresh process (``python -m pipekit rehearse --json``), as a user
would, timing it from the outside (interpreter start-up, the stand-ins' start and stop and the
clean-up included). The stages' own durations come from the JSON result; what is left is the
rehearsal's set-up and tear-down (sample repo, sink, notifications, card page, stopping servers).
Target from issue 17: the whole rehearsal <= 60 s on these machines after installation.
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

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def once(extra: list[str]) -> tuple[float, int, dict[str, float], dict[str, str]]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")}
    env.setdefault("PIPEKIT_CARD_RENDERER_DIR", str(ROOT / ".venv" / "card-renderer"))
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1")
    with tempfile.TemporaryDirectory(prefix="bench-rehearse-") as tmp:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pipekit", "rehearse", "--json", *extra], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.exit(f"rehearse exited {proc.returncode} without a JSON result:\n{proc.stderr[-2000:]}")
    stages = {s["name"]: float(s["duration_s"]) for s in result["stages"]}
    status = {s["name"]: s["status"] if s.get("ran", True) else "not run" for s in result["stages"]}
    return wall, proc.returncode, stages, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--fail-at", default=None)
    parser.add_argument("extra", nargs="*", help="more rehearse flags (after --)")
    args = parser.parse_args()
    extra = [*(["--fail-at", args.fail_at] if args.fail_at else []), *args.extra]
    walls: list[float] = []
    per_stage: dict[str, list[float]] = {}
    status: dict[str, str] = {}
    code = 0
    for i in range(args.repeat):
        wall, code, stages, status = once(extra)
        walls.append(wall)
        for name, took in stages.items():
            per_stage.setdefault(name, []).append(took)
        print(f"round {i + 1}: {wall:.1f} s wall, exit {code}", file=sys.stderr)
    wall = statistics.median(walls)
    print(f"{'stage':<18} {'status':<10} {'median s':>9} {'share':>7}")
    for name, values in per_stage.items():
        took = statistics.median(values)
        print(f"{name:<18} {status.get(name, ''):<10} {took:>9.2f} {took / wall:>7.1%}")
    rest = wall - sum(statistics.median(v) for v in per_stage.values())
    print(f"{'(set-up, cards, clean-up, start-up)':<29} {rest:>9.2f} {rest / wall:>7.1%}")
    verdict = "within" if wall <= TARGET_S else "OVER"
    print(f"whole rehearsal: {wall:.1f} s wall (median of {len(walls)}, exit {code}); {verdict} the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
