"""Benchmark `pipekit post-sync-test` against the Kubernetes API stand-in (a real process, real HTTP).

1. Latency: from the moment the last condition holds (the last old pod of a rollout is deleted on the
   stand-in) to the suite command starting (it writes ``time.monotonic()`` first thing; CLOCK_MONOTONIC
   is one clock for every process on the machine). pipekit is already waiting when the rollout starts.
2. CPU while waiting: utime + stime of the pipekit process (from /proc) over a window in which it waits
   on a rollout that does not finish, after its start-up.

    .venv/bin/python scripts/bench_post_sync_test.py [--runs 15] [--window 60] [--no-poll]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipekit.testing.kubernetes import KubernetesStandIn, Rollout  # noqa: E402
from pipekit.testing.kubernetes.__main__ import kubeconfig  # noqa: E402

NS = "bench"
SUITE = (
    "import time, os; t = time.monotonic(); d = os.environ['JUNIT']; os.makedirs(d, exist_ok=True); "
    "open(os.environ['STARTED'], 'w').write(repr(t)); "
    "open(d + '/r.xml', 'w').write('<testsuite name=\"b\" tests=\"1\"><testcase name=\"t\"/></testsuite>')"
)


def start(tmp: Path, kube: KubernetesStandIn, *flags: str, timeout: float = 60) -> subprocess.Popen[str]:
    config = tmp / "kubeconfig"
    config.write_text(json.dumps(kubeconfig(kube.url, kube.token, NS)))
    env = {
        **os.environ,
        "KUBECONFIG": str(config),
        "PIPEKIT_RUN_RECORD": str(tmp / "run.json"),
        "STARTED": str(tmp / "started"),
        "JUNIT": str(tmp / "results"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("KUBERNETES_SERVICE_HOST", None)
    argv = [
        sys.executable,
        "-m",
        "pipekit",
        "post-sync-test",
        "--wait-ready",
        "deployment/orders",
        "--junit-dir",
        str(tmp / "results"),
        "--ready-timeout",
        str(timeout),
        *flags,
        "--",
        sys.executable,
        "-S",
        "-c",
        SUITE,
    ]
    return subprocess.Popen(
        argv, env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
    raise SystemExit(f"pipekit ended before printing {text!r} (exit {proc.wait()})")


def latency(runs: int, flags: tuple[str, ...]) -> list[float]:
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d, KubernetesStandIn() as kube:
            tmp = Path(d)
            rollout = Rollout(kube, "orders", NS, replicas=2)
            steps = rollout.steps(step=0.05, linger=0.2)
            steps[0][1]()  # the spec change: generation not observed yet, so not ready
            proc = start(tmp, kube, *flags)
            wait_for_line(proc, "Waiting for deployment spec update to be observed")
            time.sleep(0.3)  # its mirrors have listed and are watching
            kube.play(steps[1:])
            assert proc.stdout is not None
            said = proc.stdout.read()
            code = proc.wait(60)
            if code != 0 or rollout.completed_at is None:
                raise SystemExit(f"run failed: exit {code}: {said[-1500:]}")
            out.append(float((tmp / "started").read_text()) - rollout.completed_at)
    return out


def cpu(window: float) -> tuple[float, float]:
    """CPU seconds used by the waiting pipekit process over ``window`` seconds, and the share of one core."""
    tick = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory() as d, KubernetesStandIn() as kube:
        tmp = Path(d)
        Rollout(kube, "orders", NS, replicas=2).start(step=0.05, linger=window + 30)
        proc = start(tmp, kube, timeout=window + 20)
        wait_for_line(proc, "Waiting for deployment 'orders'")  # started, listed, judged: now only waiting

        def used() -> float:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick

        before, t0 = used(), time.monotonic()
        time.sleep(window)
        spent, elapsed = used() - before, time.monotonic() - t0
        proc.terminate()
        proc.wait(10)
    return spent, spent / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--no-poll", action="store_true", help="skip the poll (--no-watch) comparison")
    args = parser.parse_args()
    watched = latency(args.runs, ())
    print(
        f"latency last condition -> suite start, watch: median {statistics.median(watched):.3f} s, "
        f"p90 {sorted(watched)[int(0.9 * (len(watched) - 1))]:.3f} s, "
        f"max {max(watched):.3f} s ({args.runs} runs)"
    )
    if not args.no_poll:
        polled = latency(max(3, args.runs // 3), ("--no-watch",))
        print(
            f"latency last condition -> suite start, poll every 2 s: median {statistics.median(polled):.3f} "
            f"s ({len(polled)} runs)"
        )
    spent, share = cpu(args.window)
    print(f"CPU while waiting {args.window:g} s: {spent:.3f} s = {100 * share:.2f}% of one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
