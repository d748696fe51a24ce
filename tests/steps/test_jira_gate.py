"""`pipekit jira-gate` as a pipeline runs it: a subprocess against the Jira stand-in over real HTTP."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from pipekit.testing.jira import JiraStandIn
from tests.conftest import run_pipekit

EMAIL, TOKEN, PAT = "ci@example.com", "jira-token-0123456789", "dc-pat-0123456789abc"


@pytest.fixture(autouse=True)
def _no_jira_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JIRA_BASE_URL", "JIRA_USER_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "JIRA_CLOUD_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def jira(jira_standin: JiraStandIn) -> JiraStandIn:
    standin = jira_standin
    standin.reset(email=EMAIL, token=TOKEN)
    standin.add_version("ORD", "1.4.1", released=True)
    standin.add_version("ORD", "1.4.2")
    standin.add_version("ORD", "1.3.0", archived=True, released=True)
    for n in range(120):  # three pages of 50
        standin.add_issue("ORD", f"change {n}", "Done", fix_versions=("1.4.2",), assignee="Ada")
    return standin


def env_for(standin: JiraStandIn, **extra: str) -> dict[str, str]:
    return {"JIRA_BASE_URL": standin.base_url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN, **extra}


def gate(tmp_path: Path, *args: str, env: dict[str, str]):
    return run_pipekit("jira-gate", *args, env=env, cwd=tmp_path)


def record(tmp_path: Path) -> dict:
    return json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["jira_gate"]


@pytest.mark.slow
def test_blocked_lists_each_issue_and_what_unblocks_it(jira: JiraStandIn, tmp_path: Path) -> None:
    jira.add_issue("ORD", "Refund rounding", "In Progress", fix_versions=("1.4.2",), assignee="Grace")
    jira.add_issue("ORD", "Other version", "In Progress", fix_versions=("1.4.1",))
    proc = gate(
        tmp_path,
        "--project",
        "ORD",
        "--version",
        "1.4.2",
        "--allowed-statuses",
        "Done",
        "--json",
        env=env_for(jira),
    )
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["exit_code"] == 1
    blocked = out["result"]
    assert blocked["passed"] is False and blocked["issues"] == 121
    assert blocked["blocking"] == [
        {
            "key": "ORD-121",
            "summary": "Refund rounding",
            "status": "In Progress",
            "assignee": "Grace",
            "url": f"{jira.base_url}/browse/ORD-121",
            "unblock": "move ORD-121 to Done or out of 1.4.2",
        }
    ]
    assert "Jira gate blocked: 1 of 121 issues in ORD 1.4.2 are not in Done" in proc.stderr
    section = record(tmp_path)
    assert section["status"] == "failed"
    assert section["outputs"]["passed"] is False and section["outputs"]["blocking_count"] == 1
    assert TOKEN not in proc.stdout + proc.stderr


def test_human_output_names_the_issue_and_the_fix(jira: JiraStandIn, tmp_path: Path) -> None:
    jira.add_issue("ORD", "Refund rounding", "In Review", fix_versions=("1.4.2",))
    proc = gate(
        tmp_path,
        "--project",
        "ORD",
        "--version",
        "1.4.2",
        "--allowed-statuses",
        "Done,Ready for QA",
        env=env_for(jira),
    )
    assert proc.returncode == 1
    assert "ORD-121  [In Review]  unassigned  Refund rounding" in proc.stdout
    assert "-> move ORD-121 to Done, Ready for QA or out of 1.4.2" in proc.stdout


def test_passes_with_the_version_from_the_git_tag(jira: JiraStandIn, tmp_path: Path) -> None:
    proc = gate(
        tmp_path,
        "--project",
        "ORD",
        "--allowed-statuses",
        "Done",
        "--json",
        env=env_for(jira, BITBUCKET_TAG="v1.4.2"),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["passed"], out["version"], out["version_source"], out["issues"]) == (
        True,
        "1.4.2",
        "tag",
        120,
    )
    assert out["jql"] == 'project = "ORD" AND fixVersion = "1.4.2" ORDER BY key ASC'
    assert record(tmp_path)["status"] == "succeeded"


def test_version_from_the_maven_project_version_through_the_pattern(
    jira: JiraStandIn, tmp_path: Path
) -> None:
    (tmp_path / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>com.example</groupId><artifactId>orders</artifactId><version>1.4.2-SNAPSHOT</version></project>"
    )
    proc = gate(tmp_path, "--project", "ORD", "--json", env=env_for(jira, PIPEKIT_JIRA_PROJECT="IGNORED"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["version"], out["version_source"], out["state"]) == ("1.4.2", "maven", "unreleased")


@pytest.mark.parametrize(
    "args, message",
    [
        (("--version", "1.4.1"), "version 1.4.1 of ORD is already released"),
        (("--version", "1.4.2", "--require", "released"), "version 1.4.2 of ORD is not released yet"),
        (("--version", "1.3.0", "--require", "exists"), "version 1.3.0 of ORD is archived"),
        (
            ("--version", "1.4"),
            "version '1.4' does not exist in project ORD (Jira's loose match found 1.4.1, 1.4.2",
        ),
    ],
)
def test_version_state_blocks(jira: JiraStandIn, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = gate(tmp_path, "--project", "ORD", *args, env=env_for(jira))
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr


def test_unknown_project_exits_1_naming_it(jira: JiraStandIn, tmp_path: Path) -> None:
    proc = gate(tmp_path, "--project", "NOPE", "--version", "1.4.2", env=env_for(jira))
    assert proc.returncode == 1
    assert "Jira project 'NOPE' not found: No project could be found with key 'NOPE'." in proc.stderr
    assert record(tmp_path)["outputs"]["state"] == "unknown"


def test_no_credentials_exit_2_naming_the_variables(jira: JiraStandIn, tmp_path: Path) -> None:
    proc = gate(tmp_path, "--project", "ORD", "--version", "1.4.2", env={"JIRA_BASE_URL": jira.base_url})
    assert proc.returncode == 2
    assert "no Jira credentials: JIRA_USER_EMAIL and JIRA_API_TOKEN not set" in proc.stderr
    assert "JIRA_PAT" in proc.stderr
    assert jira.requests == []


def test_malformed_version_pattern_exits_2(jira: JiraStandIn, tmp_path: Path) -> None:
    proc = gate(
        tmp_path, "--project", "ORD", "--version-pattern", "v(\\d+", env=env_for(jira, BITBUCKET_TAG="v1")
    )
    assert proc.returncode == 2
    assert "--version-pattern 'v(\\\\d+' is not a valid regular expression" in proc.stderr


def test_tag_not_matching_the_pattern_exits_2(jira: JiraStandIn, tmp_path: Path) -> None:
    proc = gate(tmp_path, "--project", "ORD", env=env_for(jira, BITBUCKET_TAG="nightly"))
    assert proc.returncode == 2
    assert "git tag 'nightly' does not match --version-pattern" in proc.stderr


def test_refused_credentials_exit_2_and_mention_the_cloud_gateway(jira: JiraStandIn, tmp_path: Path) -> None:
    proc = gate(
        tmp_path, "--project", "ORD", "--version", "1.4.2", env=env_for(jira, JIRA_API_TOKEN="wrong-token")
    )
    assert proc.returncode == 2
    assert "answered 401" in proc.stderr and "set JIRA_CLOUD_ID" in proc.stderr
    assert "wrong-token" not in proc.stderr


@pytest.mark.slow
def test_unreachable_jira_exits_3_after_retries(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    proc = gate(
        tmp_path,
        "--project",
        "ORD",
        "--version",
        "1.4.2",
        "--timeout",
        "1",
        env={"JIRA_BASE_URL": f"http://127.0.0.1:{port}", "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN},
    )
    assert proc.returncode == 3, proc.stderr
    assert "failed after retries: ConnectionError" in proc.stderr


@pytest.mark.slow
def test_rate_limited_then_passes(jira: JiraStandIn, tmp_path: Path) -> None:
    jira.fail_next(429, retry_after="1")
    jira.fail_next(429)  # no Retry-After: backoff
    proc = gate(
        tmp_path, "--project", "ORD", "--version", "1.4.2", "--allowed-statuses", "Done", env=env_for(jira)
    )
    assert proc.returncode == 0, proc.stderr
    assert [r[2] for r in jira.requests][:3] == [429, 429, 200]


@pytest.mark.slow
def test_datacenter_with_a_personal_access_token(tmp_path: Path) -> None:
    with JiraStandIn(deployment="datacenter", pat=PAT) as dc:
        dc.add_version("ORD", "1.4.2")
        for n in range(75):
            dc.add_issue("ORD", f"change {n}", "Done" if n else "Open", fix_versions=("1.4.2",))
        proc = gate(
            tmp_path,
            "--project",
            "ORD",
            "--version",
            "1.4.2",
            "--allowed-statuses",
            "Done",
            "--json",
            env={"JIRA_BASE_URL": dc.base_url, "JIRA_PAT": PAT},
        )
        assert proc.returncode == 1, proc.stderr
        result = json.loads(proc.stdout)["result"]
        assert result["issues"] == 75 and [b["key"] for b in result["blocking"]] == ["ORD-1"]
        assert [p for _, p, _ in dc.requests if "search" in p] == ["/rest/api/2/search", "/rest/api/2/search"]
        assert PAT not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_stand_in_from_a_shell_serves_a_gate(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit.testing.jira",
            "--port",
            str(port),
            "--issues",
            "60",
            "--blocking",
            "2",
            "--fail",
            "429",
            "--retry-after",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(
            f"Jira stand-in (cloud) on http://127.0.0.1:{port}: project ORD"
        )
        exports = proc.stdout.readline().strip()
        assert exports.startswith("export JIRA_BASE_URL=")
        env = dict(part.split("=", 1) for part in exports.removeprefix("export ").replace("'", "").split())
        command = proc.stdout.readline().split()
        assert command[:2] == ["pipekit", "jira-gate"]
        done = gate(tmp_path, *command[2:], "--json", env=env)
        assert done.returncode == 1, done.stderr
        assert [b["key"] for b in json.loads(done.stdout)["result"]["blocking"]] == ["ORD-1", "ORD-2"]
        assert proc.stdout.readline().startswith("GET /rest/api/3/project/ORD/version -> 429")
    finally:
        proc.terminate()
        proc.wait(timeout=5)
