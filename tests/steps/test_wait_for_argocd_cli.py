"""`pipekit wait-for-argocd` as a pipeline runs it: a subprocess against the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.testing.argocd import ArgoCDStandIn
from tests.conftest import run_pipekit

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
OLD = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
FAST = ["--plaintext", "--timeout", "8", "--poll-interval", "0.3", "--grace", "1"]


@pytest.fixture
def argo() -> Iterator[ArgoCDStandIn]:
    with ArgoCDStandIn(users={"ci": "s3cret-pass"}) as standin:
        yield standin


def env_for(argo: ArgoCDStandIn, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ARGOCD_SERVER": argo.server,
        "ARGOCD_AUTH_TOKEN": argo.token,
        "PIPEKIT_RUN_RECORD": str(tmp_path / ".pipekit" / "run.json"),
        **extra,
    }


def write_record(tmp_path: Path, steps: dict) -> None:
    path = tmp_path / ".pipekit" / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "steps": steps}))


@pytest.mark.slow
def test_revision_from_run_record_and_json_result(argo, tmp_path):
    write_record(
        tmp_path,
        {"update_tag": {"status": "succeeded", "outputs": {"gitops_revision": E, "environment": "dev"}}},
    )
    argo.add_app("orders-dev", revision=OLD)
    argo.add_app("orders-dev-db", revision=OLD)
    for name in ("orders-dev", "orders-dev-db"):
        argo.play(
            name,
            [
                (0.2, {"revision": E, "op_revision": E, "phase": "Running", "sync": "OutOfSync"}),
                (0.2, {"phase": "Succeeded", "sync": "Synced"}),
            ],
        )
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "orders-dev",
        "--app",
        "orders-dev-db",
        "--json",
        *FAST,
        env=env_for(argo, tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["revision"] == E
    assert [
        (a["name"], a["sync"], a["health"], a["revision"], a["phase"], a["verdict"]) for a in data["apps"]
    ] == [
        ("orders-dev", "Synced", "Healthy", E, "Succeeded", "succeeded"),
        ("orders-dev-db", "Synced", "Healthy", E, "Succeeded", "succeeded"),
    ]
    assert "orders-dev-db: sync=" in proc.stderr  # human lines go to stderr in --json mode


@pytest.mark.slow
def test_promote_revision_is_the_fallback_and_apps_come_from_config(argo, tmp_path):
    write_record(
        tmp_path, {"promote": {"status": "succeeded", "outputs": {"gitops_revision": E, "to": "qa"}}}
    )
    (tmp_path / "pipekit.yaml").write_text("argocd:\n  apps:\n    qa: [orders-qa]\n  poll_interval: 0.3\n")
    argo.add_app("orders-qa", revision=E)
    proc = run_pipekit("wait-for-argocd", "--plaintext", env=env_for(argo, tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "orders-qa synced, healthy and hooks passed at revision 5f3c2a1" in proc.stdout


def test_no_revision_says_where_it_looked(argo, tmp_path):
    proc = run_pipekit(
        "wait-for-argocd", "--app", "orders-dev", *FAST, env=env_for(argo, tmp_path), cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "no revision to wait for" in proc.stderr
    assert (
        "update_tag.outputs.gitops_revision" in proc.stderr
        and "promote.outputs.gitops_revision" in proc.stderr
    )
    assert str(tmp_path / ".pipekit" / "run.json") in proc.stderr


@pytest.mark.slow
def test_bad_token_exit_2_not_echoed(argo, tmp_path):
    argo.add_app("orders-dev", revision=E)
    bad = "eyJhbGciOiJIUzI1NiJ9.not-a-real-token-value"
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "orders-dev",
        "--revision",
        E,
        "--debug",
        *FAST,
        env=env_for(argo, tmp_path, ARGOCD_AUTH_TOKEN=bad),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "rejected ARGOCD_AUTH_TOKEN (HTTP 401" in proc.stderr
    assert bad not in proc.stdout + proc.stderr and "not-a-real-token" not in proc.stdout + proc.stderr


def test_wrong_password_exit_2_not_echoed(argo, tmp_path):
    argo.add_app("orders-dev", revision=E)
    env = env_for(
        argo, tmp_path, ARGOCD_AUTH_TOKEN="", ARGOCD_USERNAME="ci", ARGOCD_PASSWORD="wrong-password-123"
    )
    proc = run_pipekit(
        "wait-for-argocd", "--app", "orders-dev", "--revision", E, "--debug", *FAST, env=env, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "refused the login of ARGOCD_USERNAME 'ci'" in proc.stderr
    assert "wrong-password-123" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_unknown_app_exit_1_naming_it(argo, tmp_path):
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "ordres-dev",
        "--revision",
        E,
        *FAST,
        env=env_for(argo, tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "'ordres-dev'" in proc.stderr and "does not exist, or this account may not read it" in proc.stderr


@pytest.mark.slow
def test_hook_failure_exit_1_with_log_hint(argo, tmp_path):
    argo.add_app(
        "orders-dev",
        revision=E,
        phase="Failed",
        message="one or more synchronization tasks completed unsuccessfully",
        hooks=[
            {
                "name": "db-migrate",
                "type": "PreSync",
                "phase": "Failed",
                "message": "Job has reached the specified backoff limit\nsee the pod",
            }
        ],
    )
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "orders-dev",
        "--revision",
        E,
        *FAST,
        env=env_for(argo, tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "hook PreSync Job 'db-migrate' in namespace orders-dev Failed" in proc.stderr
    assert "kubectl logs job/db-migrate -n orders-dev" in proc.stdout
    final = [line for line in proc.stderr.splitlines() if line.startswith("ERROR: app 'orders-dev'")]
    assert (
        len(final) == 1 and "backoff limit see the pod" in final[0]
    )  # one line, even for multi-line messages
    record = json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["wait_for_argocd"]
    assert record["status"] == "failed" and record["outputs"]["apps"][0]["hooks"][0]["phase"] == "Failed"


@pytest.mark.slow
def test_timeout_exit_4(argo, tmp_path):
    argo.add_app("orders-dev", revision=OLD)
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "orders-dev",
        "--revision",
        E,
        "--plaintext",
        "--timeout",
        "0.6",
        "--json",
        env=env_for(argo, tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 4
    data = json.loads(proc.stdout)
    assert data["exit_code"] == 4 and data["result"]["apps"][0]["missing"]


@pytest.mark.slow
def test_unreachable_server_exit_3(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "ARGOCD_SERVER": f"127.0.0.1:{port}",
        "ARGOCD_AUTH_TOKEN": "x" * 20,
        "PIPEKIT_ARGOCD_UNREACHABLE_AFTER": "1",
        "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
    }
    proc = run_pipekit("wait-for-argocd", "--app", "a", "--revision", E, "--plaintext", env=env, cwd=tmp_path)
    assert proc.returncode == 3
    assert "failed after retries" in proc.stderr


@pytest.mark.parametrize(
    "env,flags,expected",
    [
        ({}, ["--app", "a", "--revision", E], "no Argo CD server: set ARGOCD_SERVER"),
        ({"ARGOCD_SERVER": "127.0.0.1:1"}, ["--app", "a", "--revision", E], "no Argo CD credentials"),
        (
            {"ARGOCD_SERVER": "127.0.0.1:1", "ARGOCD_AUTH_TOKEN": "t" * 10},
            ["--revision", E],
            "no Argo CD app to wait for",
        ),
        (
            {"ARGOCD_SERVER": "127.0.0.1:1", "ARGOCD_AUTH_TOKEN": "t" * 10},
            ["--app", "a", "--revision", E, "--timeout", "x"],
            "flag --timeout: 'x' is not a number",
        ),
    ],
)
def test_bad_input_exit_2(tmp_path, env, flags, expected):
    proc = run_pipekit(
        "wait-for-argocd", *flags, env={**env, "PIPEKIT_RUN_RECORD": str(tmp_path / "r.json")}, cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr


@pytest.mark.slow
def test_bad_config_exit_2(tmp_path):
    (tmp_path / "pipekit.yaml").write_text("argocd:\n  refresh: soft\n")
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "a",
        "--revision",
        E,
        env={"PIPEKIT_RUN_RECORD": str(tmp_path / "r.json")},
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "pipekit.yaml:2" in proc.stderr and "argocd.refresh" in proc.stderr


@pytest.mark.slow
def test_module_entry_point_help():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pipekit.wait_for_argocd", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0
    for flag in (
        "--app",
        "--revision",
        "--timeout",
        "--refresh",
        "--sync",
        "--insecure",
        "--plaintext",
        "--no-stream",
    ):
        assert flag in proc.stdout
