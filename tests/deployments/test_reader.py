"""The history reader: attribution by overlay path, trailers, reverts, remote partial clones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipekit.clients.git_history import HistoryGit
from pipekit.core.errors import BadInput
from pipekit.deployments import reader, source
from pipekit.deployments.layout import Layout
from pipekit.deployments.model import Deployment
from tests.conftest import run_pipekit
from tests.fixtures.gitops.history import History, at
from tests.fixtures.gitops.http_git import serve


def read_all(bare: Path | str, layout: Layout | None = None, **kw: object) -> list[Deployment]:
    with source.open_repo(str(bare), "main", {}) as (git, rev):
        return list(reader.read(git, layout or Layout(), rev=rev, only=reader.Filter(**kw)))  # type: ignore[arg-type]


def test_layout_attributes_paths_by_template() -> None:
    layout = Layout(template="{service}/overlays/{env}", per_env={"prod": "live/{env}/{service}"})
    assert layout.attribute("orders/overlays/dev/kustomization.yaml") == ("orders", "dev")
    assert layout.attribute("live/prod/orders/kustomization.yml") == ("orders", "prod")
    assert layout.attribute("orders/base/kustomization.yaml") is None
    assert layout.attribute("orders/overlays/dev/values.yaml") is None
    single = Layout(template="overlays/{env}", service="orders")
    assert single.attribute("overlays/qa/kustomization.yaml") == ("orders", "qa")
    with pytest.raises(BadInput):
        Layout(template="overlays/{stage}")


def test_reader_kinds_authors_and_the_seed(tmp_path: Path) -> None:
    h = History(tmp_path, ["orders", "billing"])
    v1 = h.deploy("orders", "prod", "v1", at(0), source_at=at(0, -1))
    v2 = h.deploy("orders", "prod", "v2", at(1), source_at=at(1, -1))
    h.revert(v2, at(1, 1))
    h.touch("orders", "prod", at(2))
    h.by_hand("billing", "qa", "q7", at(3), author="Hank Hand")
    h.promote("qa", "prod", {"billing": "q7"}, at(4), source_at=at(3))
    h.deploy("orders", "prod", "v2", at(5))  # an older image again: a rollback by image, no trailer
    got = read_all(h.push())
    assert [(d.service, d.environment, d.tag, d.kind) for d in got] == [
        ("orders", "prod", "v1", "deploy"),
        ("orders", "prod", "v2", "deploy"),
        ("orders", "prod", "v1", "revert"),
        ("billing", "qa", "q7", "deploy"),
        ("billing", "prod", "q7", "promotion"),
        ("orders", "prod", "v2", "rollback"),
    ]
    assert got[0].commit == v1 and got[0].lead_time_s == 3600 and got[0].pipekit
    assert got[2].revert_of == v2 and not got[2].pipekit and got[2].rollback
    assert got[3].author == "Hank Hand" and got[3].source_commit is None
    assert got[4].promoted_from == "qa" and got[4].lead_time_s == 86400
    assert [d.tag for d in read_all(h.bare, services=["billing"])] == ["q7", "q7"]
    assert [d.tag for d in read_all(h.bare, environments=["qa"])] == ["q7"]


def test_a_stream_closed_early_leaves_no_git_running(tmp_path: Path) -> None:
    h = History(tmp_path, ["orders"])
    for day in range(5):
        h.deploy("orders", "dev", f"d{day}", at(day))
    bare = h.push()
    git = HistoryGit(bare, {})
    stream = reader.read(git, Layout(), rev="refs/heads/main")
    assert next(stream).tag == "d0"
    stream.close()
    assert all(p.poll() is not None for p in _children())


def _children() -> list[subprocess.Popen[bytes]]:
    """The git processes started through pipekit.core.process (the session's stand-ins run there too)."""
    from pipekit.core import process

    return [p for p in process._children if "git" in str(p.args[0] if isinstance(p.args, list) else p.args)]


@pytest.mark.slow
def test_remote_over_https_is_a_blobless_partial_clone_and_the_token_stays_out_of_argv(
    tmp_path: Path,
) -> None:
    h = History(tmp_path, ["orders"])
    h.deploy("orders", "prod", "v1", at(0), source_at=at(0, -2))
    h.by_hand("orders", "prod", "v2", at(1))
    bare = h.push()
    root = tmp_path / "served"
    root.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(bare), str(root / "gitops.git")], check=True)
    subprocess.run(["git", "config", "uploadpack.allowFilter", "true"], cwd=root / "gitops.git", check=True)
    token = "tok-" + "s3cr3t" * 4
    with serve(root, "x-token-auth", token) as server:
        env = {"PIPEKIT_GITOPS_TOKEN": token}
        with source.open_repo(f"{server.url}/gitops.git", "main", env) as (git, rev):
            config = git.run("config", "--list").stdout
            assert "remote.origin.partialclonefilter=blob:none" in config
            got = list(reader.read(git, Layout(), rev=rev))
            assert all(token not in " ".join(argv) for argv in git.calls)
        assert [d.tag for d in got] == ["v1", "v2"]  # v2's blob was fetched on demand
        proc = run_pipekit(
            "history", "--gitops-repo", f"{server.url}/gitops.git", "--service", "orders", "--json", env=env
        )
        assert proc.returncode == 0, proc.stderr
        assert [d["tag"] for d in json.loads(proc.stdout)["deployments"]] == ["v2", "v1"]
        assert token not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_single_service_repository_from_pipekit_yaml(tmp_path: Path) -> None:
    work = tmp_path / "single"
    work.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=work, check=True)
    for env in ("dev", "prod"):
        (work / "overlays" / env).mkdir(parents=True)
        (work / "overlays" / env / "kustomization.yaml").write_text(
            "resources: []\nimages:\n  - name: registry.example/orders\n    newTag: v0\n"
        )
    ident = ["-c", "user.name=Seed", "-c", "user.email=s@example.com"]
    subprocess.run(["git", *ident, "add", "."], cwd=work, check=True)
    subprocess.run(["git", *ident, "commit", "-qm", "seed"], cwd=work, check=True)
    (work / "overlays" / "prod" / "kustomization.yaml").write_text(
        "resources: []\nimages:\n  - name: registry.example/orders\n    newTag: v1\n"
    )
    subprocess.run(["git", *ident, "commit", "-qam", "prod to v1"], cwd=work, check=True)
    config = tmp_path / "pipekit.yaml"
    config.write_text(
        "service: orders\ngitops:\n  overlay: overlays/{env}\n  image: registry.example/{service}\n"
    )
    proc = run_pipekit("history", "--gitops-repo", str(work), "--config", str(config), "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["service"] == "orders" and [(d["environment"], d["tag"]) for d in got["deployments"]] == [
        ("prod", "v1")
    ]
