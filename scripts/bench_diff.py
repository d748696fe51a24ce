#!/usr/bin/env python3
"""Benchmark ``pipekit diff`` of 20 services with 50 commits each between two environments, and
what the release notes add to ``pipekit promote``.

    .venv/bin/python scripts/bench_diff.py [--runs 3] [--keep DIR] [--services 20] [--commits 50]

Service repositories (local, ``git fast-import``): 2 x ``--commits`` commits each, two Jira keys in
every fifth message. The GitOps repository (fast-import too, update-tag's own commit messages and
trailers): prod runs each service's commit N, qa its commit 2N, so qa -> prod carries N commits per
service. Target: <= 2 s wall for the whole diff (Markdown release notes), best of ``--runs``.

The promotion: ``pipekit promote --from qa --to prod`` of one service (as its own pipeline runs it)
and of all of them, with the release notes (the service repositories named) and with
``--no-release-notes``, each on a fresh copy of the GitOps repository, runs alternating; the
figure is the difference of the medians. Target: <= 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from bench_dora import best, load  # noqa: E402
from gen_gitops_repo import OVERLAY, REGISTRY, data  # noqa: E402

from pipekit.update_tag import UpdateTagOptions, commit_message  # noqa: E402

TARGET_S = 2.0
WHEN = 1_780_000_000


def service_repo(path: Path, service: str, commits: int) -> list[str]:
    out = bytearray()
    for n in range(commits):
        who = ("Alice", "Bob", "Carol")[n % 3]
        keys = f"SVC-{n} SVC-{n + 1000} " if n % 5 == 0 else ""
        message = f"{keys}Change {n} of {service}\n\nWhy it changed, in a few words.\n"
        out.extend(b"commit refs/heads/main\n")
        out.extend(f"author {who} <{who.lower()}@example.com> {WHEN + n * 60} +0000\n".encode())
        out.extend(f"committer {who} <{who.lower()}@example.com> {WHEN + n * 60} +0000\n".encode())
        out.extend(data(message))
        out.extend(b"M 100644 inline src/file.txt\n")
        out.extend(data(f"{service} {n}\n"))
        out.extend(b"\n")
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(out), check=True)
    return subprocess.run(
        ["git", "rev-list", "--reverse", "main"], cwd=path, capture_output=True, text=True, check=True
    ).stdout.split()


def gitops_repo(path: Path, pins: dict[str, dict[str, str]]) -> None:
    """A seed commit with every overlay, then one update-tag commit per service and environment."""
    out = bytearray()
    when = WHEN + 10**6

    def commit(message: str, files: list[tuple[str, str]]) -> None:
        nonlocal when
        when += 60
        out.extend(b"commit refs/heads/main\n")
        out.extend(f"committer pipekit <pipekit@localhost> {when} +0000\n".encode())
        out.extend(data(message))
        for file, text in files:
            out.extend(f"M 100644 inline {file}\n".encode())
            out.extend(data(text))
        out.extend(b"\n")

    commit(
        "Seed\n",
        [
            (
                f"{s}/overlays/{env}/kustomization.yaml",
                OVERLAY.format(s=s, env=env, registry=REGISTRY, tag="0000000"),
            )
            for s in pins
            for env in ("qa", "prod")
        ],
    )
    for env in ("prod", "qa"):
        for service, by_env in pins.items():
            sha = by_env[env]
            file = f"{service}/overlays/{env}/kustomization.yaml"
            options = UpdateTagOptions(
                gitops_repo="",
                path=file,
                image=f"{REGISTRY}/{service}",
                tag=sha[:7],
                environment=env,
                service=service,
                source_commit=sha,
                source_committed_at="2026-06-01T00:00:00+00:00",
                build_number=1,
            )
            commit(
                commit_message(options, service, None),
                [(file, OVERLAY.format(s=service, env=env, registry=REGISTRY, tag=sha[:7]))],
            )
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(out), check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Reuse/keep the generated repositories here.")
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument(
        "--commits", type=int, default=50, help="Commits between the environments, per service."
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-diff-"))
    work.mkdir(parents=True, exist_ok=True)
    services = [f"svc{i:02d}" for i in range(args.services)]
    gitops = work / "gitops.git"
    if not gitops.exists():
        started = time.perf_counter()
        pins = {}
        for s in services:
            shas = service_repo(work / f"{s}.git", s, 2 * args.commits)
            pins[s] = {"prod": shas[args.commits - 1], "qa": shas[2 * args.commits - 1]}
        gitops_repo(gitops, pins)
        print(
            f"generated {len(services)} service repositories and the GitOps one in "
            f"{time.perf_counter() - started:.1f} s"
        )
    argv = [
        "diff",
        "--gitops-repo",
        str(gitops),
        "--from",
        "qa",
        "--to",
        "prod",
        "--json",
        "--format",
        "markdown",
        "--out",
        str(work / "notes.md"),
        *[a for s in services for a in ("--source-repo", f"{s}={work}/{s}.git")],
    ]
    print(f"before: {load()}")
    wall, cpu, rss, out = best(argv, args.runs)
    result = json.loads(out)
    print(
        f"diff qa -> prod, {len(services)} services x {args.commits} commits ({result['commits']} commits, "
        f"{len(result['jira_keys'])} Jira keys): {wall:.2f} s wall (target <= {TARGET_S:.0f} s), {cpu:.2f} s "
        f"CPU, peak RSS {rss / 1024:.0f} MiB"
    )
    assert result["commits"] == len(services) * args.commits, result["counts"]
    added = []
    for label, chosen in (("one service", services[:1]), (f"{len(services)} services", services)):
        cost, cpu = promote_cost(work, gitops, chosen, args.runs)
        added.append(cost)
        print(
            f"promote qa -> prod, {label}: the release notes add {cost:+.3f} s wall, {cpu:+.3f} s CPU "
            f"(target <= {PROMOTE_TARGET_S} s; medians of {max(args.runs, 5)} runs each way)"
        )
    print(f"after: {load()}")
    return 0 if wall <= TARGET_S and max(added) <= PROMOTE_TARGET_S else 1


PROMOTE_TARGET_S = 0.2


def promote_cost(work: Path, gitops: Path, services: list[str], runs: int) -> tuple[float, float]:
    """(wall, CPU) the release notes add: differences of the medians, notes on against off."""
    config = work / "pipekit.yaml"
    config.write_text("environments:\n  qa: {}\n  prod: {from: qa}\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PIPEKIT_CONFIG": str(config),
        "PIPEKIT_RUN_RECORD": str(work / "run.json"),
    }
    times: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for n in range(max(runs, 5)):
        for notes in (True, False):
            copy = work / "promote.git"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(gitops, copy)
            argv = [
                sys.executable,
                "-m",
                "pipekit",
                "promote",
                "--gitops-repo",
                str(copy),
                "--from",
                "qa",
                "--to",
                "prod",
                "--renderer",
                "none",
                *[a for s in services for a in ("--service", s)],
            ]
            argv += (
                [a for s in services for a in ("--source-repo", f"{s}={work}/{s}.git")]
                if notes
                else ["--no-release-notes"]
            )
            started = time.perf_counter()
            with tempfile.TemporaryFile() as err:
                child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
                _pid, status, usage = os.wait4(child.pid, 0)  # its own CPU time, its git children's included
                times[notes].append(time.perf_counter() - started)
                cpu[notes].append(usage.ru_utime + usage.ru_stime)
                if os.waitstatus_to_exitcode(status) != 0:
                    err.seek(0)
                    raise SystemExit(
                        f"promote exited {os.waitstatus_to_exitcode(status)}: {err.read()[-500:]!r}"
                    )
            if notes and n == 0:
                body = subprocess.run(
                    ["git", "log", "-1", "--format=%B", "main"],
                    cwd=copy,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                assert "Release notes:" in body, body
    return (
        statistics.median(times[True]) - statistics.median(times[False]),
        statistics.median(cpu[True]) - statistics.median(cpu[False]),
    )


if __name__ == "__main__":
    sys.exit(main())
