"""`pipekit rehearse`: the main job for real on embedded defaults, local stand-ins, nothing leaves the machine."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipekit import rehearse
from pipekit.core.console import Console
from pipekit.core.errors import CheckFailed
from pipekit.core.step import StepContext
from pipekit.rehearsal.stages import Rehearsal, Stage
from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT

STAGES = ("build", "scan", "ecr_push", "update_tag", "wait_for_argocd")
RENDERER_DIR = REPO_ROOT / ".venv" / "card-renderer"


def run_rehearse(cwd: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")}
    env.update(extra_env or {}, PYTHONPATH=str(REPO_ROOT), TMPDIR=str(cwd), NO_COLOR="1",
               PIPEKIT_CARD_RENDERER_DIR=str(RENDERER_DIR))
    return subprocess.run([sys.executable, "-m", "pipekit", "rehearse", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def refused(host: str) -> bool:
    address, port = host.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, int(port))) != 0


@pytest.mark.slow
def test_the_whole_job_runs_for_real_and_cleans_up(tmp_path: Path) -> None:
    real_env = {"AWS_ACCESS_KEY_ID": "AKIAREALKEYNEVERUSED", "AWS_SECRET_ACCESS_KEY": "real-secret-never-used",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # a real account must not be touched either
    with WebhookSink() as real_channel:  # a "real" webhook in the environment must never be used
        proc = run_rehearse(tmp_path, "--keep", "--workdir", "work", extra_env={
            **real_env, "PIPEKIT_TEAMS_WEBHOOK_URL": real_channel.url("teams"),
            "PIPEKIT_SLACK_WEBHOOK_URL": real_channel.url("slack")})
        assert real_channel.requests == []
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    work = tmp_path / "work"
    assert not list(tmp_path.glob("pipekit-rehearse-*")), "--workdir: no temporary folder"
    for what, where in [("run record", "run.json"), ("card page (Teams cards, rendered)", "cards/index.html"),
                        ("SARIF (scan)", "scan.sarif"), ("JUnit (merged)", "junit.xml"), ("DORA report", "dora.html"),
                        ("GitOps repository (bare)", "gitops.git")]:
        assert re.search(rf"^{re.escape(what)}\s+{re.escape(str(work / where))}$", out, re.M), what
        assert (work / where).exists(), where
    steps = json.loads((work / "run.json").read_text())["steps"]

    # every stage ran for real and handed its results on through one run record
    assert {name: steps[name]["status"] for name in STAGES} == dict.fromkeys(STAGES, "succeeded")
    build, push, update, argo = (steps[n]["outputs"] for n in ("build", "ecr_push", "update_tag", "wait_for_argocd"))
    sha = git("rev-parse", "HEAD", cwd=work / "demo-service")
    assert build["source_commit"] == sha and build["container_tool"] == "buildah"
    assert build["tests"]["total"] == 2 and build["tests"]["passed"] == 2
    assert build["tags"][0] == sha[:7] and build["image_ref"] == f"demo-service:{sha[:7]}"
    assert steps["scan"]["outputs"]["summary"]["passed"] is True and steps["scan"]["outputs"]["summary"]["low"] == 2
    assert_semgrep_ran(work)

    # the digest: in the registry's own storage, and the ECR API (moto) agreed during the run
    digest = push["digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest) and push["tags"] == build["tags"]
    tags_dir = work / "registry/docker/registry/v2/repositories/demo-service/_manifests/tags"
    for tag in build["tags"]:
        assert (tags_dir / tag / "current" / "link").read_text().strip() == digest
    assert "(the ECR API (moto) and the registry agree)" in out
    assert refused(push["registry"]), "the registry was stopped"

    # the GitOps commit in the bare repo, with the trailers, and Argo CD synced exactly it
    bare = work / "gitops.git"
    head = git("rev-parse", "refs/heads/main~3", cwd=bare)  # then promote_qa's, promote_preprod's, promote_prod's
    assert update["gitops_revision"] == head and update["environment"] == "dev"
    overlay = git("show", "main:apps/demo-service/overlays/dev/kustomization.yaml", cwd=bare)  # init's layout
    assert re.search(rf'^    newTag: ("?){sha[:7]}\1  # pipekit:build=1$', overlay, re.M) and f"digest: {digest}" in overlay
    assert "name: 123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-service" in overlay  # init's --image-repo
    trailers = git("log", "-1", "--format=%(trailers:key=Pipekit-Digest,valueonly)", head, cwd=bare)
    assert trailers.strip() == digest
    assert argo["revision"] == head

    # the sample and its GitOps layout were onboarded by pipekit init, and its own check passes on them
    onboarded = git("log", "--format=%s|%(trailers:key=Pipekit-Init-Version,valueonly)", "main~4", "-1", cwd=bare)
    assert onboarded == "demo-service: onboard with pipekit init 0.1.0|0.1.0"
    for name in ("bitbucket-pipelines.yml", "pipekit.yaml", ".pipekit/init.yaml"):
        assert git("ls-files", name, cwd=work / "demo-service") == name, f"{name} committed in the sample"
    assert re.search(r"^pipekit init 0\.1\.0: \d+ files \(\d+ new\), GitOps commit [0-9a-f]{12}; checks passed: ",
                     out, re.M)
    job = git("show", "main:apps/demo-service/base/post-sync-test.yaml", cwd=bare)
    assert "- --junit-dir\n            - /reports\n" in job and '- "api-tests/run.py"' in job  # quoted (issue 23)
    checkout = tmp_path / "gitops-checkout"
    git("clone", "-q", str(bare), str(checkout), cwd=tmp_path)
    check = subprocess.run([sys.executable, "-m", "pipekit", "init", "--check", "--gitops-dir", str(checkout)],
                           cwd=work / "demo-service", capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert check.returncode == 0 and "checks passed" in check.stdout, check.stdout + check.stderr

    # promote_qa: dev -> qa through the jira gate, against the local Jira, in one more commit
    promoted, gate = steps["promote"]["outputs"], steps["jira_gate"]["outputs"]
    qa_commit = git("rev-parse", "refs/heads/main~2", cwd=bare)  # the run record's promote is prod's by now
    assert git("log", "-1", "--format=%(trailers:key=Pipekit-Environment,valueonly)", qa_commit, cwd=bare) == "qa"
    assert (steps["promote"]["status"], promoted["services"]) == ("succeeded", ["demo-service"])
    assert (gate["passed"], gate["project"], gate["version"], gate["issues"]) == (True, "DEMO", build["version"], 2)
    qa = git("show", "main:apps/demo-service/overlays/qa/kustomization.yaml", cwd=bare)
    assert re.search(rf'^    newTag: ("?){sha[:7]}\1', qa, re.M) and f"digest: {digest}" in qa
    assert re.search(r"^promote_qa\s+succeeded\s+\d+\.\d s\s+demo-service dev -> qa \(gated: jira DEMO", out, re.M)
    assert "--- teams: promoted (promote_qa) -> sent, HTTP 202" in out
    app = argo["apps"][0]
    assert (app["name"], app["sync"], app["health"], app["phase"]) == ("demo-service-dev", "Synced", "Healthy", "Succeeded")
    assert [(h["name"], h["type"], h["phase"]) for h in app["hooks"]] == [("demo-service-post-sync-test", "PostSync", "Succeeded")]

    # what the sink received, as shown in the terminal: every stage, the deployment and the summary
    assert "▶️ demo-service: pipeline started" in out
    for stage in STAGES[:-1]:
        assert f"--- teams: succeeded ({stage}) -> sent, HTTP 202" in out
        assert f"--- slack: succeeded ({stage}) -> sent, HTTP 200" in out
    assert "--- teams: deployed (wait_for_argocd) -> sent, HTTP 202" in out and "🚀 demo-service deployed to dev" in out
    summary = out[out.index("--- teams: summary (pipeline) -> sent"):]
    assert "✅ demo-service: pipeline succeeded" in summary and re.search(rf"Digest +{digest}", summary)
    assert f"Commit {sha[:7]} by Dev Eloper: Onboard demo-service with pipekit init" in summary
    assert re.search(r"Argo CD +demo-service-dev: Synced / Healthy \(Succeeded\)", summary)
    for stage in STAGES:
        assert re.search(rf"{stage}\s+✅ succeeded · \d+\.\d s", summary), stage
    assert re.search("Jira gate +passed: version ", summary)
    assert "22 notification(s) delivered to the local sink" in out
    for stage in STAGES:  # a short timing per stage
        assert re.search(rf"^{stage}\s+succeeded\s+\d+\.\d s\s", out, re.M), stage

    # the cards as files, in the order sent, and the page of Teams cards rendered in real Chromium
    names = sorted(p.name for p in (work / "cards").glob("*.json"))
    assert names[:3] == ["01-started-pipeline.slack.json", "01-started-pipeline.teams.json",
                         "02-succeeded-build.slack.json"], names
    teams = [n for n in names if n.endswith(".teams.json")]
    assert [n.split("-", 1)[1] for n in teams] == [  # named by order, event and stage
        "started-pipeline.teams.json", *(f"succeeded-{s}.teams.json" for s in STAGES[:-1]),
        "deployed-wait_for_argocd.teams.json", "succeeded-post_sync_test.teams.json",
        "promoted-promote_qa.teams.json", "promoted-promote_preprod.teams.json", "promoted-promote_prod.teams.json",
        "summary-pipeline.teams.json"]
    assert len(names) == 2 * len(teams)
    from pipekit.rehearsal import card_page

    dom = subprocess.run(card_page.chromium_argv(work / "cards" / "index.html", tmp_path / "profile"),
                         capture_output=True, text=True, timeout=90).stdout
    status = card_page.read_status(dom)
    assert status is not None and len(status) == len(teams) and all(s["ok"] for s in status), status
    assert f"pipekit cards: {len(teams)}/{len(teams)} rendered" in dom

    # clean-up: the image is gone from buildah, the stand-ins' temporary files with them
    image = subprocess.run(["buildah", "inspect", "--type", "image", build["image_id"]], capture_output=True)
    assert image.returncode != 0, "the rehearsal's image was removed"
    assert not list(tmp_path.glob("pipekit-registry-*")) and not list(tmp_path.glob("pipekit-moto-*"))
    assert "clean-up:" not in out
    assert not (tmp_path / ".pipekit").exists(), "nothing is written where it runs"


def assert_semgrep_ran(work: Path) -> None:
    """semgrep ran with the rehearsal's local rules over the sample: its run in the SARIF, beside the bundled report's."""
    from pipekit.core import yamlload
    from pipekit.rehearsal.scanning import RULES

    local_rules = {r["id"] for r in yamlload.load(RULES.read_text(), str(RULES))["rules"]}
    runs = {run["tool"]["driver"]["name"]: run for run in json.loads((work / "scan.sarif").read_text())["runs"]}
    assert sorted(runs) == ["semgrep", "trivy"]
    found = [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["level"])
             for r in runs["semgrep"]["results"]]
    assert found == [("java-print-stack-trace", "src/main/java/com/example/demo/Greeter.java", "note")], found
    assert {r for r, _, _ in found} <= local_rules
    assert json.loads((work / "scan" / "semgrep-report.json").read_text())["errors"] == []


# -- fast: the job's logic with small stages, in-process -------------------------------------
def _ctx(tmp_path: Path) -> StepContext:
    ctx = StepContext.create(env={"PATH": os.environ["PATH"], "PIPEKIT_CARD_RENDERER_DIR": str(RENDERER_DIR)},
                             cwd=tmp_path, run_record=tmp_path / "outer.json")
    ctx.console = Console(stream=io.StringIO())
    return ctx


def recording(name: str) -> Stage:
    def run(r: Rehearsal) -> str:
        ctx = r.context()
        with ctx.record.recording(name) as outputs:
            outputs["note"] = f"{name} ran in {r.repo.name} at {r.short_sha}"
        return outputs["note"]

    return Stage(name, run)


@pytest.mark.slow
def test_missing_module_or_tool_is_reported_and_skipped_with_what_needs_it(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(only_git))  # no mvn, no buildah
    stages = [recording("build"),
              Stage("sign", lambda r: "", requires=("pipekit.sign_not_written_yet",)),
              Stage("publish", lambda r: "", tools=("mvn", "{tool}"), needs=("build",)),
              Stage("deploy", lambda r: "", needs=("sign",))]
    result = rehearse.run(rehearse.RehearseOptions(stages=stages, container_tool="buildah"), _ctx(tmp_path))
    assert [(s.name, s.status) for s in result.stages] == [
        ("build", "succeeded"), ("sign", "skipped"), ("publish", "skipped"), ("deploy", "skipped")]
    assert re.fullmatch(r"build ran in demo-service at [0-9a-f]{7}", result.stages[0].detail)
    assert "pipekit.sign_not_written_yet not available" in result.stages[1].detail
    assert result.stages[2].detail == ("mvn not found (install Debian package maven (or the project's ./mvnw)); "
                                       "buildah not found (install Debian package buildah)")
    assert result.stages[3].detail == "needs the outputs of sign (skipped)"
    assert [(n.event, n.stage) for n in result.notifications if n.channel == "teams"] == [
        ("started", "pipeline"), ("succeeded", "build"), ("summary", "pipeline")]
    assert all(n.status == "sent" for n in result.notifications)
    assert not Path(result.workdir).exists(), "the temporary folder is removed"


@pytest.mark.slow
def test_a_failing_stage_stops_the_job_and_stops_every_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: dict[str, str] = {}

    def broken(r: Rehearsal) -> str:
        moto, registry = r.servers.aws()  # real moto and docker-registry, then a failure
        seen.update(moto=f"127.0.0.1:{moto.port}", registry=registry.host)
        assert not refused(seen["moto"]) and not refused(seen["registry"])
        raise RuntimeError("maven exploded")

    stages = [Stage("build", broken), recording("scan")]
    with pytest.raises(CheckFailed, match="rehearsal: a stage failed") as failed:
        rehearse.run(rehearse.RehearseOptions(stages=stages, channels=("slack",), keep=True), _ctx(tmp_path))
    result = failed.value.result
    assert isinstance(result, rehearse.RehearseResult)
    assert not result.ok
    assert [(s.name, s.status, s.detail, s.ran) for s in result.stages] == [
        ("build", "failed", "RuntimeError: maven exploded", True), ("scan", "skipped", "build failed before it", False)]
    assert [(n.event, n.stage) for n in result.notifications] == [
        ("started", "pipeline"), ("failed", "build"), ("summary", "pipeline")]
    assert "build failed: maven exploded" in result.notifications[1].rendering
    assert "❌ demo-service: pipeline failed" in result.notifications[-1].rendering
    assert refused(seen["moto"]) and refused(seen["registry"]) and result.cleanup_problems == []
    assert not list(tmp_path.glob("pipekit-registry-*")) and not list(tmp_path.glob("pipekit-moto-*"))
    assert (Path(result.workdir) / "demo-service" / "pom.xml").is_file(), "--keep keeps the folder"


def test_stages_and_skip_choose_stages_and_unknown_names_are_bad_input(tmp_path: Path) -> None:
    assert [s.name for s in rehearse.select("build,scan", None)] == ["build", "scan"]
    assert [s.name for s in rehearse.select(None, "wait-for-argocd,scan")] == [
        "build", "ecr_push", "update_tag", "post_sync_test", "promote_qa", "promote_preprod", "promote_prod"]
    proc = run_rehearse(tmp_path, "--stages", "build,deploy")
    assert proc.returncode == 2
    assert "--stages 'build,deploy': unknown stage deploy; stages are build, scan, ecr_push" in proc.stderr
    assert not list(tmp_path.glob("pipekit-rehearse-*")), "nothing was started"


@pytest.mark.slow
def test_scan_alone_runs_the_real_gate_and_the_rest_is_not_needed(tmp_path: Path) -> None:
    proc = run_rehearse(tmp_path, "--stages", "scan", "--channel", "teams")
    assert proc.returncode == 0, proc.stderr
    assert "OK: security gate passed: 2 findings: 0 critical, 0 high, 0 medium, 2 low" in proc.stdout
    assert re.search(r"^scan\s+succeeded\s+\d+\.\d s\s+gate passed: 0 critical, 0 high, 0 medium, 2 low; "
                     r"semgrep \(4 local rules\): 1 finding, trivy \(bundled report\): 1 finding$", proc.stdout, re.M)
    assert "--- teams: succeeded (scan) -> sent, HTTP 202" in proc.stdout and "--- slack" not in proc.stdout
    assert "3 notification(s) delivered" in proc.stdout and "OK: rehearsal finished" in proc.stdout
    assert not list(tmp_path.glob("pipekit-rehearse-*"))


@pytest.mark.slow
def test_workdir_refuses_a_folder_it_did_not_make_and_reuses_its_own(tmp_path: Path) -> None:
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("do not delete\n")
    proc = run_rehearse(tmp_path, "--workdir", str(mine), "--stages", "scan")
    assert proc.returncode == 2, proc.stderr
    assert f"--workdir {mine}: the folder is not empty and not a previous rehearsal's" in proc.stderr
    assert (mine / "todo.txt").read_text() == "do not delete\n" and len(list(mine.iterdir())) == 1

    work = tmp_path / "work"
    for _ in range(2):  # the second run empties the first one's folder and works in it again
        proc = run_rehearse(tmp_path, "--workdir", str(work), "--keep", "--stages", "scan", "--channel", "teams")
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (work / "cards").glob("*.json")) == [
        "01-started-pipeline.teams.json", "02-succeeded-scan.teams.json", "03-summary-pipeline.teams.json"]
    assert json.loads((work / "run.json").read_text())["steps"]["scan"]["status"] == "succeeded"
    assert_semgrep_ran(work)
    assert f"open the card page: {(work / 'cards' / 'index.html').as_uri()}" in proc.stdout
    assert re.search(rf"^DORA report\s+{re.escape(str(work / 'dora.html'))} \(not produced\)$", proc.stdout, re.M)
    assert re.search(rf"^GitOps repository \(bare\)\s+{re.escape(str(work / 'gitops.git'))}$", proc.stdout, re.M)

    proc = run_rehearse(tmp_path, "--workdir", str(work), "--stages", "scan")  # no --keep: emptied, not removed
    assert proc.returncode == 0 and work.is_dir() and list(work.iterdir()) == []
    assert "the work folder was removed; --keep keeps it" in proc.stdout
