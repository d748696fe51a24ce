#!/usr/bin/env python3
"""Benchmark `pipekit notify` start-up and one full notification against `python -c 'import click'`.

    .venv/bin/python scripts/bench_notify.py [--runs 11]

Measures, interleaved in the same run (median wall time of N runs each):
  floor   .venv/bin/python -c 'import click'
  help    .venv/bin/python -m pipekit.notify --help                 target <= 1.5x floor
  notify  .venv/bin/python -m pipekit.notify --event succeeded ...  target <= 2.5x floor
          (Bitbucket variables set, Teams webhook = a local sink on 127.0.0.1, fresh run record each time)
  via-requests  the same notify with the POST through pipekit.core.http (requests + tenacity) instead
          of the hand-written http.client transport: that transport stays only while it saves at
          least 10% of notify's wall time (the 10% rule, docs/architecture.md)

The wall-time ratios move with the machine's load (six sessions share two cores here); the CPU
ratio printed next to them is steadier. A full notify loads http.client (about 15-20 ms with its
email parser and ssl); --help does not.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.testing.sink import WebhookSink  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
# notify with its webhook POST through the requests session every other client uses
VIA_REQUESTS = """
import sys
import pipekit.clients.webhook as webhook

def post_json(url, body, *, policy=None, label="webhook", env=None, on_retry=None):
    from pipekit.core.http import session
    pol = policy or webhook.Policy()
    with session(attempts=pol.attempts, total_timeout=pol.total_timeout,
                 timeout=(pol.connect_timeout, pol.read_timeout)) as s:
        r = s.post(url, data=body, headers={"Content-Type": "application/json"})
    return webhook.Answer(r.status_code, r.text[:webhook.MAX_BODY], dict(r.headers))

webhook.post_json = post_json
from pipekit.notify import main
main()
"""


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``cmd``."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    # As installed: byte-code compiled (click's is, in site-packages); PYTHONDONTWRITEBYTECODE would
    # make every run compile pipekit from source and measure the compiler instead.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BITBUCKET_", "PIPEKIT_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    subprocess.run(
        [PY, "-m", "compileall", "-q", str(ROOT / "pipekit")],
        env=base,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    with WebhookSink() as sink, tempfile.TemporaryDirectory() as tmp:
        env = dict(
            base,
            BITBUCKET_COMMIT="0123456789abcdef0123456789abcdef01234567",
            BITBUCKET_BRANCH="main",
            BITBUCKET_BUILD_NUMBER="42",
            BITBUCKET_REPO_FULL_NAME="acme/orders",
            BITBUCKET_REPO_SLUG="orders",
            PIPEKIT_TEAMS_WEBHOOK_URL=sink.url("teams"),
        )
        commands = {
            "floor": [PY, "-c", "import click"],
            "help": [PY, "-m", "pipekit.notify", "--help"],
            "notify": [PY, "-m", "pipekit.notify", "--event", "succeeded", "--stage", "build"],
            "via-requests": [PY, "-c", VIA_REQUESTS, "--event", "succeeded", "--stage", "build"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.runs + 1):
            for name, cmd in commands.items():
                run_env = dict(env, PIPEKIT_RUN_RECORD=str(Path(tmp) / f"run-{name}-{i}.json"))
                elapsed, used = timed(cmd, run_env, tmp)
                if i > 0:  # the first round warms the page cache
                    times[name].append(elapsed)
                    cpu[name].append(used)
        delivered = len(sink.requests)
    med = {name: statistics.median(values) for name, values in times.items()}
    med_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    floor = med["floor"]
    load = os.getloadavg()[0]
    print(
        f"runs: {args.runs} each, interleaved; medians; {delivered} notifications delivered to the sink; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    for name, target in (("floor", None), ("help", 1.5), ("notify", 2.5), ("via-requests", None)):
        ratio = med[name] / floor
        verdict = "" if target is None else f"  target <= {target}x: {'OK' if ratio <= target else 'MISSED'}"
        print(
            f"  {name:<12} wall {med[name] * 1000:7.1f} ms  {ratio:4.2f}x floor{verdict}"
            f"   (cpu {med_cpu[name] * 1000:6.1f} ms, {med_cpu[name] / med_cpu['floor']:4.2f}x)"
        )
    saved = 1 - med["notify"] / med["via-requests"]
    saved_cpu = 1 - med_cpu["notify"] / med_cpu["via-requests"]
    print(
        f"  the http.client transport saves {saved:.0%} of notify's wall time ({saved_cpu:.0%} of its CPU) "
        f"against requests: {'keep it' if saved >= 0.10 else 'below the 10% rule: use requests'}"
    )
    return 0 if med["help"] <= 1.5 * floor and med["notify"] <= 2.5 * floor else 1


if __name__ == "__main__":
    raise SystemExit(main())
