#!/usr/bin/env python3
"""Measure promotion by pull request against the Bitbucket stand-in (issue 26's figures).

1. Opening a pull request: the whole ``pipekit promote --via pull-request`` command (process start,
   clone, edit, render, push of the branch, the API calls), median of ``--rounds``; bound 0.5 s.
2. 20 concurrent promotions of different services to one repository, each ``--merge --wait-merge``
   with a reviewer who approves at once: wall time until every pull request is merged; bound 30 s.

Run with the venv's interpreter:
``.venv/bin/python scripts/bench_pull_request.py [--rounds 5] [--concurrent 20]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.testing.bitbucket import BitbucketStandIn  # noqa: E402
from tests.fixtures.gitops.repo import git, make_repo, overlay  # noqa: E402

TOKEN = "bench-token-1234"


def dev_tags(work: Path, bare: Path, tags: dict[str, str]) -> None:
    for service, tag in tags.items():
        path = work / overlay(service, "dev")
        text = path.read_text()
        start = text.index("newTag:")
        path.write_text(text[:start] + f'newTag: "{tag}"' + text[text.index("\n", start) :])
    git("commit", "-qam", "dev builds", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)


def config(folder: Path, bare: Path, reviewer: str, renderer: str | None, strategy: str = "merge") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    render = f"  renderer: {renderer}\n" if renderer else ""
    (folder / "pipekit.yaml").write_text(
        f"gitops:\n  repo: {bare}\n{render}  pull_request: {{workspace: acme, repository: gitops}}\n"
        "environments:\n  dev: {}\n  qa:\n    via: pull-request\n"
        f"    pull_request: {{reviewers: ['{reviewer}'], min_approvals: 1, merge_strategy: {strategy}}}\n"
    )


def promote(
    folder: Path, env: dict[str, str], service: str, *extra: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipekit",
            "promote",
            "--from",
            "dev",
            "--to",
            "qa",
            "--service",
            service,
            *extra,
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return time.perf_counter() - started, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument(
        "--renderer", default=None, help="gitops.renderer for the runs (default: kubectl kustomize)"
    )
    parser.add_argument(
        "--merge-strategy",
        default="merge",
        choices=("merge", "squash", "fast-forward"),
        help="for the concurrent promotions (fast-forward makes every merge after the first rebase)",
    )
    args = parser.parse_args()
    env = {**os.environ, "PIPEKIT_GITOPS_TOKEN": TOKEN, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-pr-") as tmp, BitbucketStandIn() as bb:
        root = Path(tmp)
        bb.add_token(TOKEN, "pipekit-bot")
        alice = bb.add_user("alice")
        env["PIPEKIT_BITBUCKET_API_URL"] = bb.base_url

        # 1. opening one pull request (a service of its own each round, so nothing is superseded), alternating
        #    with the same promotion of another service by a direct commit, for scale
        names = [f"s{n:02d}" for n in range(2 * args.rounds)]
        bare, work = make_repo(root, names, name="one")
        dev_tags(work, bare, {s: f"{n + 1:07d}" for n, s in enumerate(names)})
        bb.add_repository("acme", "gitops", path=bare, min_approvals=1)
        folder = root / "open"
        config(folder, bare, alice.account_id, args.renderer)
        times, direct = [], []
        for n in range(args.rounds):
            for service, extra, into in (
                (names[2 * n], (), times),
                (names[2 * n + 1], ("--via", "commit"), direct),
            ):
                took, proc = promote(folder, env, service, *extra)
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return 1
                into.append(took)
        median = statistics.median(times)
        print(
            f"open a pull request (whole command): median {median:.3f}s over {args.rounds} "
            f"(min {min(times):.3f}s, max {max(times):.3f}s); bound 0.5 s: "
            f"{'ok' if median <= 0.5 else 'OVER'}"
        )
        print(
            f"  the same promotion by a direct commit, alternating: median {statistics.median(direct):.3f}s "
            f"(min {min(direct):.3f}s); the pull request costs {median - statistics.median(direct):+.3f}s"
        )

        # 2. N concurrent promotions, all merged
        services = [f"svc{n:02d}" for n in range(args.concurrent)]
        bare, work = make_repo(root, services, name="many")
        dev_tags(work, bare, {s: f"{n + 1:07d}" for n, s in enumerate(services)})
        bb.repositories.clear()
        repo = bb.add_repository("acme", "gitops", path=bare, min_approvals=1)
        bb.auto_approvers = ["alice"]
        for s in services:
            config(root / f"many-{s}", bare, alice.account_id, args.renderer, args.merge_strategy)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            results = list(
                pool.map(
                    lambda s: promote(
                        root / f"many-{s}", env, s, "--merge", "--wait-merge", "--merge-timeout", "120"
                    ),
                    services,
                )
            )
        wall = time.perf_counter() - started
        failed = [p.stderr for _, p in results if p.returncode != 0]
        merged = sum(pr.state == "MERGED" for pr in repo.pull_requests.values())
        rebases = sum("rebase" in p.stdout for _, p in results)
        print(
            f"{len(services)} concurrent promotions ({args.merge_strategy}): {merged}/{len(services)} merged "
            f"in {wall:.2f}s ({rebases} rebased); bound 30 s: "
            f"{'ok' if wall <= 30 and merged == len(services) else 'OVER'}"
        )
        for text in failed[:3]:
            print(text, file=sys.stderr)
        return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
