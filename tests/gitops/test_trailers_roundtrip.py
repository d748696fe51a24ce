"""One trailer vocabulary: every kind of GitOps commit pipekit writes is read back whole
(issue 23, items 21 and 4).

The commits are made by the real commands (update-tag, promote, rollback) on a real bare repository
whose overlays use an ``images`` entry with a short name and the ECR path as ``newName`` (the layout
where rollback used to fail), and read back by history (the reader dora and rollback share).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.deployments.model import parse_time
from pipekit.gitops import trailers
from pipekit.onboarding.answers import Answers
from pipekit.onboarding.gitops_write import commit_message as init_message
from pipekit.onboarding.record import Recorded
from tests.conftest import REPO_ROOT, git, run_pipekit

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
OVERLAY = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: orders
    newName: {ecr}
    newTag: v0
"""
CONFIG = """service: orders
gitops:
  repo: {bare}
  overlay: apps/{{service}}/overlays/{{env}}
  renderer: none
  author:
    name: Release Bot
    email: release-bot@example.com
environments:
  dev: {{promotion: auto}}
  qa: {{promotion: auto}}
  prod: {{promotion: auto}}
"""


def test_pairs_and_parse_round_trip_every_field() -> None:
    t = trailers.Trailers(
        environment="prod",
        promoted_from="qa",
        rollback_of="a" * 40,
        build_url="https://ci/1",
        groups=[
            trailers.Group(
                "orders",
                image=ECR,
                image_name="orders",
                tag="1.2.3",
                digest="sha256:" + "b" * 64,
                source_commit="c" * 40,
                source_committed_at="2026-11-02T09:00:00+00:00",
                build_number=812,
            ),
            trailers.Group("billing", image="billing", tag="7", build_number=3),
        ],
    )
    text = trailers.commit_message("subject", ["body"], t)
    assert trailers.parse(text) == t
    assert "Pipekit-Image-Name" not in text.split("Pipekit-Service: billing")[1]  # only when it differs


def test_older_trailer_orders_are_still_read() -> None:
    old_update_tag = (
        "x\n\nPipekit-Service: orders\nPipekit-Environment: dev\nPipekit-Image: orders\n"
        "Pipekit-Tag: v1\nPipekit-Build-Url: u\nPipekit-Build-Number: 7\n"
    )
    got = trailers.parse(old_update_tag)
    assert (got.environment, got.build_url, got.groups[0].build_number, got.groups[0].entry) == (
        "dev",
        "u",
        7,
        "orders",
    )


