"""35 update-tag processes against one bare repo at once: nothing lost, history linear, newest build wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.fixtures.gitops.repo import IMAGE, git, make_repo, overlay, read

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

SHARED = "shared"
N_SERVICES = 30
N_SAME = 5


def test_35_concurrent_updates(tmp_path: Path) -> None:
    services = [f"svc{i:02d}" for i in range(N_SERVICES)]
    bare, _ = make_repo(tmp_path, [*services, SHARED])
    start_commits = int(git("rev-list", "--count", "main", cwd=bare))
    (tmp_path / "pipekit.yaml").write_text(
        f"gitops:\n  repo: {bare}\n  renderer: none\n  push_retries: 80\n  backoff_s: 0.5\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEKIT_", "BITBUCKET_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)

    def launch(service: str, tag: str, build: int, n: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipekit.update_tag",
                "--path",
                f"{service}/overlays/dev",
                "--image",
                IMAGE.format(service=service),
                "--tag",
                tag,
                "--build-number",
                str(build),
                "--service",
                service,
                "--env",
                "dev",
                "--json",
                "--run-record",
                str(tmp_path / f"run{n}.json"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    jobs: list[tuple[str, str, int, subprocess.Popen[str]]] = []
    started = time.monotonic()
    # interleave the same-service updates (builds 101..105, tags t101..t105) with the others
    for i, service in enumerate(services):
        jobs.append((service, f"1{i:06d}", 1, launch(service, f"1{i:06d}", 1, i)))
        if i % 6 == 0 and len([j for j in jobs if j[0] == SHARED]) < N_SAME:
            build = 101 + len([j for j in jobs if j[0] == SHARED])
            jobs.append((SHARED, f"t{build}", build, launch(SHARED, f"t{build}", build, 100 + build)))
    results = []
    for service, tag, build, proc in jobs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{service} {tag}: {err}"
        results.append((service, tag, build, json.loads(out)))
    wall = time.monotonic() - started

    # history: linear, one commit per landed update, nothing else
    assert git("rev-list", "--merges", "main", cwd=bare) == ""
    keys = ("Pipekit-Service", "Pipekit-Tag", "Pipekit-Build-Number")
    fmt = "%H%x1f" + "%x1f".join(f"%(trailers:key={k},valueonly,separator=%x2C)" for k in keys) + "%x1e"
    log = git("log", "--reverse", f"--format={fmt}", "main", cwd=bare)
    rows = [
        tuple(p.strip() for p in rec.strip("\n").split("\x1f"))
        for rec in log.split("\x1e")
        if rec.strip("\n")
    ]
    landed = [(r[0], r[1], r[2], r[3]) for r in rows][start_commits:]
    pushed = [
        (r["service"], r["tag"], r["gitops_revision"]) for _, _, _, r in results if r["status"] == "pushed"
    ]
    assert sorted((s, t) for _, s, t, _ in landed) == sorted((s, t) for s, t, _ in pushed)
    assert {rev for _, _, rev in pushed} == {sha for sha, _, _, _ in landed}

    # every one of the 30 services landed exactly once, with its own tag
    for i, service in enumerate(services):
        assert [t for _, s, t, _ in landed if s == service] == [f"1{i:06d}"]
        assert yaml.safe_load(read(bare, overlay(service, "dev")))["images"][0]["newTag"] == f"1{i:06d}"

    # the shared service: the newest build wins; it never went backwards; the rest were superseded
    shared_builds = [int(b) for _, s, _, b in landed if s == SHARED]
    assert shared_builds == sorted(shared_builds) and len(set(shared_builds)) == len(shared_builds)
    assert shared_builds[-1] == 100 + N_SAME
    final = yaml.safe_load(read(bare, overlay(SHARED, "dev")))["images"][0]
    assert final["newTag"] == f"t{100 + N_SAME}"
    shared = [r for s, _, _, r in results if s == SHARED]
    assert len(shared) == N_SAME
    assert all(r["status"] in ("pushed", "superseded") for r in shared)
    assert sum(r["status"] == "pushed" for r in shared) == len(shared_builds)

    retries = [r["retries"] for _, _, _, r in results]
    print(
        f"\n35 concurrent updates: wall {wall:.1f}s, retries per update: max {max(retries)}, "
        f"mean {sum(retries) / len(retries):.2f}"
    )
