"""promote against real bare GitOps repositories: chain, auto/gated/manual rules, one commit per batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_pipekit
from tests.fixtures.gitops.repo import IMAGE, git, make_repo, overlay, read

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

DIGEST = "sha256:" + "d" * 64


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    bare, work = make_repo(tmp_path, ["orders", "billing", "payments"])
    # dev has fresh builds of orders and billing (tag + digest, written by update-tag with build numbers)
    for service, tag, build in (("orders", "1a2b3c4", 41), ("billing", "5d6e7f8", 42)):
        path = work / overlay(service, "dev")
        path.write_text(
            path.read_text().replace(
                'newTag: "0000001"   # short sha, quoted',
                f'newTag: "{tag}"   # short sha, quoted  # pipekit:build={build}\n    digest: {DIGEST}',
            )
        )
    git("commit", "-qam", "dev builds", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return bare


def promote(repo: Path, tmp_path: Path, *args: str, config: str = "", env: dict[str, str] | None = None):
    cfg = tmp_path / "pipekit.yaml"
    cfg.write_text(f"gitops:\n  repo: {repo}\n" + config)
    return run_pipekit("promote", *args, env=env, cwd=tmp_path)


def count(repo: Path) -> int:
    return int(git("rev-list", "--count", "main", cwd=repo))


def test_auto_promotion_is_one_commit_with_promoted_from_trailers(repo: Path, tmp_path: Path) -> None:
    before = count(repo)
    qa_before = read(repo, overlay("orders", "qa"))
    proc = promote(
        repo, tmp_path, "--from", "dev", "--to", "qa", "--service", "orders", "--service", "billing", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "pushed" and result["rule"] == "auto"
    assert sorted(result["services"]) == ["billing", "orders"]
    assert count(repo) == before + 1
    for service, tag in (("orders", "1a2b3c4"), ("billing", "5d6e7f8")):
        entry = yaml.safe_load(read(repo, overlay(service, "qa")))["images"][0]
        assert entry == {"name": IMAGE.format(service=service), "newTag": tag, "digest": DIGEST}
    qa_after = read(repo, overlay("orders", "qa"))
    diff = [(a, b) for a, b in zip(qa_before.splitlines(), qa_after.splitlines(), strict=True) if a != b]
    assert diff == [
        (
            "  newTag: 'abc1234'     # quoted the old way",
            "  newTag: '1a2b3c4'     # quoted the old way  # pipekit:build=41",
        ),
        ("  digest: sha256:" + "1" * 64, f"  digest: {DIGEST}"),
    ]
    body = git("log", "-1", "--format=%B", cwd=repo)
    assert "Pipekit-Promoted-From: dev" in body and "Pipekit-Environment: qa" in body
    assert body.count("Pipekit-Service: ") == 2 and f"Pipekit-Digest: {DIGEST}" in body
    assert git("log", "-1", "--format=%s", cwd=repo) == "promote dev -> qa: orders 1a2b3c4, billing 5d6e7f8"
    outputs = json.loads((tmp_path / ".pipekit/run.json").read_text())["steps"]["promote"]["outputs"]
    assert outputs["from"] == "dev" and outputs["to"] == "qa"
    assert outputs["gitops_revision"] == git("rev-parse", "main", cwd=repo)
    assert sorted(outputs["services"]) == ["billing", "orders"]
    # again: nothing to do
    proc = promote(
        repo, tmp_path, "--from", "dev", "--to", "qa", "--service", "billing", "--service", "orders"
    )
    assert proc.returncode == 0 and "nothing to do; nothing committed" in proc.stdout
    assert count(repo) == before + 1


def test_all_and_dry_run(repo: Path, tmp_path: Path) -> None:
    before = count(repo)
    proc = promote(repo, tmp_path, "--from", "dev", "--to", "qa", "--all", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "+++ b/orders/overlays/qa/kustomization.yaml" in proc.stdout
    assert "+++ b/billing/overlays/qa/kustomization.yaml" in proc.stdout
    assert "+++ b/payments/overlays/qa/kustomization.yaml" in proc.stdout  # 0000001 -> qa's abc1234
    assert count(repo) == before


def test_chain_cannot_be_skipped_unless_allowed(repo: Path, tmp_path: Path) -> None:
    proc = promote(repo, tmp_path, "--from", "dev", "--to", "preprod", "--service", "orders")
    assert proc.returncode == 1
    assert "refused by the chain rule: preprod is promoted from qa; skipping qa is not allowed" in proc.stderr
    proc = promote(repo, tmp_path, "--from", "prod", "--to", "qa", "--service", "orders")
    assert proc.returncode == 1 and "refused by the chain rule" in proc.stderr
    config = (
        "environments:\n  dev: {}\n  qa: {}\n  preprod: {allow_skip: true}\n  prod: {promotion: manual}\n"
    )
    proc = promote(repo, tmp_path, "--from", "dev", "--to", "preprod", "--service", "orders", config=config)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(read(repo, overlay("orders", "preprod")))["images"][0]["newTag"] == "1a2b3c4"


def test_manual_needs_approve_and_the_matching_deployment_step(repo: Path, tmp_path: Path) -> None:
    before = count(repo)
    args = ("--from", "preprod", "--to", "prod", "--service", "orders")
    proc = promote(repo, tmp_path, *args)
    assert proc.returncode == 1 and "refused by rule 'manual': prod needs --approve" in proc.stderr
    bitbucket = {
        "BITBUCKET_BUILD_NUMBER": "77",
        "BITBUCKET_REPO_FULL_NAME": "acme/gitops",
        "BITBUCKET_DEPLOYMENT_ENVIRONMENT": "staging",
    }
    proc = promote(repo, tmp_path, *args, "--approve", env=bitbucket)
    assert proc.returncode == 1
    assert (
        "refused by rule 'manual'" in proc.stderr
        and "BITBUCKET_DEPLOYMENT_ENVIRONMENT is staging" in proc.stderr
    )
    assert count(repo) == before
    proc = promote(
        repo, tmp_path, *args, "--approve", env={**bitbucket, "BITBUCKET_DEPLOYMENT_ENVIRONMENT": "prod"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "Pipekit-Build-Url: https://bitbucket.org/acme/gitops/pipelines/results/77" in git(
        "log", "-1", "--format=%B", cwd=repo
    )
    prod = yaml.safe_load(read(repo, overlay("orders", "prod")))["images"][0]
    assert prod["newTag"] == "v0.9.0" and "digest" not in prod  # preprod had a tag only: stale digest removed


GATED = "environments:\n  dev: {}\n  qa:\n    promotion: gated\n    gates: [%s]\n"


@pytest.mark.parametrize(
    "gate, message",
    [
        (
            "jira",
            "refused by rule 'gated': gate 'jira' is not available: no Jira project: "
            "set PIPEKIT_JIRA_PROJECT",
        ),
        (
            "tests.fixtures.gitops.gate_hooks:offline",
            "refused by rule 'gated': gate 'offline' is not available",
        ),
        (
            "tests.fixtures.gitops.gate_hooks:failing",
            "refused by gate 'tests.fixtures.gitops.gate_hooks:failing': "
            "ticket for billing, orders is not in 'Ready for qa'",
        ),
        ("nosuchgate", "refused by rule 'gated': unknown gate 'nosuchgate'"),
    ],
)
def test_gated_refuses_when_a_gate_is_unavailable_or_fails(
    repo: Path, tmp_path: Path, gate: str, message: str
) -> None:
    before = count(repo)
    proc = promote(
        repo,
        tmp_path,
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        "--service",
        "billing",
        config=GATED % gate,
    )
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert count(repo) == before


def test_gated_promotes_when_gates_pass(repo: Path, tmp_path: Path) -> None:
    proc = promote(
        repo,
        tmp_path,
        "--from",
        "dev",
        "--to",
        "qa",
        "--service",
        "orders",
        config=GATED % "tests.fixtures.gitops.gate_hooks:passing",
    )
    assert proc.returncode == 0, proc.stderr
    assert "(gated)" in proc.stdout


def test_never_promotes_an_older_build_over_a_newer_one(repo: Path, tmp_path: Path) -> None:
    run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(repo),
        "--path",
        "orders/overlays/qa",
        "--image",
        IMAGE.format(service="orders"),
        "--tag",
        "9999999",
        "--build-number",
        "50",
        "--renderer",
        "none",
    )
    before = count(repo)
    proc = promote(repo, tmp_path, "--from", "dev", "--to", "qa", "--service", "orders", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "unchanged" and result["services"] == []
    assert result["skipped"]["orders"].startswith("superseded: build 50 already wrote this entry")
    assert count(repo) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (("--from", "dev", "--to", "stage", "--all"), "unknown environment 'stage'"),
        (("--from", "dev", "--to", "qa"), "--service NAME (repeatable) or --all"),
        (
            ("--from", "dev", "--to", "qa", "--all", "--service", "orders"),
            "--service NAME (repeatable) or --all",
        ),
    ],
)
def test_bad_input_exits_2(repo: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = promote(repo, tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr


def test_missing_source_overlay_exits_1(repo: Path, tmp_path: Path) -> None:
    proc = promote(repo, tmp_path, "--from", "dev", "--to", "qa", "--service", "ghost")
    assert proc.returncode == 1
    assert "ghost/overlays/dev: no kustomization.yaml" in proc.stderr


def test_promotions_carry_the_source_commit_trailers(repo: Path, tmp_path: Path) -> None:
    """Lead time for qa and preprod needs the source commit: found in the history (deepening the clone)."""
    record = tmp_path / "build-run.json"
    record.write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {
                        "status": "succeeded",
                        "outputs": {
                            "source_commit": "feedfacefeedfacefeedfacefeedfacefeedface",
                            "source_committed_at": "2026-11-20T09:30:00+00:00",
                        },
                    }
                },
            }
        )
    )
    update = ("update-tag", "--gitops-repo", str(repo), "--renderer", "none", "--run-record", str(record))
    proc = run_pipekit(
        *update,
        "--path",
        "orders/overlays/dev",
        "--image",
        IMAGE.format(service="orders"),
        "--tag",
        "7a7a7a7",
        "--digest",
        DIGEST,
        "--env",
        "dev",
        "--service",
        "orders",
    )
    assert proc.returncode == 0, proc.stderr
    for n in range(3):  # later, unrelated commits: the one we need is no longer the tip
        assert (
            run_pipekit(
                *update,
                "--path",
                "billing/overlays/dev",
                "--image",
                IMAGE.format(service="billing"),
                "--tag",
                f"b{n}b{n}b{n}b",
                "--service",
                "billing",
            ).returncode
            == 0
        )
    assert promote(repo, tmp_path, "--from", "dev", "--to", "qa", "--service", "orders").returncode == 0
    assert promote(repo, tmp_path, "--from", "qa", "--to", "preprod", "--service", "orders").returncode == 0
    for rev in ("main~1", "main"):
        body = git("log", "-1", "--format=%B", rev, cwd=repo)
        assert "Pipekit-Promoted-From: " in body
        assert "Pipekit-Source-Commit: feedfacefeedfacefeedfacefeedfacefeedface" in body
        assert "Pipekit-Source-Committed-At: 2026-11-20T09:30:00+00:00" in body
