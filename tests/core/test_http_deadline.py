"""One total deadline per HTTP call, the body included, and bounded answers (issue 23, items 9 and 11).

The servers are :class:`pipekit.testing.trickle.Trickle` on 127.0.0.1: they answer one byte every
0.2 s and stop by themselves after ``lifetime`` seconds, so a test of a broken deadline still ends.
"""

from __future__ import annotations

import json
import time

import pytest

from pipekit.clients import webhook
from pipekit.clients.jira import JiraClient
from pipekit.core import http
from pipekit.core.errors import ExternalError
from pipekit.testing.trickle import Trickle
from tests.conftest import run_pipekit


@pytest.mark.parametrize(
    ("mode", "said"), [("body", "no complete answer within"), ("headers", "failed after retries: Timeout")]
)
def test_a_trickled_answer_ends_at_the_total_deadline(mode: str, said: str) -> None:
    with Trickle(mode, interval=0.1, size=10_000, lifetime=20) as server:
        session = http.session(attempts=4, total_timeout=2.0, timeout=(1.0, 1.0))
        started = time.monotonic()
        with pytest.raises(ExternalError, match=said):
            session.get(server.url + "/slow")
        took = time.monotonic() - started
    assert took < 3.0, f"{took:.1f} s for a 2 s bound"


@pytest.mark.slow
def test_a_try_ends_at_its_read_timeout_and_a_trickled_answer_is_not_retried() -> None:
    with Trickle("body", interval=0.1, size=10_000, lifetime=20) as server:
        session = http.session(
            attempts=3, total_timeout=30.0, timeout=(0.5, 1.0), backoff=0.01, max_backoff=0.01
        )
        started = time.monotonic()
        with pytest.raises(ExternalError, match="no complete answer within 1 s"):
            session.get(server.url)
        took = time.monotonic() - started
        assert server.requests == 1  # the server answers, too slowly: another try would be as slow
    assert took < 2.0, took


@pytest.mark.slow
def test_a_silent_server_is_still_retried() -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog) and never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        session = http.session(
            attempts=3, total_timeout=30.0, timeout=(0.5, 0.3), backoff=0.01, max_backoff=0.01
        )
        started = time.monotonic()
        with pytest.raises(ExternalError, match="failed after retries"):
            session.get(url)
        assert 0.8 < time.monotonic() - started < 3.0  # three read timeouts
    finally:
        listener.close()


@pytest.mark.slow
def test_a_streamed_answer_is_bounded_up_to_its_headers_and_read_by_the_caller() -> None:
    with Trickle("body", interval=0.01, size=50, lifetime=20) as server:
        session = http.session(total_timeout=0.3, timeout=(1.0, 1.0))
        response = session.get(server.url, stream=True)  # headers come at once
        assert len(response.raw.read(50)) == 50  # the caller's own reading (0.5 s) is its business


def test_a_body_bigger_than_the_bound_is_refused_without_reading_it_all() -> None:
    with Trickle("big", size=50 << 20, lifetime=20) as server:
        session = http.session(total_timeout=10.0, max_body=1 << 20)
        with pytest.raises(ExternalError, match="more than the 1048576 bytes"):
            session.get(server.url)


def test_the_body_is_still_there_for_the_caller() -> None:
    with Trickle("big", size=200_000, lifetime=20) as server:
        response = http.session(total_timeout=10.0).get(server.url)
        assert len(response.content) == 200_000 and response.text.startswith('{"x":"aaa')


@pytest.mark.slow
def test_webhook_post_ends_at_its_deadline() -> None:
    with Trickle("body", interval=0.1, size=10_000, lifetime=20) as server:
        policy = webhook.Policy(
            connect_timeout=1.0,
            read_timeout=1.0,
            attempts=4,
            total_timeout=2.0,
            backoff=0.01,
            max_backoff=0.01,
        )
        started = time.monotonic()
        with pytest.raises(ExternalError, match="no complete answer within"):
            webhook.post_json(server.url + "/hook", b"{}", policy=policy)
        took = time.monotonic() - started
    assert took < 3.0, f"{took:.1f} s for a 2 s bound"


@pytest.mark.slow
def test_webhook_headers_trickled_are_timeouts_within_the_total() -> None:
    with Trickle("headers", interval=0.1, size=10_000, lifetime=20) as server:
        policy = webhook.Policy(
            connect_timeout=0.5,
            read_timeout=1.0,
            attempts=4,
            total_timeout=2.5,
            backoff=0.01,
            max_backoff=0.01,
        )
        started = time.monotonic()
        with pytest.raises(ExternalError, match="no answer within 1 s"):
            webhook.post_json(server.url, b"{}", policy=policy)
        assert time.monotonic() - started < 4.0


def test_jira_search_pages_are_bounded_in_bytes() -> None:
    with Trickle("big", size=64 << 20, lifetime=20) as server:
        jira = JiraClient(server.url, email="ci@example.com", token="jira-token-0123456789", timeout=10.0)
        with pytest.raises(ExternalError, match="more than the"):
            list(jira.search("project = ORD"))


@pytest.mark.slow
def test_jira_gate_timeout_bounds_a_trickled_answer(tmp_path) -> None:
    with Trickle("body", interval=0.2, size=10_000, lifetime=30) as server:
        env = {
            "JIRA_BASE_URL": server.url,
            "JIRA_USER_EMAIL": "ci@example.com",
            "JIRA_API_TOKEN": "jira-token-0123456789",
        }
        started = time.monotonic()
        proc = run_pipekit(
            "jira-gate",
            "--project",
            "ORD",
            "--version",
            "1.0",
            "--timeout",
            "3",
            "--json",
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        took = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr
    assert "no complete answer" in json.loads(proc.stdout)["error"]
    assert took < 8.0, f"jira-gate --timeout 3 took {took:.1f} s"


@pytest.mark.slow
def test_notify_timeout_bounds_a_trickled_answer(tmp_path) -> None:
    with Trickle("body", interval=0.2, size=10_000, lifetime=40) as server:
        env = {"PIPEKIT_TEAMS_WEBHOOK_URL": server.url + "/workflows/x", "PIPEKIT_NOTIFY_TOTAL_TIMEOUT": "60"}
        started = time.monotonic()
        proc = run_pipekit(
            "notify",
            "--event",
            "succeeded",
            "--stage",
            "build",
            "--timeout",
            "5",
            "--strict",
            env=env,
            cwd=tmp_path,
            timeout=90,
        )
        took = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr
    assert "no complete answer within" in proc.stdout + proc.stderr
    assert took < 8.0, f"notify --timeout 5 took {took:.1f} s (was 40 s)"
