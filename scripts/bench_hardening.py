#!/usr/bin/env python3
"""Time and peak memory of the unbounded cases of issue 23 (items 9, 10, 11), before and after.

Each scenario runs pipekit as a real process (``python -m pipekit ...``, as a pipeline step runs
it) against a bounded local server on 127.0.0.1 that stops by itself, and reports its wall time,
its peak resident memory (``wait4``'s ``ru_maxrss``) and its exit code. ``--code before`` runs
the same scenarios against another revision's pipekit, unpacked with ``git archive`` into a
temporary folder (default ``main``); a run that outlives ``--cap`` seconds is stopped and shown
as ``>cap``; the "before" token file is read under a 2 GB address-space limit so that it cannot
take the machine's memory.

    .venv/bin/python scripts/bench_hardening.py                    # this checkout
    .venv/bin/python scripts/bench_hardening.py --code before --ref main --cap 120
    .venv/bin/python scripts/bench_hardening.py --only notify,history
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.testing.serving import canned  # noqa: E402
from pipekit.testing.trickle import Trickle  # noqa: E402

EMAIL, TOKEN = "bench@example.com", "bench-token-0123456789"


def run(
    code: Path,
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    cap: float = 120.0,
    memory_limit: int | None = None,
) -> dict[str, Any]:
    """One pipekit process: wall seconds, peak RSS (MB), exit code (None: stopped at the cap)."""
    full = {**os.environ, "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}

    def limit() -> None:
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipekit", *args],
        cwd=cwd,
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        start_new_session=True,
    )
    stopped = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > cap:
            os.killpg(proc.pid, signal.SIGKILL)
            stopped = True
        time.sleep(0.02)
    took = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    return {
        "seconds": round(took, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": None if stopped else proc.returncode,
        "said": err.strip().splitlines()[-1][:160] if err.strip() else "",
    }


def jira_env(url: str) -> dict[str, str]:
    return {"JIRA_BASE_URL": url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}


# -- the scenarios ------------------------------------------------------------------------------
def notify(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 9: `notify --timeout 5` against a webhook trickling a 200-byte answer (0.2 s a byte: 40 s)."""
    with Trickle("body", interval=0.2, size=200, lifetime=max(cap, 45)) as server:
        return run(
            code,
            ["notify", "--event", "succeeded", "--stage", "build", "--timeout", "5", "--strict"],
            cwd=tmp,
            env={
                "PIPEKIT_TEAMS_WEBHOOK_URL": server.url + "/workflows/x",
                "PIPEKIT_RUN_RECORD": str(tmp / "notify.json"),
            },
            cap=cap,
        )


def jira_trickle(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 9: `jira-gate --timeout 3` against a Jira trickling its answer (200 bytes at 0.2 s: 40 s)."""
    with Trickle("body", interval=0.2, size=200, lifetime=max(cap, 45)) as server:
        return run(
            code,
            ["jira-gate", "--project", "ORD", "--version", "1.0", "--timeout", "3"],
            cwd=tmp,
            env=jira_env(server.url),
            cap=cap,
        )


def jira_pages(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 11: a Jira search that never says it is done (an empty page with a next token, forever)."""
    versions = json.dumps({"values": [{"id": "1", "name": "1.0"}], "isLast": True}).encode()
    endless = json.dumps({"issues": [], "nextPageToken": "more", "isLast": False}).encode()
    with canned(lambda h: (200, versions if "/version" in h.path else endless)) as url:
        return run(
            code,
            [
                "jira-gate",
                "--project",
                "ORD",
                "--version",
                "1.0",
                "--allowed-statuses",
                "Done",
                "--timeout",
                "3",
            ],
            cwd=tmp,
            env=jira_env(url),
            cap=cap,
        )


def jira_big_page(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 11: one 128 MB search page (a broken proxy, a hostile server)."""
    with Trickle("big", size=128 << 20, lifetime=max(cap, 60)) as big:
        # The server answers every path so: the first call (the versions page) already gets 128 MB.
        return run(
            code,
            ["jira-gate", "--project", "ORD", "--version", "1.0", "--timeout", "30"],
            cwd=tmp,
            env=jira_env(big.url),
            cap=cap,
        )


def token_file(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 11: a kubeconfig whose user's tokenFile is /dev/zero (read under a 2 GB address-space limit)."""
    config = tmp / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "k", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"tokenFile": "/dev/zero"}}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "shop"}}],
            }
        )
    )
    return run(
        code,
        [
            "post-sync-test",
            "--wait-ready",
            "deployment/orders",
            "--ready-timeout",
            "20",
            "--junit-dir",
            str(tmp / "junit"),
            "--",
            "true",
        ],
        cwd=tmp,
        env={"KUBECONFIG": str(config)},
        cap=cap,
        memory_limit=2 << 30,
    )


