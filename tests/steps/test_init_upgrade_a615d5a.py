"""A service onboarded by pipekit at commit a615d5a (template 1),
carried over to today's templates by --upgrade.

tests/fixtures/init_a615d5a/ holds what that release's ``pipekit init`` wrote (made by running it:
see make.py there). Here the team's repositories hold those files on ``master`` (service and
GitOps), dev has been deployed once, and the team has edited the Deployment by hand. The upgrade
must bring every fix of issue 21 and keep both the hand edit and dev's deployed image.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipekit.gitops import kustomization
from pipekit.gitops.refs import ImageRef
from tests.conftest import git, run_pipekit
from tests.steps.test_init import GITOPS_URL, IMAGE, init, serve_url

FIXTURE = Path(__file__).parents[1] / "fixtures" / "init_a615d5a"


def repo_on_master(root: Path, files: Path) -> Path:
    root.mkdir()
    git("init", "-q", "-b", "master", cwd=root)
    git("config", "user.email", "dev@example.com", cwd=root)
    git("config", "user.name", "Dev Eloper", cwd=root)
    shutil.copytree(files, root, dirs_exist_ok=True)
    (root / "README.md").write_text(f"{root.name}\n")
    git("add", ".", cwd=root)
    git("commit", "-q", "-m", "Onboard orders with pipekit init 0.1.0 (a615d5a)", cwd=root)
    return root


@pytest.fixture
def onboarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(service checkout, GitOps checkout, bare GitOps repository), both on master, as the team has them."""
    service = repo_on_master(tmp_path / "orders", FIXTURE / "service")
    seed = repo_on_master(tmp_path / "gitops-seed", FIXTURE / "gitops")
    bare = tmp_path / "gitops.git"
    git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    serve_url(tmp_path, {GITOPS_URL: bare}, monkeypatch)
    checkout = tmp_path / "gitops"
    git("clone", "-q", GITOPS_URL, str(checkout), cwd=tmp_path)
    git("config", "user.email", "dev@example.com", cwd=checkout)
    git("config", "user.name", "Dev Eloper", cwd=checkout)
    dev = checkout / "apps/orders/overlays/dev/kustomization.yaml"  # the first build reached dev
    text, _old = kustomization.set_image(
        dev.read_text(), str(dev), ImageRef(IMAGE, new_tag="1a2b3c4", build=7)
    )
    dev.write_text(text)
    deployment = checkout / "apps/orders/base/deployment.yaml"  # the team's own edit
    assert deployment.read_text().count("initialDelaySeconds: 30") == 1
    deployment.write_text(
        deployment.read_text().replace("initialDelaySeconds: 30", "initialDelaySeconds: 60")
    )
    git("commit", "-qam", "orders: dev at 1a2b3c4; a slower liveness probe", cwd=checkout)
    git("push", "-q", "origin", "master", cwd=checkout)
    monkeypatch.chdir(service)
    return service, checkout, bare


@pytest.mark.slow
def test_upgrade_brings_the_fixes_and_keeps_the_hand_edit(onboarded: tuple[Path, Path, Path]) -> None:
    service, checkout, _bare = onboarded
    old = yaml.safe_load((service / "bitbucket-pipelines.yml").read_text())
    assert list(old["pipelines"]["branches"]) == ["main"]  # the defect: this repository's branch is master

    result = init(service, gitops_dir=checkout, upgrade=True)
    assert result.status == "written" and not result.conflicts and not result.problems, result  # type: ignore[attr-defined]
    assert result.files["gitops:apps/orders/base/deployment.yaml"] == "merged"  # type: ignore[attr-defined]

    pipeline = yaml.safe_load((service / "bitbucket-pipelines.yml").read_text())
    main = pipeline["pipelines"]["branches"]["master"]  # item 1: the service's own branch
    steps = {s["step"]["name"]: s["step"] for s in main[1:]}
    assert steps["Build and push image"]["script"][-1] == "pipekit ecr-push --create-repository"  # item 3
    assert "Push to ECR" not in steps
    assert all(s["step"].get("oidc") is True for s in main[0]["parallel"])  # item 8
    config = yaml.safe_load((service / "pipekit.yaml").read_text())
    assert config["ecr"]["region"] == "eu-west-1" and config["gitops"]["branch"] == "master"  # items 4, 1
    assert config["environments"]["qa"] == {"promotion": "auto"}  # item 6: no Jira project was ever given
    app = yaml.safe_load((checkout / "argocd/orders/apps/orders-qa.yaml").read_text())
    assert app["spec"]["source"]["targetRevision"] == "master"

    deployment = (checkout / "apps/orders/base/deployment.yaml").read_text()
    assert "initialDelaySeconds: 60" in deployment and "initialDelaySeconds: 30" not in deployment  # the edit
    assert "runAsNonRoot: true" in deployment and "seccompProfile" in deployment  # item 14
    job = (checkout / "apps/orders/base/post-sync-test.yaml").read_text()
    assert "--health-url" in job and "activeDeadlineSeconds: 480" in job  # items 5, 12
    dev = (checkout / "apps/orders/overlays/dev/kustomization.yaml").read_text()
    assert "newTag: 1a2b3c4  # pipekit:build=7" in dev and "replicas:" not in dev  # deployed: its pods stay
    qa = (checkout / "apps/orders/overlays/qa/kustomization.yaml").read_text()
    assert "newTag: pending" in qa and "replicas:  # pipekit:placeholder" in qa  # item 10

    recorded = yaml.safe_load((service / ".pipekit/init.yaml").read_text())
    assert recorded["template_version"] == 2
    assert recorded["answers"]["branch"] == "master" and recorded["answers"]["gitops_branch"] == "master"
    git("add", "--all", cwd=checkout)  # the upgrade also adds files (the alerts): commit them too
    git("commit", "-qm", "orders: upgrade to pipekit init", cwd=checkout)
    check = run_pipekit("init", "--check", "--gitops-dir", str(checkout), cwd=service)
    assert check.returncode == 0, check.stderr
    again = init(service, gitops_dir=checkout, upgrade=True)
    assert again.status == "unchanged"  # type: ignore[attr-defined]
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True, check=True
        ).stdout
        == ""
    )
