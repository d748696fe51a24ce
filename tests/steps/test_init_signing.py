"""pipekit init --signing-public-key: a Kyverno ClusterPolicy in the GitOps base, the AppProject allowing it,
the pipeline signing and pipekit.yaml gating on the key. Real git repositories, kustomize and schemas."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from pipekit.signing import cosign_keys
from tests.conftest import load_schema
from tests.steps.test_init import IMAGE, cli, kustomize, make_repos


@pytest.fixture
def repos(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    return make_repos(tmp_path, git_repo, monkeypatch)


@pytest.mark.slow
def test_signing_public_key_writes_a_valid_kyverno_policy_and_gates(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    service, gitops, _bare = repos
    _private, public = cosign_keys.generate(b"pw", n=1 << 12)
    key_file = tmp_path / "cosign.pub"
    key_file.write_text(public)
    proc = cli(
        service,
        "--service",
        "orders",
        "--gitops-dir",
        str(gitops),
        "--image-repo",
        IMAGE,
        "--signing-public-key",
        str(key_file),
        "--jira-project",
        "ORD",
    )
    assert proc.returncode == 0, proc.stderr

    base = gitops / "apps" / "orders" / "base"
    policy = yaml.safe_load((base / "kyverno-verify-images.yaml").read_text())
    jsonschema.validate(policy, load_schema("kyverno-clusterpolicy-v1.schema.json"))
    assert policy["kind"] == "ClusterPolicy" and policy["metadata"]["name"] == "verify-images-orders"
    rule = policy["spec"]["rules"][0]["verifyImages"][0]
    assert rule["imageReferences"] == [f"{IMAGE}*"]
    keys = rule["attestors"][0]["entries"][0]["keys"]
    assert keys["publicKeys"].strip() == public.strip()
    assert keys["rekor"] == {"ignoreTlog": True} and rule["failureAction"] == "Enforce"
    assert (
        "kyverno-verify-images.yaml" in yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    )
    rendered = kustomize(gitops / "apps" / "orders" / "overlays" / "dev")
    # every overlay renders it (kustomize also stamps the overlay's namespace on it, as on any kind it does
    # not know as cluster-scoped; Argo CD applies cluster-scoped resources without one)
    assert [d["metadata"]["name"] for d in rendered if d["kind"] == "ClusterPolicy"] == [
        "verify-images-orders"
    ]

    project = yaml.safe_load((gitops / "argocd" / "orders" / "apps" / "project.yaml").read_text())
    assert {"group": "kyverno.io", "kind": "ClusterPolicy"} in project["spec"]["clusterResourceWhitelist"]

    config = yaml.safe_load((service / "pipekit.yaml").read_text())
    assert config["signing"] == {"public_keys": ["cosign.pub"]}
    assert (service / "cosign.pub").read_text().strip() == public.strip()
    assert config["environments"]["qa"]["gates"] == ["jira", "signature"]
    pipeline = (service / "bitbucket-pipelines.yml").read_text()
    assert "pipekit ecr-push --create-repository --sign" in pipeline and "PIPEKIT_SIGNING_KEY" in pipeline
    assert "--gates jira,signature" in pipeline or "jira,signature" in pipeline

    # the answer is recorded: a rerun without the flag keeps signing
    again = cli(service, "--gitops-dir", str(gitops))
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout


def test_a_bad_public_key_is_exit_2(repos: tuple[Path, Path, Path], tmp_path: Path) -> None:
    service, gitops, _bare = repos
    bad = tmp_path / "not-a-key.pub"
    bad.write_text("hello\n")
    proc = cli(service, "--service", "orders", "--gitops-dir", str(gitops), "--signing-public-key", str(bad))
    assert proc.returncode == 2 and "--signing-public-key" in proc.stderr, proc.stderr
    proc = cli(
        service,
        "--service",
        "orders",
        "--gitops-dir",
        str(gitops),
        "--signing-public-key",
        str(tmp_path / "missing.pub"),
    )
    assert proc.returncode == 2 and "missing.pub: cannot read it" in proc.stderr
