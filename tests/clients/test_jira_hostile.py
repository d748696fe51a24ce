"""A Jira that answers what Jira never does: endless pages, a total that is no number, null issues,
Basic credentials echoed back, control characters in keys and summaries (issue 23, items 6, 11, 13, 15)."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from pipekit.clients.jira import DATACENTER, JiraClient
from pipekit.core.errors import ExternalError
from pipekit.testing.serving import canned
from tests.conftest import run_pipekit

EMAIL, TOKEN = "ci@example.com", "jira-token-0123456789"


@pytest.mark.slow
def test_endless_pages_end_at_the_listing_bound() -> None:
    with canned(lambda _h: (200, {"issues": [], "nextPageToken": "more", "isLast": False})) as url:
        jira = JiraClient(url, email=EMAIL, token=TOKEN, timeout=5.0, listing_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(ExternalError, match=r"did not end within 1 s \(\d+ pages\)"):
            list(jira.search("project = ORD"))
        assert time.monotonic() - started < 3.0


def test_a_total_that_is_no_number_is_an_outside_failure() -> None:
    page = {
        "issues": [{"key": "ORD-1", "fields": {"summary": "x", "status": {"name": "Done"}}}],
        "total": "lots",
        "startAt": 0,
    }
    with canned(lambda _h: (200, page)) as url:
        jira = JiraClient(url, pat="dc-pat-0123456789", deployment=DATACENTER)
        with pytest.raises(ExternalError, match="total that is not a number: 'lots'"):
            list(jira.search("project = ORD"))


def test_a_null_issue_is_an_outside_failure_not_a_crash(tmp_path: Any) -> None:
    versions = {"values": [{"id": "1", "name": "1.0", "released": False}], "isLast": True}
    search = {"issues": [None], "isLast": True}

    def answer(h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        return 200, (versions if "/version" in h.path else search)

    with canned(answer) as url:
        jira = JiraClient(url, email=EMAIL, token=TOKEN)
        with pytest.raises(ExternalError, match="an issue that is not a JSON object: 'None'"):
            list(jira.search("project = ORD"))
        env = {"JIRA_BASE_URL": url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
        proc = run_pipekit(
            "jira-gate",
            "--project",
            "ORD",
            "--version",
            "1.0",
            "--allowed-statuses",
            "Done",
            env=env,
            cwd=tmp_path,
        )
        assert proc.returncode == 3, proc.stderr


def test_a_server_echoing_the_basic_credentials_never_shows_them(tmp_path: Any) -> None:
    """Item 6: the Authorization header pipekit sent, echoed back in an error, is masked in every form."""
    import base64

    def echo(h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        return 404, {"errorMessages": [f"no project for {h.headers.get('Authorization')}"]}

    encoded = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    with canned(echo) as url:
        env = {"JIRA_BASE_URL": url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
        proc = run_pipekit(
            "jira-gate", "--project", "ORD", "--version", "1.0", "--json", env=env, cwd=tmp_path
        )
    out = (
        proc.stdout + proc.stderr + (tmp_path / ".pipekit" / "run.json").read_text()
        if (tmp_path / ".pipekit" / "run.json").exists()
        else proc.stdout + proc.stderr
    )
    assert proc.returncode == 1, proc.stderr
    assert "no project for" in out
    assert encoded not in out and encoded[:20] not in out and TOKEN not in out


def test_a_bearer_token_echoed_back_is_masked() -> None:
    from pipekit.core import masking

    def echo(h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        return 404, {"errorMessages": [f"bad {h.headers.get('Authorization')}"]}

    with canned(echo) as url:
        jira = JiraClient(url, pat="dc-pat-0123456789abcdef", deployment=DATACENTER)
        with pytest.raises(Exception) as err:
            list(jira.versions("ORD"))
    assert "dc-pat-0123456789abcdef" not in masking.mask(str(err.value))
    assert "bad ***" in masking.mask(str(err.value))


def test_a_password_in_jira_base_url_is_refused_and_never_printed_or_recorded(tmp_path: Any) -> None:
    """Item 7: credentials belong in JIRA_USER_EMAIL / JIRA_API_TOKEN;
    a URL carrying them is exit 2, masked."""
    with canned(lambda _h: (200, {"values": [], "isLast": True})) as url:
        host = url.split("://", 1)[1]
        env = {
            "JIRA_BASE_URL": f"http://ci:hunter2secret@{host}",
            "JIRA_USER_EMAIL": EMAIL,
            "JIRA_API_TOKEN": TOKEN,
            "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
        }
        proc = run_pipekit(
            "jira-gate", "--project", "ORD", "--version", "1.0", "--json", env=env, cwd=tmp_path
        )
    assert proc.returncode == 2, proc.stderr
    assert "JIRA_BASE_URL" in proc.stderr and "***@" in proc.stderr
    record = (tmp_path / "run.json").read_text() if (tmp_path / "run.json").exists() else ""
    assert "hunter2secret" not in proc.stdout + proc.stderr + record


def test_credentials_in_any_base_url_are_masked_in_output_and_the_record(tmp_path: Any) -> None:
    """Item 7, the shared mechanism: a URL's user information reaches no output and no run record."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT
    from tests.fixtures.gitops.history import History, at

    h = History(tmp_path, ["orders"])
    h.deploy("orders", "prod", "v1", at(0))
    bare = h.push()
    with canned(lambda _h: (200, {})) as url:
        host = url.split("://", 1)[1]
        gateway = f"http://metrics:pushgw-pass-0123@{host}"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipekit",
                "dora",
                "--gitops-repo",
                str(bare),
                "--since",
                "2026-01-01",
                "--until",
                "2026-12-31",
                "--push-gateway",
                gateway,
                "--json",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 0, proc.stderr
    assert "pushgw-pass-0123" not in proc.stdout + proc.stderr


def test_control_characters_from_jira_never_reach_the_terminal(tmp_path: Any) -> None:
    """Item 15: a forged "OK: Jira gate passed" line, carriage returns and escape sequences from Jira's
    keys, statuses and summaries are shown neutralised."""
    versions = {"values": [{"id": "1", "name": "1.0", "released": False}], "isLast": True}
    forged = "\r\x1b[2KOK: Jira gate passed"
    search = {
        "issues": [
            {
                "key": "ORD-1" + forged,
                "fields": {
                    "summary": "broken\nOK: Jira gate passed\x07",
                    "status": {"name": "In Progress" + forged},
                    "assignee": {"displayName": "Eve\x1b]0;title\x07"},
                },
            }
        ],
        "isLast": True,
    }

    def answer(h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        return 200, (versions if "/version" in h.path else search)

    with canned(answer) as url:
        env = {"JIRA_BASE_URL": url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
        proc = run_pipekit(
            "jira-gate",
            "--project",
            "ORD",
            "--version",
            "1.0",
            "--allowed-statuses",
            "Done",
            env=env,
            cwd=tmp_path,
        )
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout + proc.stderr
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert not any(line.startswith("OK: Jira gate passed") for line in text.splitlines())
    assert "ORD-1" in text and "OK: Jira gate passed" in text  # shown, on the issue's own line


def test_the_console_neutralises_control_characters_but_keeps_lines() -> None:
    import io

    from pipekit.core.console import Console

    out = io.StringIO()
    Console(stream=out).print("line one\nline two\ttab \x1b[31mred\x1b[0m \r\x1b[2Kgone \x07bell \x9b1m c1")
    shown = out.getvalue()
    assert shown == "line one\nline two\ttab red \\x0d\\x1b[2Kgone \\x07bell \\x9b1m c1\n"