def run_record(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 11: the notify after a build with 200,000 failing tests (the record written by that code)."""
    record = tmp / "failures.json"
    record.unlink(missing_ok=True)
    writer = (
        "import sys\nfrom pipekit.core.runrecord import RunRecord\nfrom pipekit.core import outputs\n"
        "Build = getattr(outputs, 'BuildResult', None) or getattr(outputs, 'BuildOutputs')\n"
        "from pipekit.reports.junit.model import TestCase, TestSummary\n"
        "s = TestSummary()\n"
        "for i in range(200_000):\n"
        "    s.add(TestCase(classname=f'com.acme.Suite{i // 100}', name=f'test{i}', outcome='failed',"
        " message='expected <1> but was <2>' * 4))\n"
        "r = RunRecord.load(sys.argv[1])\n"
        "with r.recording(Build.SECTION) as out:\n    out['tests'] = s.to_record()\n"
    )
    subprocess.run(
        [sys.executable, "-c", writer, str(record)],
        check=True,
        cwd=tmp,
        env={**os.environ, "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    size = record.stat().st_size
    with canned(lambda _h: (200, b"1")) as url:
        got = run(
            code,
            ["notify", "--event", "failed", "--stage", "build", "--run-record", str(record)],
            cwd=tmp,
            env={"PIPEKIT_TEAMS_WEBHOOK_URL": url + "/workflows/x"},
            cap=cap,
        )
    got["record_mb"] = round(size / 1e6, 2)
    return got


def history(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 10: `history` of a GitOps repository holding one commit with a 40 MB message (and `git log`)."""
    repo = tmp / "big-history"
    if not repo.exists():
        repo.mkdir()
        git = ["git", "-C", str(repo), "-c", "user.name=B", "-c", "user.email=b@example.com"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        overlay = repo / "orders" / "overlays" / "prod" / "kustomization.yaml"
        overlay.parent.mkdir(parents=True)
        overlay.write_text("images:\n  - name: orders\n    newTag: v1\n")
        subprocess.run([*git, "add", "."], check=True)
        body = (
            "orders: prod -> v1\n\n"
            + ("0123456789abcdef" * 64 + "\n") * 40_000
            + "\nPipekit-Environment: prod\nPipekit-Service: orders\nPipekit-Tag: v1\n"
        )
        subprocess.run([*git, "commit", "-q", "-F", "-"], input=body.encode(), check=True)
    started = time.monotonic()
    subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%H%x1f%B", "main"], stdout=subprocess.DEVNULL, check=True
    )
    git_log = round(time.monotonic() - started, 2)
    got = run(code, ["history", "--gitops-repo", str(repo), "--service", "orders"], cwd=tmp, cap=cap)
    got["git_log_seconds"] = git_log
    return got


def dora(code: Path, tmp: Path, cap: float) -> dict[str, Any]:
    """Item 11: `dora --since 1900-01-01 --until 9000-12-31 --format html` over 40
    deployments of 2 services."""
    repo = tmp / "dora-history"
    if not repo.exists():
        from tests.fixtures.gitops.history import History, at

        (tmp / "dora-fixture").mkdir()
        h = History(tmp / "dora-fixture", ["orders", "billing"])
        for day in range(20):
            h.deploy("orders", "prod", f"v{day}", at(day), source_at=at(day, -2))
            h.deploy("billing", "prod", f"b{day}", at(day, 1))
        h.push()
        repo.symlink_to(h.bare)
    out = tmp / "dora.html"
    out.unlink(missing_ok=True)
    got = run(
        code,
        [
            "dora",
            "--gitops-repo",
            str(repo),
            "--since",
            "1900-01-01",
            "--until",
            "9000-12-31",
            "--format",
            "html",
            "--out",
            str(out),
        ],
        cwd=tmp,
        cap=cap,
    )
    got["html_mb"] = round(out.stat().st_size / 1e6, 3) if out.exists() else None
    return got


SCENARIOS: dict[str, Callable[[Path, Path, float], dict[str, Any]]] = {
    "notify": notify,
    "jira_trickle": jira_trickle,
    "jira_pages": jira_pages,
    "jira_big_page": jira_big_page,
    "token_file": token_file,
    "run_record": run_record,
    "history": history,
    "dora": dora,
}


def unpack(ref: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "pipekit"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", choices=("this", "before"), default="this")
    parser.add_argument("--ref", default="main", help="the revision 'before' means [default main]")
    parser.add_argument("--cap", type=float, default=120.0, help="stop a run after this many seconds")
    parser.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    args = parser.parse_args()
    wanted = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="bench-hardening-") as tmp_name:
        tmp = Path(tmp_name)
        code = unpack(args.ref, tmp / "code") if args.code == "before" else ROOT
        where = subprocess.run(
            [sys.executable, "-c", "import pipekit; print(pipekit.__file__)"],
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert where.startswith(str(code)), f"pipekit imported from {where}, not {code}"
        print(
            f"pipekit from {code} "
            f"({args.code}{' ' + args.ref if args.code == 'before' else ''}); cap {args.cap:g} s"
        )
        for name in wanted:
            got = SCENARIOS[name](code, tmp, args.cap)
            seconds = f">{args.cap:g}" if got["exit"] is None else f"{got['seconds']:.2f}"
            extra = {k: v for k, v in got.items() if k not in ("seconds", "peak_mb", "exit", "said")}
            print(
                f"{name:14} {seconds:>8} s  peak {got['peak_mb']:>8.1f} MB  exit {got['exit']}  "
                + " ".join(f"{k}={v}" for k, v in extra.items())
                + f"  | {got['said']}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
