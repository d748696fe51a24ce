"""The reusable webhook sink: records requests, answers like Teams/Slack, scripted failures, slowness."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from pipekit.testing.sink import Answer, WebhookSink


def post(url: str, body: bytes, timeout: float = 5) -> tuple[int, str, dict[str, str]]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request(
        "POST",
        u.path + ("?" + u.query if u.query else ""),
        body=body,
        headers={"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    out = (resp.status, resp.read().decode(), {k.lower(): v for k, v in resp.getheaders()})
    conn.close()
    return out


def test_answers_like_teams_and_slack_and_records_requests() -> None:
    with WebhookSink() as sink:
        assert sink.url("teams").startswith("http://127.0.0.1:")
        assert post(sink.url("teams"), b'{"type": "message"}')[:2] == (202, "")
        assert post(sink.url("slack"), b'{"text": "hi"}')[:2] == (200, "ok")
        first, second = sink.wait_for(2)
        assert first.channel == "teams" and first.json == {"type": "message"} and first.status == 202
        assert second.channel == "slack" and second.text == '{"text": "hi"}'
        assert first.headers["Content-Type"] == "application/json"


def test_scripted_answers_then_back_to_normal() -> None:
    with WebhookSink() as sink:
        sink.fail_next(429, retry_after=2)
        sink.answer_next(Answer(400, "invalid_blocks"))
        status, _, headers = post(sink.url("slack"), b"{}")
        assert status == 429 and headers["retry-after"] == "2"
        assert post(sink.url("slack"), b"{}")[:2] == (400, "invalid_blocks")
        assert post(sink.url("slack"), b"{}")[:2] == (200, "ok")
        assert [r.status for r in sink.requests] == [429, 400, 200]


def test_slow_answers_time_out_the_client() -> None:
    with WebhookSink() as sink:
        sink.fail_next(202, delay=3.0)
        started = time.monotonic()
        try:
            post(sink.url("teams"), b"{}", timeout=0.2)
            raise AssertionError("expected a timeout")
        except TimeoutError:
            pass
        assert time.monotonic() - started < 2.5  # the client gave up long before the answer (3 s)


def test_command_line_entry_point_prints_urls_and_logs_requests() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit.testing.sink",
            "--port",
            str(port),
            "--fail",
            "429",
            "--retry-after",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"webhook sink on http://127.0.0.1:{port}"
        teams_line = proc.stdout.readline()
        assert "PIPEKIT_TEAMS_WEBHOOK_URL=" in teams_line
        proc.stdout.readline()
        status, _, headers = post(f"http://127.0.0.1:{port}/teams/x", json.dumps({"a": 1}).encode())
        assert (status, headers["retry-after"]) == (429, "3")
        assert proc.stdout.readline().startswith("POST /teams/x -> 429")
        assert [proc.stdout.readline().strip() for _ in range(3)] == ["{", '"a": 1', "}"]  # the body, shown
        assert post(f"http://127.0.0.1:{port}/teams/x", json.dumps({"a": 1}).encode())[0] == 202
        assert proc.stdout.readline().startswith("POST /teams/x -> 202")
    finally:
        proc.terminate()
        proc.wait(timeout=5)
