"""Every step's options through one table: bad values are exit 2 naming their source; flag > env > file.

Reproductions of issue 11 defects 10 (number options), 12 (gitops.username beat
PIPEKIT_GITOPS_USERNAME) and 9 (a failed rerun kept the previous run's outputs), run as a
pipeline runs the steps: a subprocess.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipekit.core.step import StepContext
from tests.conftest import run_pipekit
from tests.fixtures.gitops.http_git import serve
from tests.fixtures.gitops.repo import IMAGE, make_repo, overlay, read

ORDERS = IMAGE.format(service="orders")
TOKEN = "bbtok-Zq8WsecretValue-93kd"


def notify_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PIPEKIT_TEAMS_WEBHOOK_URL": "https://example.invalid/webhook/x",
        "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
        **extra,
    }


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "ten"])
def test_notify_timeout_variable_out_of_range_is_exit_2_naming_it(tmp_path: Path, value: str) -> None:
    proc = run_pipekit(
        "notify", "--event", "started", env=notify_env(tmp_path, PIPEKIT_NOTIFY_TIMEOUT=value), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "environment variable PIPEKIT_NOTIFY_TIMEOUT" in proc.stderr and repr(value) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_notify_timeout_zero_is_refused_in_the_file_too(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text("notify:\n  timeout: 0\n")
    proc = run_pipekit("notify", "--event", "started", env=notify_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "pipekit.yaml:2" in proc.stderr and "notify.timeout" in proc.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "0"])
def test_wait_for_argocd_timeout_nan_is_exit_2(tmp_path: Path, value: str) -> None:
    env = {
        "ARGOCD_SERVER": "127.0.0.1:9",
        "ARGOCD_AUTH_TOKEN": "t0ken-for-the-test",
        "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
    }
    proc = run_pipekit(
        "wait-for-argocd",
        "--app",
        "a",
        "--revision",
        "abc1234",
        "--timeout",
        value,
        env=env,
        cwd=tmp_path,
        timeout=20,
    )
    assert proc.returncode == 2, proc.stderr
    assert "flag --timeout" in proc.stderr and repr(value) in proc.stderr


@pytest.mark.parametrize(
    "step, args, variable",
    [
        ("build", ["--skip-maven", "--no-image"], "PIPEKIT_MAVEN_OFFLINE"),
        ("ecr-push", ["--repository", "orders", "--tags", "1.0"], "PIPEKIT_ECR_WAIT_SCAN"),
        ("notify", ["--event", "started"], "PIPEKIT_NOTIFY_STRICT"),
        ("wait-for-argocd", ["--app", "a", "--revision", "abc1234"], "PIPEKIT_ARGOCD_INSECURE"),
    ],
)
def test_a_bad_boolean_is_exit_2_naming_the_variable_everywhere(
    tmp_path: Path, step: str, args: list[str], variable: str
) -> None:
    env = {
        **notify_env(tmp_path),
        "ARGOCD_SERVER": "127.0.0.1:9",
        "ARGOCD_AUTH_TOKEN": "t0ken-for-the-test",
        variable: "maybe",
    }
    proc = run_pipekit(step, *args, env=env, cwd=tmp_path, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert f"environment variable {variable}: 'maybe' is not a boolean" in proc.stderr


def test_a_bad_number_in_the_file_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text("service: orders\ngitops:\n  push_retries: many\n")
    proc = run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(tmp_path),
        "--path",
        "x",
        "--image",
        "i",
        "--tag",
        "t",
        env={"PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")},
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "pipekit.yaml:3" in proc.stderr and "gitops.push_retries" in proc.stderr


def test_a_bad_choice_names_the_flag_and_the_choices(tmp_path: Path) -> None:
    proc = run_pipekit(
        "scan",
        "--fail-on",
        "severe",
        "x.sarif",
        env={"PIPEKIT_RUN_RECORD": str(tmp_path / "r.json")},
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "'severe' is not one of critical, high, medium, low, info, none" in proc.stderr


def test_on_means_true_for_maven_offline_and_ecr_wait_scan(tmp_path: Path) -> None:
    from pipekit import build, ecr_push

    ctx = StepContext.create(
        env={"PIPEKIT_MAVEN_OFFLINE": "on", "PIPEKIT_ECR_WAIT_SCAN": "on"}, run_record=tmp_path / "run.json"
    )
    assert build.options_from(ctx, {}).offline is True
    assert ecr_push.options_from(ctx, {"repository": "orders", "tags": "1.0"}).wait_scan is True


@pytest.mark.slow
def test_gitops_username_variable_beats_the_file(tmp_path: Path) -> None:
    """Defect 12: flag > env > file also for the HTTPS username of the GitOps token."""
    make_repo(tmp_path, ["orders"])
    (tmp_path / "pipekit.yaml").write_text("gitops:\n  username: from-the-file\n")
    with serve(tmp_path, "from-the-env", TOKEN) as srv:
        proc = run_pipekit(
            "update-tag",
            "--gitops-repo",
            f"{srv.url}/gitops.git",
            "--path",
            "orders/overlays/dev",
            "--image",
            ORDERS,
            "--tag",
            "7777777",
            "--renderer",
            "none",
            env={
                "PIPEKIT_GITOPS_TOKEN": TOKEN,
                "PIPEKIT_GITOPS_USERNAME": "from-the-env",
                "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
                "HOME": str(tmp_path),
            },
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_failed_rerun_clears_the_outputs_and_wait_for_argocd_refuses_them(tmp_path: Path) -> None:
    """Defect 9: the rerun's error is not shown beside the previous run's revision."""
    bare, _ = make_repo(tmp_path, ["orders"])
    record = tmp_path / "run.json"
    env = {"PIPEKIT_RUN_RECORD": str(record)}
    ok = run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(bare),
        "--path",
        "orders/overlays/dev",
        "--image",
        ORDERS,
        "--tag",
        "1111111",
        "--renderer",
        "none",
        env=env,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    first = json.loads(record.read_text())["steps"]["update_tag"]
    assert first["status"] == "succeeded" and first["outputs"]["gitops_revision"]
    (bare / "hooks" / "pre-receive").write_text("#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n")
    os.chmod(bare / "hooks" / "pre-receive", 0o755)
    bad = run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(bare),
        "--path",
        "orders/overlays/dev",
        "--image",
        ORDERS,
        "--tag",
        "2222222",
        "--renderer",
        "none",
        env=env,
        cwd=tmp_path,
    )
    assert bad.returncode == 3, bad.stderr
    second = json.loads(record.read_text())["steps"]["update_tag"]
    assert second["status"] == "error"
    assert (
        "gitops_revision" not in second.get("outputs", {})
        and second.get("outputs", {}).get("status") != "pushed"
    )
    assert "1111111" in read(bare, overlay("orders", "dev"))
    wait = run_pipekit(
        "wait-for-argocd",
        "--app",
        "orders-dev",
        env={**env, "ARGOCD_SERVER": "127.0.0.1:9", "ARGOCD_AUTH_TOKEN": "t0ken-for-the-test"},
        cwd=tmp_path,
    )
    assert wait.returncode == 2, wait.stderr
    assert "update-tag" in wait.stderr and "did not succeed" in wait.stderr and "error" in wait.stderr


def test_notify_sent_marks_survive_a_rerun_of_the_step(tmp_path: Path) -> None:
    """The once-only `sent` list is state, kept when notify starts again (its other outputs are cleared)."""
    from pipekit.core.runrecord import RunRecord

    record = RunRecord(tmp_path / "run.json")
    record.update_step("notify", status="succeeded", outputs={"sent": ["k@teams"], "last": {"key": "k"}})
    record.save()
    with record.recording("notify", keep=("sent",)) as outputs:
        assert record.step("notify")["outputs"] == {"sent": ["k@teams"]}
        outputs["last"] = {"key": "k2"}
    again = RunRecord.load(tmp_path / "run.json").step("notify")["outputs"]
    assert again == {"sent": ["k@teams"], "last": {"key": "k2"}}


def test_scan_run_reads_no_variable_or_config_itself(tmp_path: Path) -> None:
    """The Python API gets exactly what the command gets: scan.run uses its options, not the environment."""
    from pipekit import scan
    from tests.conftest import REPO_ROOT

    report = str(REPO_ROOT / "tests" / "fixtures" / "scan" / "semgrep.json")
    (tmp_path / "pipekit.yaml").write_text(f"scan:\n  sarif_out: {tmp_path / 'file.sarif'}\n")
    ctx = StepContext.create(
        env={"PIPEKIT_SCAN_SARIF_OUT": str(tmp_path / "env.sarif"), "PIPEKIT_SCAN_FAIL_ON": "none"},
        run_record=tmp_path / "run.json",
        config_path=tmp_path / "pipekit.yaml",
    )
    result = scan.run(scan.ScanOptions(reports=[report], fail_on="none"), ctx)
    assert result.sarif_out is None and not list(tmp_path.glob("*.sarif"))
    through_the_table = scan.options_from(ctx, {"reports": (report,)})
    assert through_the_table.sarif_out == str(tmp_path / "env.sarif") and through_the_table.fail_on == "none"


def test_semgrep_rules_variable_beats_the_file_and_a_negated_flag_beats_the_variable(tmp_path: Path) -> None:
    from pipekit import build, scan

    (tmp_path / "pipekit.yaml").write_text(
        "scan:\n  run:\n    semgrep: {config: file.yml, target: src}\nbuild:\n  maven: {offline: 'on'}\n"
    )
    ctx = StepContext.create(
        env={"PIPEKIT_SEMGREP_CONFIG": "env.yml"},
        run_record=tmp_path / "run.json",
        config_path=tmp_path / "pipekit.yaml",
    )
    assert scan.options_from(ctx, {}).runners["semgrep"] == {"config": "env.yml", "target": "src"}
    assert build.options_from(ctx, {}).offline is True
    assert build.options_from(ctx, {"offline": False}).offline is False


@pytest.mark.parametrize(
    "step, args, env, expected",
    [
        (
            "update-tag",
            [
                "--gitops-repo",
                "/nowhere",
                "--path",
                "p",
                "--image",
                "i",
                "--tag",
                "t",
                "--build-number",
                "-5",
            ],
            {},
            "flag --build-number: '-5' is below the minimum 0",
        ),
        (
            "wait-for-argocd",
            ["--app", "a", "--revision", "abc1234"],
            {
                "ARGOCD_OPTS": "--grpc-web-root-path '/x",
                "ARGOCD_SERVER": "127.0.0.1:9",
                "ARGOCD_AUTH_TOKEN": "t0ken-for-the-test",
            },
            "environment variable ARGOCD_OPTS: cannot split it like a shell would",
        ),
        (
            "notify",
            ["--event", "started"],
            {"PIPEKIT_NOTIFY_ATTEMPTS": "0"},
            "environment variable PIPEKIT_NOTIFY_ATTEMPTS: '0' is below the minimum 1",
        ),
        ("rehearse", ["--channel", "email"], {}, "flag --channel: 'email' is not one of teams, slack"),
    ],
)
def test_more_bad_values_are_exit_2_naming_their_source(
    tmp_path: Path, step: str, args: list[str], env: dict[str, str], expected: str
) -> None:
    proc = run_pipekit(step, *args, env={**notify_env(tmp_path), **env}, cwd=tmp_path, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