def test_init_commit_round_trips() -> None:
    answers = Answers(service="orders", image_repo=ECR, gitops_url="https://example.com/gitops.git")
    got = trailers.parse(init_message(answers, Recorded(answers, "9.9.9", 4), upgrade=False))
    assert (got.init_version, got.template_version, [g.service for g in got.groups], got.environment) == (
        "9.9.9",
        "4",
        ["orders"],
        None,
    )


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(bare GitOps repository, service checkout with pipekit.yaml, a run record path)."""
    seed = tmp_path / "seed"
    seed.mkdir()
    git("init", "-q", "-b", "main", cwd=seed)
    for env in ("dev", "qa", "prod"):
        path = seed / "apps" / "orders" / "overlays" / env / "kustomization.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(OVERLAY.format(ecr=ECR))
    git("add", ".", cwd=seed)
    git("-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "-q", "-m", "seed", cwd=seed)
    bare = tmp_path / "gitops.git"
    git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    service = tmp_path / "orders"
    service.mkdir()
    git("init", "-q", "-b", "main", cwd=service)
    (service / "pipekit.yaml").write_text(CONFIG.format(bare=bare))
    git("add", ".", cwd=service)
    git(
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "-q",
        "-m",
        "service",
        cwd=service,
    )
    return bare, service, tmp_path / "run.json"


def pipekit(cwd: Path, record: Path, *args: str) -> dict:
    proc = run_pipekit(
        *args,
        "--json",
        "--run-record",
        str(record),
        cwd=cwd,
        env={
            "BITBUCKET_BUILD_NUMBER": "41",
            "BITBUCKET_REPO_FULL_NAME": "acme/orders",
            "BITBUCKET_WORKSPACE": "acme",
            "BITBUCKET_REPO_SLUG": "orders",
        },
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def last_message(bare: Path) -> trailers.Trailers:
    return trailers.parse(git("log", "-1", "--format=%B", "main", cwd=bare))


@pytest.mark.slow
def test_update_tag_promote_rollback_write_what_history_reads(world: tuple[Path, Path, Path]) -> None:
    bare, service, record = world
    committed_at = git("log", "-1", "--format=%cI", cwd=service)
    for tag, build in (("v1", 40), ("v2", 41)):
        pipekit(
            service,
            record,
            "update-tag",
            "--env",
            "dev",
            "--image",
            "orders",
            "--new-name",
            ECR,
            "--tag",
            tag,
            "--build-number",
            str(build),
        )
        for env in ("qa", "prod"):
            pipekit(
                service,
                record,
                "promote",
                "--from",
                "dev" if env == "qa" else "qa",
                "--to",
                env,
                "--service",
                "orders",
            )
    promoted = last_message(bare)
    assert (
        promoted.promoted_from == "qa" and promoted.groups[0].build_number == 41
    )  # the image's build, carried on
    assert promoted.groups[0].image == ECR and promoted.groups[0].image_name == "orders"
    assert promoted.groups[0].source_committed_at and promoted.groups[0].source_commit

    history = pipekit(service, record, "history", "--env", "prod")["deployments"]
    assert [(d["tag"], d["kind"], d["image"]) for d in history] == [
        ("v2", "promotion", f"{ECR}:v2"),
        ("v1", "promotion", f"{ECR}:v1"),
    ]
    assert history[0]["lead_time_s"] is not None

    # rollback on this layout, without gitops.image: the entry is "orders", its newName the ECR path
    config = service / "pipekit.yaml"
    assert "image:" not in config.read_text()
    rolled = pipekit(service, record, "rollback", "--env", "prod")
    assert rolled["status"] == "pushed" and rolled["tag"] == "v1"
    back = last_message(bare)
    group = back.groups[0]
    assert (back.environment, back.rollback_of, group.image, group.image_name, group.tag) == (
        "prod",
        history[0]["commit"],
        ECR,
        "orders",
        "v1",
    )
    assert group.build_number == 40 and group.source_committed_at is not None
    assert parse_time(group.source_committed_at) == parse_time(committed_at)
    author = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", "main", cwd=bare)
    assert author == "Release Bot <release-bot@example.com>|Release Bot <release-bot@example.com>"
    shown = git("show", "main:apps/orders/overlays/prod/kustomization.yaml", cwd=bare)
    assert f"newName: {ECR}" in shown and "newTag: v1  # pipekit:build=40" in shown
    after = pipekit(service, record, "history", "--env", "prod")["deployments"]
    assert (after[0]["tag"], after[0]["kind"], after[0]["rollback_of"], after[0]["current"]) == (
        "v1",
        "rollback",
        history[0]["commit"],
        True,
    )
    assert after[0]["image"] == f"{ECR}:v1" and after[0]["source_commit"] == history[1]["source_commit"]


RACER = """
import os, subprocess, sys
marker, directory = sys.argv[1], sys.argv[2]
if not os.path.exists(marker):
    open(marker, "w").close()
    proc = subprocess.run([sys.executable, "-m", "pipekit", "update-tag", "--env", "prod", \
"--image", "orders",
                           "--tag", "v9", "--build-number", "99", "--run-record", marker + ".json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
print("apiVersion: v1\\nkind: Pod\\nmetadata: {name: rendered}\\nspec: {containers: [{name: c, image: '"
      + sys.argv[3] + "'}]}")
"""


@pytest.mark.slow
def test_a_deploy_landing_during_the_rollback_is_not_overwritten(world: tuple[Path, Path, Path]) -> None:
    bare, service, record = world
    for tag, build in (("v1", 1), ("v2", 2)):
        pipekit(
            service,
            record,
            "update-tag",
            "--env",
            "prod",
            "--image",
            "orders",
            "--tag",
            tag,
            "--build-number",
            str(build),
        )
    racer = service.parent / "racer.py"
    racer.write_text(RACER)
    before = git("rev-parse", "main", cwd=bare)
    # The renderer runs after the rollback's commit and before its push: it lands v9 in prod first.
    renderer = f"{sys.executable} {racer} {service.parent / 'raced'} {{dir}} {ECR}:v1"
    proc = run_pipekit(
        "rollback",
        "--env",
        "prod",
        "--renderer",
        renderer,
        "--json",
        "--run-record",
        str(record),
        cwd=service,
        env={"PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 1, proc.stderr
    assert "changed while the rollback was being written" in proc.stderr
    assert "v9" in proc.stderr and "nothing committed" in proc.stderr
    tip = git("log", "--format=%s", f"{before}..main", cwd=bare).splitlines()
    assert tip == ["orders: prod v2 -> v9"]  # the concurrent deploy, and no rollback over it
    now = pipekit(service, record, "history", "--env", "prod")["deployments"][0]
    assert (now["tag"], now["kind"], now["current"]) == ("v9", "deploy", True)
    recorded = json.loads(record.read_text())["steps"]["rollback"]
    assert recorded["status"] == "failed"


@pytest.mark.slow
def test_a_deploy_landing_before_the_clone_is_seen_too(world: tuple[Path, Path, Path], monkeypatch) -> None:
    """The history is read, then another deploy lands, then the writer clones: refused, nothing committed."""
    from pipekit import rollback
    from pipekit.core.errors import CheckFailed
    from pipekit.core.step import StepContext

    bare, service, record = world
    for tag in ("v1", "v2"):
        pipekit(service, record, "update-tag", "--env", "prod", "--image", "orders", "--tag", tag)
    real = rollback.read_history
    calls = []

    def read_then_race(ctx, options):  # type: ignore[no-untyped-def]
        got = real(ctx, options)
        if not calls:
            pipekit(service, record, "update-tag", "--env", "prod", "--image", "orders", "--tag", "v3")
        calls.append(got[0])
        return got

    monkeypatch.setattr(rollback, "read_history", read_then_race)
    monkeypatch.chdir(service)
    ctx = StepContext.create(run_record=record, env={"PATH": "/usr/bin:/bin"})
    with pytest.raises(CheckFailed, match="v3 .* runs now, not .*v2"):
        rollback.run(rollback.options_from(ctx, {"environment": "prod", "renderer": "none"}), ctx)
    assert len(calls) == 2
    assert git("log", "-1", "--format=%s", "main", cwd=bare) == "orders: prod v2 -> v3"
    subprocess.run(["git", "fsck", "--no-progress"], cwd=bare, check=True, capture_output=True)
