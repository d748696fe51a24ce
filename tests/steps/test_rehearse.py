"""`pipekit rehearse`: init's generated pipeline run by run-pipeline against the stand-ins, dev to prod."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipekit import rehearse
from pipekit.core.console import Console
from pipekit.core.errors import BadInput
from pipekit.core.step import StepContext
from pipekit.rehearsal import failures, onboard, pipeline, report
from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT

RENDERER_DIR = REPO_ROOT / ".venv" / "card-renderer"
STEPS = [
    "Unit tests",
    "SAST",
    "SCA",
    "Security gate",
    "Build and push image",
    "Deploy to dev",
    "Promote to qa (jira,signature gate)",
    "Promote to preprod",
    "Promote to prod by pull request",
]


def run_rehearse(
    cwd: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 400
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")
    }
    env.update(
        extra_env or {},
        PYTHONPATH=str(REPO_ROOT),
        TMPDIR=str(cwd),
        NO_COLOR="1",
        PIPEKIT_CARD_RENDERER_DIR=str(RENDERER_DIR),
    )
    return subprocess.run(
        [sys.executable, "-m", "pipekit", "rehearse", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def refused(url: str) -> bool:
    host, port = url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) != 0


@pytest.mark.slow
def test_the_generated_pipeline_runs_dev_to_prod_against_the_stand_ins_and_cleans_up(tmp_path: Path) -> None:
    real = {
        "AWS_ACCESS_KEY_ID": "AKIAREALKEYNEVERUSED",
        "AWS_SECRET_ACCESS_KEY": "real-secret-never-used",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }  # a real account must not be touched either
    with WebhookSink() as real_channel:  # a "real" webhook in the environment must never be used
        proc = run_rehearse(
            tmp_path,
            "--keep",
            "--workdir",
            "work",
            "--image",
            "none",
            extra_env={
                **real,
                "PIPEKIT_TEAMS_WEBHOOK_URL": real_channel.url("teams"),
                "PIPEKIT_SLACK_WEBHOOK_URL": real_channel.url("slack"),
            },
        )
        assert real_channel.requests == []
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-3000:]
    work = tmp_path / "work"

    # the stages are the pipeline's steps, each passed, the manual ones approved after a pause
    for step in STEPS:
        approved = " (approved)" if step in ("Promote to preprod", "Promote to prod by pull request") else ""
        assert re.search(rf"^{re.escape(step + approved)}\s+passed\s+\d+\.\d s\s+\S", out, re.M), step
    assert (
        "paused before 'Promote to preprod'" in out
        and "paused before 'Promote to prod by pull request'" in out
    )
    assert "── approving 'Promote to preprod' (trigger: manual)" in out
    assert "where: --image none: the steps ran on this machine; the image's tool set was not checked" in out

    # the sample on master, onboarded by the real init, its files committed; the pipeline file is init's
    sample = work / "demo-service"
    assert git("branch", "--show-current", cwd=sample) == "master"
    for name in ("bitbucket-pipelines.yml", "pipekit.yaml", ".pipekit/init.yaml", "cosign.pub"):
        assert git("ls-files", name, cwd=sample) == name, name
    assert re.search(
        r"^pipekit init 0\.1\.0: \d+ files \(\d+ create\), GitOps commit [0-9a-f]{12}; checks passed: "
        r".*kustomize renders",
        out,
        re.M,
    )
    pipeline_file = (sample / "bitbucket-pipelines.yml").read_text()
    assert "  branches:\n    master:\n" in pipeline_file and "rehearsal" not in pipeline_file

    # each step ran in its own clone with only the declared artifacts: the run record travelled
    steps = work / "run" / "steps"
    assert sorted(p.name for p in steps.iterdir()) == [
        "01-unit-tests",
        "02-sast",
        "03-sca",
        "04-security-gate",
        "05-build-and-push-image",
        "06-deploy-to-dev",
        "07-promote-to-qa-jira-signature-gate",
        "08-promote-to-preprod",
        "09-promote-to-prod-by-pull-request",
    ]
    prod_step = steps / "09-promote-to-prod-by-pull-request"
    record = json.loads((prod_step / "clone" / ".pipekit" / "run.json").read_text())["steps"]
    digest = record["ecr_push"]["outputs"]["digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert record["sign"]["status"] == "succeeded"
    assert record["promote"]["outputs"]["to"] == "prod"

    # the GitOps repository on master: init's commit, the deploy to dev and three promotions, each deployed
    bare = work / "git" / "gitops.git"
    subjects = git(
        "log", "--format=%(trailers:key=Pipekit-Environment,valueonly)", "master", cwd=bare
    ).split()
    assert subjects == ["prod", "preprod", "qa", "dev"]
    for env in ("dev", "qa", "preprod", "prod"):
        overlay = git("show", f"master:apps/demo-service/overlays/{env}/kustomization.yaml", cwd=bare)
        assert f"digest: {digest}" in overlay and "pipekit:placeholder" not in overlay, env
        assert (work / "hooks" / f"demo-service-{env}" / "reports" / "demo-service-api.xml").is_file(), env
    assert "history: 4 deployment(s) of demo-service; running in dev, preprod, prod, qa" in out
    assert re.search(r"^\* \S+ \S+\s+prod\s+promotion from preprod ", out, re.M)  # history lists it

    # prod went by pull request on the Bitbucket stand-in, over the same bare repository: init's settings
    # and the prod deployment's variables, the pipeline's own commands
    settings = yaml.safe_load((sample / "pipekit.yaml").read_text())
    assert settings["environments"]["prod"]["via"] == "pull-request"
    assert settings["environments"]["prod"]["pull_request"]["wait_merge"] is True
    assert settings["gitops"]["pull_request"] == {"workspace": "demo-team", "repository": "gitops"}
    assert "via" not in settings["environments"]["preprod"]  # preprod: a commit
    defined = json.loads((work / "variables.json").read_text())
    assert (
        defined["deployments"]["prod"]["PIPEKIT_BITBUCKET_API_URL"]
        != defined["repository"]["PIPEKIT_BITBUCKET_API_URL"]
    )  # Code Insights elsewhere still reach the sink
    prod_log = (prod_step / "log.txt").read_text()
    assert "+ pipekit promote --from preprod --to prod --service demo-service --approve\n" in prod_log
    pr = json.loads((work / "pull-requests" / "1.json").read_text())
    merge = git("rev-parse", "master", cwd=bare)
    assert (pr["environment"], pr["state"], pr["author"], pr["merged_by"], pr["merge_commit"]) == (
        "prod",
        "MERGED",
        "pipekit-bot",
        "pipekit-bot",
        merge,
    )
    assert pr["approved_by"] == ["release-manager"] and pr["while_waiting"] is True
    assert pr["title"] == f"Promote demo-service {record['build']['outputs']['tags'][0]} to prod"
    notes = pr["description"][pr["description"].index("Release notes:") :]
    assert re.search(r"^demo-service: 2 commits - DEMO-1$", notes, re.M)
    assert re.search(r"^  - [0-9a-f]{8} DEMO-1 Add the demo service \(Dev Eloper\)$", notes, re.M)
    assert pr["notes_in_description"] is True and pr["deployed"] == merge
    parents = git("rev-list", "--parents", "-1", merge, cwd=bare).split()
    assert len(parents) == 3  # a merge commit; its second parent is the promotion's, with its trailers
    assert "Pipekit-Environment: prod" in git("log", "-1", "--format=%B", parents[2], cwd=bare)
    prod_outputs = record["promote"]["outputs"]
    assert prod_outputs["gitops_revision"] == merge and prod_outputs["pull_requests"][0]["state"] == "MERGED"
    assert record["wait_for_argocd"]["outputs"]["revision"] == merge  # Argo CD deployed the merge commit
    assert f"synced, healthy and hooks passed at revision {merge[:7]}" in prod_log
    assert re.search(
        rf"^prod by pull request #1 http://127\.0\.0\.1:\d+/demo-team/gitops/pull-requests/1 "
        rf"\"Promote demo-service \S+ to prod\": the release notes in its description \(2 commit\(s\), "
        rf"DEMO-1\); approved by release-manager while the step waited; merged by pipekit-bot as "
        rf"{merge[:12]}; Argo CD synced the merge commit$",
        out,
        re.M,
    )
    assert "a reviewer's approval" in out
    assert re.search(r"^dora: 4 deployment\(s\), every environment; HTML report ", out, re.M)

    # what was substituted is said, and how; the pipeline's own commands ran as written
    for line in (
        "PIPEKIT_SEMGREP_CONFIG",
        "PIPEKIT_SCAN_SUBSTITUTE",
        "PIPEKIT_MAVEN_OFFLINE",
        "PIPEKIT_ECR_REGISTRY_OVERRIDE",
        "ARGOCD_SERVER, ARGOCD_AUTH_TOKEN",
        "JIRA_BASE_URL",
    ):
        assert line in out, line
    sca_log = (steps / "03-sca" / "log.txt").read_text()
    assert "+ pipekit scan --run trivy --fail-on none --sarif-out reports/sca.sarif" in sca_log
    assert "--run trivy: not run; its report is substituted by rehearsal/trivy-report.json" in sca_log
    variables = json.loads((work / "variables.json").read_text())["repository"]
    assert variables["COSIGN_PASSWORD"]["secured"] is True
    for log in steps.glob("*/log.txt"):  # secured values never reach a log
        assert variables["COSIGN_PASSWORD"]["value"] not in log.read_text(), log
    assert re.search(
        r"^\d+\.\d s in all: the tools pipekit drives \d+\.\d s \(Maven \d+\.\d s.*\), pipekit's own "
        r"share \d+\.\d s$",
        out,
        re.M,
    )

    # the cards, one per notification, and the page of Teams cards rendered in real Chromium
    teams = sorted((work / "cards").glob("*.teams.json"))
    assert len(teams) == 9 and len(list((work / "cards").glob("*.slack.json"))) == 9
    titles = {p.name[3:] for p in teams}  # the parallel steps' cards come in any order
    for stage in (
        "unit-tests",
        "sast",
        "sca",
        "scan",
        "build",
        "deploy-dev",
        "promote-qa",
        "promote-preprod",
        "promote-prod",
    ):
        assert f"demo-service-{stage}-succeeded.teams.json" in titles, titles
    from pipekit.rehearsal import card_page

    dom = subprocess.run(
        card_page.chromium_argv(work / "cards" / "index.html", tmp_path / "profile"),
        capture_output=True,
        text=True,
        timeout=90,
    ).stdout
    status = card_page.read_status(dom)
    assert status is not None and len(status) == len(teams) and all(s["ok"] for s in status), status

    # clean-up: every stand-in stopped, no step container left, nothing written where it ran
    for url in re.findall(r'"(http://127\.0\.0\.1:\d+)', (work / "variables.json").read_text()):
        assert refused(url), url
    left = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"], capture_output=True, text=True
    ).stdout.split()
    assert not [n for n in left if n.startswith("pipekit-run-") and n in out]
    assert "clean-up:" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profile", "work"]


def test_workdir_refuses_a_folder_it_did_not_make_and_reuses_its_own(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not empty and not a previous rehearsal's"):
        report.prepare_workdir(theirs)
    assert (theirs / "notes.txt").read_text() == "mine"
    ours = tmp_path / "ours"
    assert report.prepare_workdir(ours) is True
    (ours / "old.txt").write_text("from the last rehearsal")
    assert report.prepare_workdir(ours) is False and [p.name for p in ours.iterdir()] == [report.MARKER]
    report.remove(ours, created=False)
    assert ours.is_dir() and list(ours.iterdir()) == []


def _ctx(tmp_path: Path, config: str | None = None) -> StepContext:
    path = None
    if config is not None:
        path = tmp_path / "mine.yaml"
        path.write_text(config)
    ctx = StepContext.create(
        env={"PATH": os.environ["PATH"]}, cwd=tmp_path, run_record=tmp_path / "r.json", config_path=path
    )
    ctx.console = Console(stream=io.StringIO())
    return ctx


def test_config_and_fail_at_are_checked_before_anything_starts(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "environments:\n  dev: {promotion: auto}\n  staging: {promotion: manual}\n")
    with pytest.raises(BadInput, match="environments"):
        rehearse.options_from(ctx, {})
    ctx = _ctx(tmp_path, "environments:\n  dev: {promotion: auto}\n  qa: {promotion: manual}\n")
    with pytest.raises(BadInput, match="--fail-at gate: no environment of .* has a jira gate to fail"):
        rehearse.options_from(ctx, {"fail_at": "gate"})
    options = rehearse.options_from(ctx, {"fail_at": "tests"})
    assert options.environments == ("dev", "qa") and options.config == tmp_path / "mine.yaml"
    ctx = _ctx(tmp_path, "notify:\n  channels:\n    - {name: ops, type: slack, webhook_env: OPS_HOOK}\n")
    with pytest.raises(BadInput, match="--channel teams: .* configures no channel of that type"):
        rehearse.options_from(ctx, {"channels": ["teams"]})
    assert not list(tmp_path.glob("pipekit-rehearse-*"))


def test_a_config_keeps_what_is_rehearsed_and_init_keeps_what_points_outside() -> None:
    generated = {
        "service": "demo-service",
        "gitops": {"repo": "http://127.0.0.1:1/gitops.git", "branch": "master"},
        "jira": {"project": "DEMO"},
        "signing": {"public_keys": ["cosign.pub"]},
        "environments": {"dev": {"promotion": "auto"}, "qa": {"promotion": "gated", "gates": ["jira"]}},
    }
    user = {
        "service": "orders",
        "gitops": {"repo": "git@bitbucket.org:acme/gitops.git"},
        "jira": {"project": "ORD", "base_url": "https://acme.atlassian.net", "require": "released"},
        "scan": {"fail_on": "medium", "run": {"semgrep": {"config": "p/owasp"}}},
        "environments": {"dev": {"promotion": "auto", "overlay": "x/{env}"}, "qa": {"promotion": "manual"}},
    }
    merged, replaced = onboard.merge(user, generated)
    assert replaced == ["environments.dev.overlay", "gitops", "jira.base_url", "scan.run", "service"]
    assert merged["service"] == "demo-service" and merged["gitops"]["branch"] == "master"
    assert merged["jira"] == {"project": "ORD", "require": "released"}
    assert merged["scan"] == {"fail_on": "medium"} and merged["signing"] == {"public_keys": ["cosign.pub"]}
    assert merged["environments"] == {
        "dev": {"promotion": "auto"},
        "qa": {"promotion": "manual", "gates": ["jira"]},
    }


def _step(
    number: int,
    name: str,
    status: str,
    reason: str | None = None,
    deployment: str | None = None,
    duration: float = 1.0,
) -> SimpleNamespace:
    return SimpleNamespace(
        number=number,
        name=name,
        key=f"{number:02d}",
        status=status,
        reason=reason,
        deployment=deployment,
        duration_s=duration,
        phases={},
    )


def test_the_runs_of_one_rehearsal_add_up_to_one_pipeline() -> None:
    first = [
        _step(1, "Build", "passed"),
        _step(2, "Deploy to dev", "passed", deployment="dev"),
        _step(3, "Promote to preprod", "paused", "a manual step", "preprod"),
        _step(4, "Promote to prod", "not-run", deployment="prod"),
    ]
    second = [
        _step(1, "Build", "skipped", "before --from (its artifacts come from the earlier run)"),
        _step(2, "Deploy to dev", "skipped", "before --from (its artifacts come from the earlier run)"),
        _step(3, "Promote to preprod", "passed", deployment="preprod"),
        _step(4, "Promote to prod", "failed", deployment="prod"),
    ]
    runs = [pipeline.Run(SimpleNamespace(steps=first)), pipeline.Run(SimpleNamespace(steps=second))]
    assert [(s.name, s.status) for s in pipeline.steps_of(runs)] == [
        ("Build", "passed"),
        ("Deploy to dev", "passed"),
        ("Promote to preprod", "passed"),
        ("Promote to prod", "failed"),
    ]
    envs = {"dev": {}, "qa": {"gates": ["jira"]}, "prod": {"gates": ["signature"]}}
    planned = [*first[:2], _step(5, "Promote to qa", "passed", deployment="qa"), first[3]]
    assert failures.failing_step("deploy", planned, envs) == "Deploy to dev"
    assert failures.failing_step("gate", planned, envs) == "Promote to qa"
    assert failures.failing_step("signature", planned, envs) == "Promote to prod"
    assert failures.failing_step("scan", planned, envs) == ""  # no security gate step in this pipeline


def test_the_maven_cache_is_seeded_once_from_the_machines_repository(tmp_path: Path) -> None:
    home = tmp_path / "home"
    jar = home / ".m2" / "repository" / "org" / "example" / "lib" / "1.0" / "lib-1.0.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"jar")
    pipeline_file = tmp_path / "bitbucket-pipelines.yml"
    pipeline_file.write_text(
        "definitions:\n  caches:\n    maven-repo: ~/.m2/repository\n    node: node_modules\n"
        "pipelines:\n  default:\n    - step: {script: [true]}\n"
    )
    assert pipeline.maven_caches(pipeline_file) == ["maven-repo"]
    root = tmp_path / "cache"
    said = pipeline.seed_maven(root, ["maven-repo"], {"HOME": str(home)})
    assert said.startswith("seeded maven-repo (") and said.endswith(f"from {home / '.m2' / 'repository'}")
    seeded = (
        root / "caches" / "maven-repo" / "static" / "content" / jar.relative_to(home / ".m2" / "repository")
    )
    assert (
        seeded.read_bytes() == b"jar" and seeded.stat().st_ino == jar.stat().st_ino
    )  # a hard link, not a copy
    if os.geteuid() == 0:  # the image's user may add to the folders
        assert seeded.parent.stat().st_uid == pipeline.IMAGE_UID
    assert pipeline.seed_maven(root, ["maven-repo"], {"HOME": str(home)}).startswith("kept from an earlier")
    assert "the Maven cache is not seeded" in pipeline.seed_maven(
        root, ["maven-repo"], {"HOME": str(tmp_path)}
    )
    assert pipeline.choose_image("none", {}).image is None
    missing = pipeline.choose_image("localhost/no-such-image:1", {"PATH": os.environ["PATH"]})
    assert missing.image is None and missing.note.startswith("no local image localhost/no-such-image:1: ")


def test_cards_are_named_by_order_and_title() -> None:
    teams = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "body": [{"type": "TextBlock", "text": "✅ demo-service: sast succeeded"}],
                },
            }
        ],
    }
    requests = [
        SimpleNamespace(path="/teams/workflows/x?sig=1", json=teams),
        SimpleNamespace(path="/slack/services/T/B/x", json={"text": "❌ demo-service: build failed\nmore"}),
        SimpleNamespace(path="/bitbucket/2.0/repositories/w/r/commit/c/reports/x", json={}),
    ]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cards = report.write_cards(requests, Path(tmp))
        assert [c.path.name for c in cards] == [
            "01-demo-service-sast-succeeded.teams.json",
            "02-demo-service-build-failed.slack.json",
        ]
