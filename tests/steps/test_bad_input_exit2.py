"""Bad input that used to crash (exit 5 / a traceback) is exit 2 with one line naming the culprit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT, run_pipekit
from tests.steps.test_notify import run_cli as notify_cli

FIX = Path(__file__).parents[1] / "fixtures" / "scan"
TRIVY = str(FIX / "trivy.json")


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "pipekit itself failed" not in proc.stderr, proc.stderr


def test_a_non_utf8_pipekit_yaml_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_bytes(b"service: caf\xe9\n")
    proc = run_pipekit("scan", "--config", str(tmp_path / "pipekit.yaml"), TRIVY, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "pipekit.yaml" in proc.stderr and "UTF-8" in proc.stderr
    no_traceback(proc)


def test_a_non_utf8_policy_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_bytes(b"fail_on: h\xffgh\n")
    proc = run_pipekit("scan", "--policy", str(tmp_path / "policy.yaml"), TRIVY, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "policy.yaml" in proc.stderr
    no_traceback(proc)


@pytest.mark.parametrize(
    "content,expected",
    [
        (b'{"version": 1, "steps": {"build": {"outputs": {"x": "caf\xe9"}}}}', "UTF-8"),
        (b'{"version": 1, "steps": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "nested"),
        (b'{"version": "1", "steps": {}}', "version '1' must be a whole number"),
    ],
)
def test_a_broken_run_record_is_exit_2(tmp_path: Path, content: bytes, expected: str) -> None:
    record = tmp_path / "run.json"
    record.write_bytes(content)
    proc = run_pipekit("scan", "--run-record", str(record), TRIVY, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert str(record) in proc.stderr and expected in proc.stderr
    assert "newer than" not in proc.stderr
    no_traceback(proc)


def test_argocd_opts_with_an_unbalanced_quote_is_exit_2(tmp_path: Path) -> None:
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "a",
        "--revision",
        "a" * 40,
        env={
            "ARGOCD_SERVER": "127.0.0.1:1",
            "ARGOCD_AUTH_TOKEN": "t" * 20,
            "ARGOCD_OPTS": "--grpc-web-root-path '/argo --auth-token secret-in-opts",
        },
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "ARGOCD_OPTS" in proc.stderr and "quot" in proc.stderr
    assert "secret-in-opts" not in proc.stderr
    no_traceback(proc)


@pytest.mark.parametrize("bad", ["sarif", "junit"])
def test_an_output_naming_a_directory_is_exit_2_and_nothing_is_written(tmp_path: Path, bad: str) -> None:
    (tmp_path / "out").mkdir()
    sarif = tmp_path / "out" if bad == "sarif" else tmp_path / "merged.sarif"
    junit = tmp_path / "out" if bad == "junit" else tmp_path / "junit.xml"
    proc = run_pipekit("scan", "--sarif-out", str(sarif), "--junit-out", str(junit), TRIVY, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"--{bad}-out" in proc.stderr and "directory" in proc.stderr
    no_traceback(proc)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".pipekit") == ["out"]


def test_notify_with_an_unwritable_run_record_fails_before_posting(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    with WebhookSink() as sink:
        proc = notify_cli(
            tmp_path,
            "--event",
            "started",
            "--run-record",
            str(tmp_path / "afile" / "run.json"),
            env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")},
        )
        assert proc.returncode == 2, proc.stderr
        assert sink.requests == []
    assert "afile" in proc.stderr
    no_traceback(proc)


def scan_argv() -> list[str]:
    return [sys.executable, "-m", "pipekit", "scan", str(FIX / "semgrep.json"), TRIVY]


def test_scan_into_a_closed_pipe_exits_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}
    scan = subprocess.Popen(
        scan_argv(), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert scan.stdout is not None
    scan.stdout.close()  # `| head -0`: the reader is gone before the first line
    _out, err = scan.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception ignored" not in err, err
    assert scan.returncode == 1  # the gate's own verdict, not a crash
    assert json.loads((tmp_path / "run.json").read_text())["steps"]["scan"]["status"] == "failed"


def test_scan_with_stdout_closed_exits_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}
    proc = subprocess.run(
        ["/bin/sh", "-c", '"$@" >&-', "sh", *scan_argv()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
