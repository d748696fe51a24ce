#!/usr/bin/env python
"""Benchmark `pipekit wait-for-argocd` against the local Argo CD stand-in.

1. Detection latency: the stand-in moves the app to its final state (revision E synced, healthy,
   hooks passed); we time from that moment to the exit of the step's process. Median of N runs,
   with the watch stream and with --no-stream (re-reads every --poll-interval, default 3 s).
2. CPU while waiting on a quiet app (never reaches E) for 60 s: utime+stime of the step's
   process from /proc/PID/stat, sampled once its stream is connected and 60 s later.

    .venv/bin/python scripts/bench_wait_for_argocd.py [--runs 10] [--cpu-seconds 60]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.testing.argocd import ArgoCDStandIn  # noqa: E402

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
OLD = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
TICK = os.sysconf("SC_CLK_TCK")


def start_step(argo: ArgoCDStandIn, app: str, *extra: str, timeout: float = 60) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ARGOCD_SERVER": argo.server,
        "ARGOCD_AUTH_TOKEN": argo.token,
        "CI": "1",
        "PIPEKIT_RUN_RECORD": "/tmp/pipekit-bench-argocd/run.json",
        "PYTHONPATH": str(ROOT),
    }
    for name in list(env):
        if name.startswith("PIPEKIT_ARGOCD"):
            del env[name]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit.wait_for_argocd",
            "--app",
            app,
            "--revision",
            E,
            "--plaintext",
            "--timeout",
            str(timeout),
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd="/tmp",
    )


def wait_until(check, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("the step did not start waiting in time")
        time.sleep(0.01)


def latency_once(argo: ArgoCDStandIn, n: int, stream: bool) -> float:
    app = f"bench-{'s' if stream else 'p'}-{n}"
    argo.add_app(app, revision=OLD)
    proc = start_step(argo, app, *([] if stream else ["--no-stream"]))
    marker = (
        f"/api/v1/stream/applications?name={app}" if stream else f"/api/v1/applications/{app}?refresh=normal"
    )
    wait_until(lambda: any(p == marker for _, p in argo.requests))
    # without the stream, land anywhere in a poll period (3 s) so the median is not an artefact
    time.sleep(random.uniform(0.3, 1.0) if stream else random.uniform(0.3, 3.3))
    argo.set_state(
        app,
        revision=E,
        op_revision=E,
        phase="Succeeded",
        sync="Synced",
        health="Healthy",
        hooks=[{"name": "smoke-test", "phase": "Succeeded"}],
    )
    reached = argo.changed_at(app)
    code = proc.wait(60)
    done = time.monotonic()
    if code != 0:
        raise RuntimeError(f"step exited {code}: {proc.stderr.read().decode() if proc.stderr else ''}")
    return done - reached


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def cpu_quiet(argo: ArgoCDStandIn, seconds: float) -> tuple[float, float]:
    argo.add_app("quiet", revision=OLD)
    proc = start_step(argo, "quiet", timeout=seconds + 30)
    wait_until(lambda: any(p == "/api/v1/stream/applications?name=quiet" for _, p in argo.requests))
    time.sleep(0.5)
    before, t0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(seconds)
    after, t1 = cpu_seconds(proc.pid), time.monotonic()
    proc.terminate()
    proc.wait(10)
    used = after - before
    return used, 100.0 * used / (t1 - t0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    args = parser.parse_args()
    Path("/tmp/pipekit-bench-argocd").mkdir(exist_ok=True)
    with ArgoCDStandIn() as argo:
        results = {}
        for stream in (True, False):
            runs = [latency_once(argo, i, stream) for i in range(args.runs)]
            results[stream] = runs
            label = "with stream" if stream else "without stream (--no-stream, poll every 3 s)"
            print(
                f"detection latency {label}: median {statistics.median(runs):.3f} s "
                f"(min {min(runs):.3f}, max {max(runs):.3f}, n={len(runs)})",
                flush=True,
            )
        used, percent = cpu_quiet(argo, args.cpu_seconds)
        print(
            f"CPU while waiting {args.cpu_seconds:g} s on a quiet app: "
            f"{used:.2f} s = {percent:.2f}% of one core",
            flush=True,
        )
    ok = statistics.median(results[True]) <= 0.3 and percent <= 2.0
    print("targets (median <= 0.3 s with stream, CPU <= 2%):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
