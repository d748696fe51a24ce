"""`pipekit rehearse` past the first deployment: the PostSync hook as a real `pipekit post-sync-test`
process, the promotions to preprod (refused, then approved) and prod, and `pipekit history`;
each checked from what the rehearsal leaves behind (run record, JUnit, the GitOps log)."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipekit.argocd.state import FAILED, SUCCEEDED
from pipekit.core.console import Console
from pipekit.core.runrecord import RunRecord
from pipekit.rehearsal import hook, onboard, workspace
from pipekit.testing.argocd import ArgoCDStandIn
from pipekit.testing.argocd.gitops import GitOpsFollower
from pipekit.testing.argocd.hooks import PostSyncRunner
from pipekit.testing.kubernetes import KubernetesStandIn
from tests.test_argocd_hooks import settled
from tests.test_rehearse import git, run_rehearse

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test


@pytest.mark.slow
def test_hook_promotions_and_history_from_the_artifacts(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_rehearse(tmp_path, "--keep", "--channel", "teams")
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert took < 60, f"the whole rehearsal took {took:.1f} s"
    out, (work,) = proc.stdout, list(tmp_path.glob("pipekit-rehearse-*"))
    steps = json.loads((work / "run.json").read_text())["steps"]
    deployed = steps["update_tag"]["outputs"]["gitops_revision"]
    sha = git("rev-parse", "HEAD", cwd=work / "demo-service")

    # the PostSync hook: a real pipekit post-sync-test process ran the API tests against the
    # Kubernetes stand-in, at the revision deployed; its section is in the pipeline's run record
    hook_out = steps["post_sync_test"]["outputs"]
    assert steps["post_sync_test"]["status"] == "succeeded"
    assert (hook_out["suite"], hook_out["result"], hook_out["namespace"]) == (
        "demo-service", "passed", "demo-service-dev")
    assert hook_out["gitops_revision"] == deployed and hook_out["workloads"] == ["deployment/demo-service"]
    assert (hook_out["tests"]["total"], hook_out["tests"]["passed"]) == (2, 2)
    job = work / "hooks" / "demo-service-dev"
    junit = ET.parse(job / "reports" / "demo-service-api.xml").getroot()  # init's Job: its /reports volume
    cases = [c.get("name") for c in junit.iter("testcase")]
    assert cases == ["test_deployment_is_available_at_its_replicas", "test_every_pod_of_the_service_is_ready"]
    assert not list(junit.iter("failure")) and not list(junit.iter("error"))
    log = (job / "job.log").read_text()
    assert "deployment 'demo-service' successfully rolled out" in log and "2 of 2 API tests passed" in log
    assert "running the suite: python3 api-tests/run.py --junit-xml " in log  # no pytest: the base image has none
    (app,) = steps["wait_for_argocd"]["outputs"]["apps"]
    assert [(h["name"], h["phase"]) for h in app["hooks"]] == [("demo-service-post-sync-test", "Succeeded")]
    assert re.search(r"^post_sync_test\s+succeeded\s+\d+\.\d s\s+suite demo-service in demo-service-dev: "
                     r"2 passed of 2", out, re.M)
    assert re.search(r"Suite demo-service +2 passed of 2", out), "the suite is on the cards"

    # promotions: one commit each for qa, preprod and prod; the refused preprod promotion none
    bare = work / "gitops.git"
    log_lines = git("log", "--format=%s", "refs/heads/main", cwd=bare).splitlines()
    assert log_lines == [f"promote preprod -> prod: demo-service {sha[:7]}",
                             f"promote qa -> preprod: demo-service {sha[:7]}",
                             f"promote dev -> qa: demo-service {sha[:7]}",
                             log_lines[3], "demo-service: onboard with pipekit init 0.1.0",
                             "GitOps repository"], log_lines
    assert git("rev-parse", "refs/heads/main~3", cwd=bare) == deployed
    for env in ("preprod", "prod"):
        overlay = git("show", f"main:apps/demo-service/overlays/{env}/kustomization.yaml", cwd=bare)
        assert re.search(rf'^    newTag: ("?){sha[:7]}\1', overlay, re.M), overlay
        trailer = git("log", "-1", "--format=%(trailers:key=Pipekit-Environment,valueonly)",
                      f"main~{1 if env == 'preprod' else 0}", cwd=bare)
        assert trailer == env
    assert "refused as it must be: promotion qa -> preprod refused by rule 'manual': preprod needs --approve" in out
    promoted = steps["promote"]["outputs"]
    assert (steps["promote"]["status"], promoted["from"], promoted["to"], promoted["rule"]) == (
        "succeeded", "preprod", "prod", "manual")
    assert promoted["gitops_revision"] == git("rev-parse", "refs/heads/main", cwd=bare)
    for stage in ("promote_preprod", "promote_prod"):
        assert re.search(rf"^{stage}\s+succeeded\s+\d+\.\d s\s", out, re.M), stage
        assert f"--- teams: promoted ({stage}) -> sent, HTTP 202" in out

    # pipekit history: every environment, newest first, each what runs there now
    listed = re.findall(r"^\* \S+ \S+  (\w+) +(deploy|promotion from \w+) +(\w+)", out, re.M)
    assert listed == [("prod", "promotion from preprod", sha[:7]), ("preprod", "promotion from qa", sha[:7]),
                      ("qa", "promotion from dev", sha[:7]), ("dev", "deploy", sha[:7])]
    assert "history: 4 deployment(s) of demo-service; running in dev, preprod, prod, qa" in out


@pytest.mark.parametrize("least", [1, 5])
def test_the_rehearsal_hook_fails_the_sync_when_its_api_tests_fail(tmp_path: Path, least: int) -> None:
    """The GitOps layout's PostSync Job, run by the rehearsal's runner: a failing API test (more ready
    replicas demanded than the Deployment has) fails the hook, so the sync, and lands in the record."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "DEMO_API_MIN_READY": str(least)}
    env = {k: v for k, v in env.items() if not k.startswith(("PIPEKIT_", "BITBUCKET_"))}
    sample = tmp_path / "demo-service"
    sample.mkdir()
    workspace.git("init", "-q", "-b", "main", cwd=sample, env=env)
    onboard.onboard(tmp_path, sample, "demo-service", workspace.ENVIRONMENTS, env, Console(stream=io.StringIO()))
    bare = tmp_path / "gitops.git"  # pipekit init's layout and PostSync Job
    record = tmp_path / "run.json"
    with KubernetesStandIn() as kube, ArgoCDStandIn() as argo:
        runner = hook.RecordingRunner(PostSyncRunner(kube, tmp_path / "hooks", env=env, step=0.05, linger=0.1,
                                                     timeout=60), record)
        follower = GitOpsFollower(argo, step=0.05, poll=60, hook_runner=runner)
        follower.follow("demo-service-dev", bare, "apps/demo-service/overlays/dev")
        head = git("rev-parse", "refs/heads/main", cwd=bare)
        follower.refresh("demo-service-dev", force=head)
        verdict, app = settled(argo, "demo-service-dev", head, timeout=60)
    assert verdict is not None and verdict.status == (SUCCEEDED if least == 1 else FAILED), verdict
    section = RunRecord.load(record).step("post_sync_test")
    assert section["outputs"]["gitops_revision"] == head
    if least == 1:
        assert section["status"] == "succeeded" and section["outputs"]["result"] == "passed"
    else:
        assert section["status"] == "failed" and section["outputs"]["result"] == "failed"
        assert "fewer than 5" in (tmp_path / "hooks" / "demo-service-dev" / "job.log").read_text()
        (hook_state,) = [r for r in app["status"]["operationState"]["syncResult"]["resources"] if r.get("hookType")]
        assert hook_state["hookPhase"] == "Failed" and "1 of 2 test(s) failed" in hook_state["message"]
