"""Issue 21's proof: what `pipekit init` writes works on a team's first real run.

A service on `master` and a GitOps repository on `master` (served over HTTP, as a step in its
image reaches it) are onboarded by `pipekit init`; then `pipekit run-pipeline --trigger
branch:master` runs the generated pipeline under Bitbucket's rules against the stand-ins (moto for
ECR and STS, the docker-registry, the Argo CD, Kubernetes and Jira stand-ins, the webhook sink):
the unit tests, SAST and SCA, the security gate, the image built, pushed and signed in one step,
dev deployed, qa promoted through its jira and signature gates, preprod and prod approved. A
second service onboarded into the same GitOps repository deploys without touching the first.
`pipekit rehearse` is this test's user-facing form.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.core import yamlload
from pipekit.rehearsal import onboard, pipeline
from pipekit.rehearsal.world import World
from pipekit.signing import cosign_keys
from tests.conftest import REPO_ROOT, git, run_pipekit

pytestmark = pytest.mark.slow

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
PASSWORD = "pw-" + os.urandom(6).hex()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "world", env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")})
    try:
        yield w.start()
    finally:
        assert w.close() == []


def service_repo(tmp_path: Path, name: str) -> Path:
    """The sample as service ``name`` on ``master``, with what the rehearsal substitutes under rehearsal/."""
    repo = tmp_path / name
    shutil.copytree(
        REPO_ROOT / "pipekit" / "rehearsal" / "sample",
        repo,
        ignore=shutil.ignore_patterns("target", "__pycache__"),
    )
    (repo / ".gitignore").write_text("target/\n")
    (repo / "rehearsal").mkdir()
    shutil.copyfile(onboard.RULES, repo / onboard.SEMGREP_RULES)
    shutil.copyfile(onboard.SCAN_REPORT, repo / onboard.TRIVY_REPORT)
    git("init", "-q", "-b", "master", cwd=repo)
    git("config", "user.email", "dev@example.com", cwd=repo)
    git("config", "user.name", "Dev", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", f"The {name} service", cwd=repo)
    return repo


def init(repo: Path, world: World, url: str, public_key: Path) -> None:
    assert world.git is not None
    out = run_pipekit(
        "init",
        "--service",
        repo.name,
        "--gitops-repo",
        url,
        "--image-repo",
        f"{REGISTRY}/{repo.name}",
        "--jira-project",
        "ORD",
        "--signing-public-key",
        str(public_key),
        "--suite-command",
        # the sample's API tests, told which Deployment they test
        " ".join(("env", f"DEMO_SERVICE={repo.name}", *onboard.SUITE)),
        cwd=repo,
        env={"PIPEKIT_GITOPS_TOKEN": world.git.token},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Onboard with pipekit init", cwd=repo)


def run(repo: Path, variables: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pipekit(
        "run-pipeline",
        "--trigger",
        "branch:master",
        "--variables",
        str(variables),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--workdir",
        str(tmp_path / f"run-{repo.name}"),
        "--keep",
        *args,
        cwd=repo,
        timeout=900,
        env={"NO_COLOR": "1"},
    )


def step_lines(out: str) -> dict[str, str]:
    return dict(re.findall(r"^── (.+?): (passed|failed|timed-out|stopped) in ", out, re.M))


def test_inits_pipeline_runs_dev_to_prod_and_a_second_service_deploys_beside_the_first(
    tmp_path: Path, world: World
) -> None:
    private, public = cosign_keys.generate(PASSWORD.encode(), n=1024)
    key = tmp_path / "cosign.pub"
    key.write_text(public)
    url = world.gitops_repo("gitops", "master")
    bare = world.repos / "gitops.git"
    orders = service_repo(tmp_path, "orders")
    init(orders, world, url, key)
    settings = yamlload.load((orders / "pipekit.yaml").read_text(), "pipekit.yaml")
    assert (settings["gitops"]["repo"], settings["gitops"]["branch"]) == (url, "master")
    assert "  branches:\n    master:\n" in (orders / "bitbucket-pipelines.yml").read_text()
    world.follow(bare, "orders", "master")
    world.seed_jira(settings)
    pipeline.seed_maven(
        tmp_path / "cache",
        pipeline.maven_caches(orders / "bitbucket-pipelines.yml"),
        {"HOME": str(Path.home())},
    )
    variables = tmp_path / "variables.json"
    variables.write_text(
        json.dumps({"repository": pipeline.variables(world, settings, ("teams", "slack"), private, PASSWORD)})
    )

    first = run(orders, variables, tmp_path, "--approve", "preprod", "--approve", "prod")
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    assert step_lines(first.stdout) == {
        "Unit tests": "passed",
        "SAST": "passed",
        "SCA": "passed",
        "Security gate": "passed",
        "Build and push image": "passed",
        "Deploy to dev": "passed",
        "Promote to qa (jira,signature gate)": "passed",
        "Promote to preprod": "passed",
        "Promote to prod": "passed",
    }, first.stdout[-3000:]
    record = json.loads(
        (
            tmp_path / "run-orders" / "steps" / "09-promote-to-prod" / "clone" / ".pipekit" / "run.json"
        ).read_text()
    )["steps"]
    digest = record["ecr_push"]["outputs"]["digest"]
    assert record["sign"]["status"] == "succeeded"
    environments = git(
        "log", "--format=%(trailers:key=Pipekit-Environment,valueonly)", "master", cwd=bare
    ).split()
    assert environments == ["prod", "preprod", "qa", "dev"]
    for env in ("dev", "qa", "preprod", "prod"):
        overlay = git("show", f"master:apps/orders/overlays/{env}/kustomization.yaml", cwd=bare)
        assert f"digest: {digest}" in overlay and "pipekit:placeholder" not in overlay, env
        assert world.argocd is not None
        app = world.argocd.apps[f"orders-{env}"].state
        assert (app["sync"], app["health"], app["phase"]) == ("Synced", "Healthy", "Succeeded"), (env, app)
    before = git("rev-parse", "master", cwd=bare)
    assert world.argocd is not None
    deployed = {
        env: world.argocd.apps[f"orders-{env}"].state["op_revision"]
        for env in ("dev", "qa", "preprod", "prod")
    }

    # a second service into the same GitOps repository: it deploys to dev, the first is untouched
    payments = service_repo(tmp_path, "payments")
    init(payments, world, url, key)
    world.follow(bare, "payments", "master")
    second = run(payments, variables, tmp_path, "--until", "Deploy to dev")
    assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-2000:]
    assert step_lines(second.stdout)["Deploy to dev"] == "passed"
    assert git("diff", "--stat", before, "master", "--", "apps/orders", "argocd/orders", cwd=bare) == ""
    changed = git("diff", "--name-only", before, "master", cwd=bare).splitlines()
    assert changed and all(p.startswith(("apps/payments/", "argocd/payments/")) for p in changed), changed
    assert {env: world.argocd.apps[f"orders-{env}"].state["op_revision"] for env in deployed} == deployed
    payments_dev = world.argocd.apps["payments-dev"].state
    assert (payments_dev["sync"], payments_dev["health"], payments_dev["phase"]) == (
        "Synced",
        "Healthy",
        "Succeeded",
    )
