"""dora's change lead time per commit: the same source-commit walk as pipekit diff (real repositories
whose histories real pipekit commands made, tests/fixtures/gitops/releases.py)."""

from __future__ import annotations

import json
import statistics

import pytest

from tests.fixtures.gitops.releases import World, world  # noqa: F401 (the session fixture)
from tests.fixtures.gitops.repo import git


def when(repo, rev: str) -> int:
    return int(git("log", "-1", "--format=%ct", rev, cwd=repo))


def lead(w: World, *args: str) -> dict[str, dict]:
    proc = w.pipekit(
        "dora", "--env", "prod", "--since", "2026-01-01", "--until", "2099-01-01", "--json", *args
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["report"]
    return {m["scope"]: m for m in [report["overall"], *report["services"]]}


@pytest.mark.slow
def test_lead_time_counts_every_commit_a_deployment_brings(world: World) -> None:  # noqa: F811
    orders = world.repos["orders"]
    first = when(world.gitops, world.gitops_commits["orders:prod:promote"])  # o1 reaches prod
    hotfix = when(
        world.gitops, world.gitops_commits["orders:prod:h1"]
    )  # h1 straight to prod: brings o2 and h1
    per_commit = [
        first - when(orders, world.sha["o1"]),  # nothing ran before: the deployment's own commit
        hotfix - when(orders, world.sha["o2"]),
        hotfix - when(orders, world.sha["h1"]),
    ]
    got = lead(
        world, "--source-repo", f"orders={orders}", "--source-repo", f"billing={world.repos['billing']}"
    )
    assert got["orders"]["lead_time_samples"] == 3
    assert got["orders"]["lead_time_median_s"] == statistics.median(per_commit)
    # billing: b1, b2, b3 promoted one by one (one commit each), then a rollback (no change delivered)
    assert got["billing"]["lead_time_samples"] == 3
    # without the repositories: one sample per deployment, its own source commit's time
    trailers = lead(world)
    assert trailers["orders"]["lead_time_samples"] == 2
    assert trailers["orders"]["lead_time_median_s"] == statistics.median(
        [first - when(orders, world.sha["o1"]), hotfix - when(orders, world.sha["h1"])]
    )
    # an unreadable repository falls back to the trailers for that service only
    mixed = lead(
        world,
        "--source-repo",
        f"orders={world.repos['billing']}",
        "--source-repo",
        f"billing={world.repos['billing']}",
    )
    assert mixed["orders"]["lead_time_samples"] == 2 and mixed["billing"]["lead_time_samples"] == 3
    bad = world.pipekit("dora", "--source-repo", f"orders={world.root}")
    assert bad.returncode == 2 and "is not a git repository" in bad.stderr
