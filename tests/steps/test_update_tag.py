"""update-tag against real bare GitOps repositories: edit, validate, render, commit, push, retry."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipekit.clients.git import Git
from pipekit.core.step import StepContext
from pipekit.gitops.edits import ImageEdit
from pipekit.gitops.kustomization import ImageRef
from pipekit.gitops.writer import Change
from pipekit.update_tag import UpdateTagOptions, run
from tests.conftest import load_schema, run_pipekit
from tests.fixtures.gitops.repo import IMAGE, git, make_repo, overlay, read

ORDERS = IMAGE.format(service="orders")
DIGEST = "sha256:" + "c0ffee00" * 8


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    bare, _ = make_repo(tmp_path, ["orders", "billing", "payments"])
    return bare


def update(
    bare: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_pipekit("update-tag", "--gitops-repo", str(bare), *args, env=env, cwd=cwd)


def commits(bare: Path) -> list[str]:
    return git("rev-list", "main", cwd=bare).splitlines()


def trailers(bare: Path, rev: str = "main") -> dict[str, str]:
    out = git("log", "-1", "--format=%(trailers:only,unfold)", rev, cwd=bare)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


@pytest.mark.slow
def test_update_commits_with_trailers_renders_and_records(repo: Path, tmp_path: Path) -> None:
    before = read(repo, overlay("orders", "dev"))
    env = {
        "BITBUCKET_BUILD_NUMBER": "57",
        "BITBUCKET_REPO_FULL_NAME": "acme/orders",
        "BITBUCKET_COMMIT": "0123456789abcdef0123456789abcdef01234567",
    }
    record = tmp_path / "run.json"
    record.write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {
                        "status": "succeeded",
                        "outputs": {
                            "source_commit": "0123456789abcdef0123456789abcdef01234567",
                            "source_committed_at": "2026-11-26T10:00:00+00:00",
                        },
                    }
                },
            }
        )
    )
    proc = update(
        repo,
        "--path",
        "orders/overlays/dev",
        "--image",
        ORDERS,
        "--tag",
        "0123456",
        "--digest",
        DIGEST,
        "--env",
        "dev",
        "--service",
        "orders",
        "--json",
        "--run-record",
        str(record),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "pushed" and result["workloads"] == ["Deployment/orders"]
    assert result["gitops_revision"] == git("rev-parse", "main", cwd=repo)
    after = read(repo, overlay("orders", "dev"))
    assert yaml.safe_load(after)["images"][0] == {"name": ORDERS, "newTag": "0123456", "digest": DIGEST}
    jsonschema.Draft7Validator(load_schema("kustomization.schema.json")).validate(yaml.safe_load(after))
    changed = [
        line
        for line in git("diff", "main~1", "main", "--unified=0", cwd=repo).splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        '-    newTag: "0000001"   # short sha, quoted',
        '+    newTag: "0123456"   # short sha, quoted  # pipekit:build=57',
        f"+    digest: {DIGEST}",
    ]
    assert before.count("#") + 1 == after.count("#")
    t = trailers(repo)
    assert t["Pipekit-Service"] == "orders" and t["Pipekit-Environment"] == "dev"
    assert t["Pipekit-Image"] == ORDERS and t["Pipekit-Digest"] == DIGEST and t["Pipekit-Tag"] == "0123456"
    assert t["Pipekit-Source-Commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert t["Pipekit-Source-Committed-At"] == "2026-11-26T10:00:00+00:00"
    assert t["Pipekit-Build-Url"] == "https://bitbucket.org/acme/orders/pipelines/results/57"
    subject = git("log", "-1", "--format=%s", cwd=repo)
    assert subject == "orders: dev 0000001 -> 0123456"
    outputs = json.loads(record.read_text())["steps"]["update_tag"]["outputs"]
    assert outputs["gitops_revision"] == result["gitops_revision"]
    assert {k: outputs[k] for k in ("environment", "service", "image", "tag", "digest", "overlay")} == {
        "environment": "dev",
        "service": "orders",
        "image": ORDERS,
        "tag": "0123456",
        "digest": DIGEST,
        "overlay": "orders/overlays/dev",
    }
    assert (
        git("log", "-1", "--format=%an <%ae>|%cn <%ce>", cwd=repo)
        == "pipekit <pipekit@localhost>|pipekit <pipekit@localhost>"
    )


@pytest.mark.slow
def test_second_run_is_a_no_op(repo: Path) -> None:
    args = ("--path", "orders/overlays/qa", "--image", ORDERS, "--tag", "1234567")
    assert update(repo, *args).returncode == 0
    head = commits(repo)
    proc = update(repo, *args)
    assert proc.returncode == 0
    assert "already at 1234567: nothing committed" in proc.stdout
    assert commits(repo) == head


def test_dry_run_prints_the_diff_and_pushes_nothing(repo: Path) -> None:
    head = commits(repo)
    proc = update(
        repo,
        "--path",
        "billing/overlays/prod",
        "--image",
        IMAGE.format(service="billing"),
        "--tag",
        "v2.0.0",
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    assert "--- a/billing/overlays/prod/kustomization.yaml" in proc.stdout
    assert "-    newTag: v0.8.0" in proc.stdout and "+    newTag: v2.0.0" in proc.stdout
    assert commits(repo) == head
    outputs = json.loads(Path(os.environ["PIPEKIT_RUN_RECORD"]).read_text())["steps"]["update_tag"]["outputs"]
    assert outputs["status"] == "dry-run" and "gitops_revision" not in outputs


def test_config_env_and_run_record_fill_everything(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text(
        "service: payments\n"
        f"gitops:\n  repo: {repo}\n  overlay: '{{service}}/overlays/{{env}}'\n"
        "  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/{service}\n"
        "  author: {name: Release Bot, email: release@example.com}\n"
        "  committer: {name: Pipekit CI, email: ci@example.com}\n"
    )
    (tmp_path / ".pipekit").mkdir(exist_ok=True)
    (tmp_path / ".pipekit/run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {"status": "succeeded", "outputs": {"tags": ["9876543", "57"]}},
                    "ecr_push": {
                        "status": "succeeded",
                        "outputs": {"digest": DIGEST, "tags": ["9876543", "57"]},
                    },
                },
            }
        )
    )
    proc = run_pipekit("update-tag", "--env", "qa", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(read(repo, overlay("payments", "qa")))
    assert data["images"][0]["newTag"] == "9876543" and data["images"][0]["digest"] == DIGEST
    assert (
        git("log", "-1", "--format=%an <%ae>|%cn <%ce>", cwd=repo)
        == "Release Bot <release@example.com>|Pipekit CI <ci@example.com>"
    )


@pytest.mark.slow
def test_missing_entry_exits_1_unless_create(repo: Path) -> None:
    head = commits(repo)
    proc = update(
        repo, "--path", "orders/overlays/dev", "--image", "acme/cache", "--tag", "1", "--renderer", "none"
    )
    assert proc.returncode == 1 and "no images entry with name 'acme/cache'" in proc.stderr
    assert commits(repo) == head
    proc = update(
        repo,
        "--path",
        "orders/overlays/dev",
        "--image",
        "acme/cache",
        "--tag",
        "1",
        "--create",
        "--renderer",
        "none",
    )
    assert proc.returncode == 0, proc.stderr
    assert {"name": "acme/cache", "newTag": "1"} in yaml.safe_load(read(repo, overlay("orders", "dev")))[
        "images"
    ]


def test_render_check_refuses_an_image_no_workload_uses(repo: Path) -> None:
    """The entry exists, but kustomize renders no container with it: exit 1, nothing pushed."""
    head = commits(repo)
    proc = update(repo, "--path", "orders/overlays/dev", "--image", "acme/cache", "--tag", "1", "--create")
    assert proc.returncode == 1
    assert "the rendered overlay does not run acme/cache:1" in proc.stderr
    assert commits(repo) == head


def test_malformed_overlay_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bare, work = make_repo(tmp_path, ["orders"])
    path = work / overlay("orders", "dev")
    path.write_text(path.read_text().replace('newTag: "0000001"', 'newTag: "0000001" x: y'))
    git("commit", "-qam", "break it", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    head = commits(bare)
    proc = update(bare, "--path", "orders/overlays/dev", "--image", ORDERS, "--tag", "1234567")
    assert proc.returncode == 2
    assert "orders/overlays/dev/kustomization.yaml:13:" in proc.stderr and "malformed YAML" in proc.stderr
    assert commits(bare) == head


@pytest.mark.parametrize(
    "args",
    [
        ("--tag", "-bad"),
        ("--tag", "a" * 129),
        ("--digest", "sha256:1234"),
        ("--tag", "ok", "--digest", "md5:" + "a" * 32),
    ],
)
def test_invalid_tag_or_digest_exits_2(repo: Path, args: tuple[str, ...]) -> None:
    proc = update(repo, "--path", "orders/overlays/dev", "--image", ORDERS, *args)
    assert proc.returncode == 2, proc.stderr
    assert "not a valid image tag" in proc.stderr or "is not valid" in proc.stderr


def test_unreachable_repo_exits_3(tmp_path: Path) -> None:
    proc = update(
        tmp_path / "nowhere.git",
        "--path",
        "orders/overlays/dev",
        "--image",
        ORDERS,
        "--tag",
        "1",
        env={"PIPEKIT_GITOPS_TOKEN": "tok-should-not-show-123"},
    )
    assert proc.returncode == 3
    assert "cannot clone the GitOps repository" in proc.stderr
    assert "tok-should-not-show-123" not in proc.stdout + proc.stderr
    proc = run_pipekit(
        "update-tag",
        "--gitops-repo",
        "http://127.0.0.1:9/gitops.git",
        "--path",
        "a/b",
        "--image",
        ORDERS,
        "--tag",
        "1",
    )
    assert proc.returncode == 3 and "127.0.0.1:9" in proc.stderr


def test_helm_values_file(tmp_path: Path) -> None:
    bare, work = make_repo(tmp_path, ["orders"])
    (work / "orders/overlays/dev/values-dev.yaml").write_text(
        "# helm values\nimage:\n  repository: acme/orders  # ECR\n  tag: '0000001'   # pipeline\n"
    )
    git("add", ".", cwd=work)
    git("commit", "-qm", "values", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    proc = update(
        bare,
        "--path",
        "orders/overlays/dev",
        "--image",
        "acme/orders",
        "--values-file",
        "values-dev.yaml",
        "--key",
        "image.tag",
        "--tag",
        "0000002",
        "--build-number",
        "12",
    )
    assert proc.returncode == 0, proc.stderr
    assert read(bare, "orders/overlays/dev/values-dev.yaml") == (
        "# helm values\nimage:\n  repository: acme/orders  # ECR\n"
        "  tag: '0000002'   # pipeline  # pipekit:build=12\n"
    )


@pytest.mark.slow
def test_older_build_never_replaces_a_newer_one(repo: Path) -> None:
    args = ("--path", "orders/overlays/dev", "--image", ORDERS, "--renderer", "none")
    assert update(repo, *args, "--tag", "bbbbbbb", "--build-number", "20").returncode == 0
    head = commits(repo)
    proc = update(repo, *args, "--tag", "aaaaaaa", "--build-number", "19")
    assert proc.returncode == 0
    assert "superseded: build 20 already wrote this entry, and build 19 is older" in proc.stdout
    assert commits(repo) == head
    assert update(repo, *args, "--tag", "ccccccc", "--build-number", "21").returncode == 0
    assert 'newTag: "ccccccc"   # short sha, quoted  # pipekit:build=21' in read(
        repo, overlay("orders", "dev")
    )


@pytest.mark.slow
def test_rejected_push_reapplies_on_the_fresh_tree(repo: Path, tmp_path: Path) -> None:
    """Someone pushes a change to the same line between our clone and our push: we fetch, re-apply, win."""
    other = tmp_path / "other"
    git("clone", "-q", str(repo), str(other), cwd=tmp_path)
    git("config", "user.email", "o@example.com", cwd=other)
    git("config", "user.name", "Other", cwd=other)
    ctx = StepContext.create(run_record=tmp_path / "run.json", env={"PATH": __import__("os").environ["PATH"]})
    options = UpdateTagOptions(
        gitops_repo=str(repo),
        path="orders/overlays/dev",
        image=ORDERS,
        tag="2222222",
        renderer="none",
        build_number=30,
    )
    calls = {"n": 0}
    real_apply = ImageEdit.apply

    def racing_apply(self: ImageEdit, root: Path) -> Change:
        calls["n"] += 1
        if calls["n"] == 1:  # the competitor lands right after our clone
            path = other / overlay("orders", "dev")
            path.write_text(
                path.read_text()
                .replace('"0000001"', '"1111111"')
                .replace("# trailing comment", "# edited by hand")
            )
            git("commit", "-qam", "hand edit", cwd=other)
            git("push", "-q", "origin", "main", cwd=other)
        return real_apply(self, root)

    ImageEdit.apply = racing_apply  # type: ignore[method-assign]
    try:
        result = run(options, ctx)
    finally:
        ImageEdit.apply = real_apply  # type: ignore[method-assign]
    assert result.status == "pushed" and result.retries == 1 and calls["n"] == 2
    assert result.old is not None and result.old["new_tag"] == "1111111"  # decided on the fresh tree
    text = read(repo, overlay("orders", "dev"))
    assert '"2222222"' in text and "# edited by hand" in text
    assert git("rev-list", "--count", "main", cwd=repo) == "3"
    assert len(git("rev-list", "--merges", "main", cwd=repo)) == 0
    assert git("log", "-1", "--format=%s", cwd=repo) == "orders: orders/overlays/dev 1111111 -> 2222222"


def test_git_client_files_lists_the_whole_tree_without_blobs(repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "c"
    g = Git.clone(
        repo.as_uri(), dest, branch="main", sparse=None, env={"PATH": __import__("os").environ["PATH"]}
    )
    assert "payments/overlays/prod/kustomization.yaml" in g.files()
    assert not (dest / "payments").exists()
    assert ImageRef("x", new_tag="1", digest=DIGEST).reference == f"x:1@{DIGEST}"


@pytest.mark.slow
def test_force_rolls_back_over_a_newer_build(repo: Path) -> None:
    args = ("--path", "orders/overlays/dev", "--image", ORDERS, "--renderer", "none")
    assert update(repo, *args, "--tag", "bbbbbbb", "--build-number", "20").returncode == 0
    proc = update(repo, *args, "--tag", "aaaaaaa", "--build-number", "19", "--force")
    assert proc.returncode == 0 and "pushed" in proc.stdout
    assert "aaaaaaa" in read(repo, overlay("orders", "dev")) and "pipekit:build=19" in read(
        repo, overlay("orders", "dev")
    )


@pytest.mark.parametrize(
    "renderer, message",
    [
        ("kubectl kustomize --no-such-flag {dir}", "kustomize cannot render the overlay"),
        ("no-such-renderer-binary {dir}", "renderer 'no-such-renderer-binary' not found"),
    ],
)
def test_render_failure_exits_2_and_pushes_nothing(repo: Path, renderer: str, message: str) -> None:
    head = commits(repo)
    proc = update(
        repo, "--path", "orders/overlays/dev", "--image", ORDERS, "--tag", "1234567", "--renderer", renderer
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert commits(repo) == head


def test_broken_base_is_caught_by_the_real_renderer(tmp_path: Path) -> None:
    bare, work = make_repo(tmp_path, ["orders"])
    (work / "orders/base/kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    git("commit", "-qam", "break the base", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    head = commits(bare)
    proc = update(bare, "--path", "orders/overlays/dev", "--image", ORDERS, "--tag", "1234567")
    assert proc.returncode == 2 and "orders/overlays/dev: kustomize cannot render the overlay" in proc.stderr
    assert commits(bare) == head


def test_bad_gitops_config_exits_2(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text(f"gitops:\n  repo: {repo}\n  push_retries: many\n")
    proc = run_pipekit(
        "update-tag", "--path", "orders/overlays/dev", "--image", ORDERS, "--tag", "1", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "pipekit.yaml:3" in proc.stderr and "gitops.push_retries" in proc.stderr


def test_module_entry_points_work() -> None:
    import subprocess
    import sys

    for module in ("pipekit.update_tag", "pipekit.promote"):
        out = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True
        )
        assert "--dry-run" in out.stdout


def test_a_declined_push_is_not_retried(repo: Path) -> None:
    hook = repo / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected: open a pull request' >&2\nexit 1\n")
    hook.chmod(0o755)
    head = commits(repo)
    proc = update(
        repo, "--path", "orders/overlays/dev", "--image", ORDERS, "--tag", "1234567", "--renderer", "none"
    )
    assert proc.returncode == 3, proc.stderr
    assert "git push to main failed" in proc.stderr and "pre-receive hook declined" in proc.stderr
    assert commits(repo) == head


def test_single_service_layout_checks_out_the_base_it_needs(tmp_path: Path) -> None:
    """overlays/{env} + base/ at the root: the sparse checkout adds ../../base, or kustomize would fail."""
    from tests.fixtures.gitops.repo import LAYOUT

    work = tmp_path / "seed"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for src in LAYOUT.rglob("*"):
        if src.is_file():
            dest = work / src.relative_to(LAYOUT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(src.read_text().replace("SERVICE", "orders"))
    git("add", ".", cwd=work)
    git("-c", "user.name=s", "-c", "user.email=s@x", "commit", "-qm", "seed", cwd=work)
    bare = tmp_path / "single.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    (tmp_path / "pipekit.yaml").write_text(
        f"gitops:\n  repo: {bare}\n  overlay: overlays/{{env}}\n  image: {ORDERS}\n"
    )
    proc = run_pipekit(
        "update-tag",
        "--env",
        "qa",
        "--service",
        "orders",
        "--tag",
        "4444444",
        "--digest",
        DIGEST,
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["workloads"] == ["Deployment/orders"]
    assert yaml.safe_load(read(bare, "overlays/qa/kustomization.yaml"))["images"][0]["newTag"] == "4444444"
