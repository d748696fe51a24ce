"""The Argo CD stand-in runs a rendered PostSync Job as a real `pipekit post-sync-test` process,
against the Kubernetes stand-in rolling the app's Deployment out."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from pipekit.argocd.state import FAILED, SUCCEEDED, Verdict, judge
from pipekit.testing.argocd import ArgoCDStandIn
from pipekit.testing.argocd.gitops import GitOpsFollower
from pipekit.testing.argocd.hooks import PostSyncRunner
from pipekit.testing.kubernetes import KubernetesStandIn
from tests.conftest import git

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  replicas: 2
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec: {containers: [{name: app, image: registry.example.com/orders:1.0.0}]}
"""
SUITE = (
    "import os; os.makedirs('results', exist_ok=True); bad = os.environ.get('BREAK') == '1'; "
    'open(\'results/junit.xml\', \'w\').write(\'<testsuite name="api" tests="1" failures="%d">'
    '<testcase classname="api" name="orders">%s</testcase></testsuite>\' '
    "% (bad, '<failure message=\"orders total is wrong\"/>' if bad else ''))"
)


def job(broken: bool) -> str:
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "orders-api-tests", "annotations": {"argocd.argoproj.io/hook": "PostSync"}},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "tests",
                                "image": "registry.example.com/pipekit:1",
                                "args": [
                                    "post-sync-test",
                                    "--wait-ready",
                                    "deployment/orders",
                                    "--junit-dir",
                                    "results",
                                    "--suite",
                                    "api",
                                    "--",
                                    sys.executable,
                                    "-c",
                                    SUITE,
                                ],
                                "env": [{"name": "BREAK", "value": "1" if broken else "0"}],
                            }
                        ],
                    }
                }
            },
        }
    )


def settled(
    argo: ArgoCDStandIn, name: str, revision: str, *, timeout: float, step: float = 0.1
) -> tuple[Verdict | None, dict[str, Any]]:
    """Poll the stand-in's API until app ``name`` at ``revision`` succeeded or failed (or the timeout)."""
    deadline, verdict, app = time.monotonic() + timeout, None, {}
    while time.monotonic() < deadline:
        app = requests.get(
            f"{argo.url}/api/v1/applications/{name}",
            headers={"Authorization": f"Bearer {argo.token}"},
            timeout=5,
        ).json()
        verdict = judge(app, revision)
        if verdict.status in (SUCCEEDED, FAILED):
            break
        time.sleep(step)
    return verdict, app


def gitops_repo(tmp_path: Path, broken: bool) -> tuple[Path, Path]:
    work, bare = tmp_path / "work", tmp_path / "gitops.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    git("config", "user.email", "ci@example.com", cwd=work)
    git("config", "user.name", "CI", cwd=work)
    app = work / "orders"
    app.mkdir()
    (app / "deployment.yaml").write_text(DEPLOYMENT)
    (app / "job.yaml").write_text(job(broken))
    (app / "kustomization.yaml").write_text("namespace: orders-dev\nresources: [deployment.yaml, job.yaml]\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "orders", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return bare, work


def new_revision(work: Path) -> str:
    path = work / "orders" / "deployment.yaml"
    path.write_text(path.read_text().replace("orders:1.0.0", "orders:1.1.0"))
    git("commit", "-q", "-am", "orders 1.1.0", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.mark.parametrize("broken", [False, True])
def test_postsync_hook_runs_pipekit_for_real(tmp_path: Path, broken: bool) -> None:
    bare, work = gitops_repo(tmp_path, broken)
    with KubernetesStandIn() as kube, ArgoCDStandIn() as argo:
        runner = PostSyncRunner(kube, tmp_path / "jobs", step=0.1, linger=0.3)
        follower = GitOpsFollower(argo, step=0.05, poll=60, hook_runner=runner)
        follower.follow("orders-dev", bare, "orders")
        head = new_revision(work)
        follower.refresh("orders-dev")
        verdict, app = settled(argo, "orders-dev", head, timeout=90)
    assert verdict is not None and verdict.status == (FAILED if broken else SUCCEEDED), verdict
    (run,) = runner.runs
    assert run.returncode == (1 if broken else 0), run.stderr
    assert "deployment/orders: deployment 'orders' successfully rolled out" in run.stdout
    record = json.loads((tmp_path / "jobs" / "orders-dev" / "run.json").read_text())["steps"][
        "post_sync_test"
    ]
    assert record["outputs"]["gitops_revision"] == head and record["outputs"]["namespace"] == "orders-dev"
    if broken:
        hook = [r for r in app["status"]["operationState"]["syncResult"]["resources"] if r.get("hookType")][0]
        assert hook["hookPhase"] == "Failed" and "pipekit exit 1" in hook["message"]
        assert "1 of 1 test(s) failed" in hook["message"]
