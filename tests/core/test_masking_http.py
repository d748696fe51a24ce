import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipekit.core import http, masking
from pipekit.core.console import setup_logging
from pipekit.core.errors import ExternalError
from pipekit.testing.sink import Answer


def test_secret_names():
    for name in [
        "PIPEKIT_TEAMS_WEBHOOK_URL",
        "ARGOCD_AUTH_TOKEN",
        "DB_PASSWORD",
        "MY_SECRET_THING",
        "AWS_SECRET_ACCESS_KEY",
        "JIRA_API_TOKEN",
        "JIRA_PAT",
    ]:
        assert masking.is_secret_name(name), name
    for name in ["BITBUCKET_BRANCH", "AWS_REGION", "AWS_ACCESS_KEY_ID"]:
        assert not masking.is_secret_name(name), name


def test_webhook_url_and_query_masked():
    url = "https://prod.example.com/workflows/abc123def456/triggers/manual/paths/invoke?api-version=1&sig=SiGnAtUrE12345"
    masking.load_from_env({"PIPEKIT_TEAMS_WEBHOOK_URL": url})
    text = f"posting to {url} and the sig SiGnAtUrE12345 alone"
    out = masking.mask(text)
    assert "SiGnAtUrE12345" not in out and url not in out
    assert "***" in out


def test_logging_masks_messages_and_tracebacks(capsys):
    masking.add_secret("hunter2-password")
    setup_logging(debug=True)
    log = logging.getLogger("pipekit.test")
    log.debug("connecting with hunter2-password")
    try:
        raise RuntimeError("bad hunter2-password")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert "hunter2-password" not in err
    assert err.count("***") >= 2


class _Flaky(BaseHTTPRequestHandler):
    plan: list[tuple[int, dict[str, str]]] = []
    seen: list[float] = []

    def do_GET(self):  # noqa: N802
        _Flaky.seen.append(time.monotonic())
        status, headers = _Flaky.plan.pop(0) if _Flaky.plan else (200, {})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Flaky.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.slow
def test_retries_5xx_and_honours_retry_after(flaky_server):
    _Flaky.plan = [(503, {}), (429, {"Retry-After": "1"}), (200, {})]
    s = http.session(backoff=0.01, max_backoff=2)
    r = s.get(flaky_server + "/x")
    assert r.status_code == 200
    assert len(_Flaky.seen) == 3
    assert _Flaky.seen[2] - _Flaky.seen[1] >= 0.95  # waited as Retry-After asked


@pytest.mark.slow
def test_gives_up_with_external_error(flaky_server):
    _Flaky.plan = [(502, {})] * 5
    s = http.session(attempts=3, backoff=0.01, max_backoff=0.05)
    with pytest.raises(ExternalError, match="HTTP 502"):
        s.get(flaky_server + "/x?token=abcdefgh")
    assert len(_Flaky.seen) == 3


@pytest.mark.slow
def test_4xx_returned_not_retried(flaky_server):
    _Flaky.plan = [(404, {})]
    r = http.session(backoff=0.01).get(flaky_server + "/missing")
    assert r.status_code == 404 and len(_Flaky.seen) == 1


def test_refused_connection_is_external_error():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ExternalError, match="ConnectionError"):
        http.session(attempts=2, backoff=0.01, max_backoff=0.02).get(f"http://127.0.0.1:{port}/")


@pytest.mark.slow
def test_total_time_bound(flaky_server):
    _Flaky.plan = [(503, {"Retry-After": "1"})] * 10
    s = http.session(attempts=10, total_timeout=1.5, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(ExternalError):
        s.get(flaky_server + "/")
    assert time.monotonic() - start < 3.5


def test_mask_url_survives_a_bad_port():
    masking.add_secret("sig-abcdefgh")
    shown = masking.mask_url("https://hooks.example.com:99999/x?sig=sig-abcdefgh")
    assert shown.startswith("https://hooks.example.com/") and "sig-abcdefgh" not in shown


def test_retry_after_forms():
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    from pipekit.core.retry import backoff, retry_after

    assert retry_after("3", cap=10) == 3.0
    assert retry_after("30", cap=10) == 10.0
    assert retry_after(None, cap=10) is None
    assert retry_after("not a date", cap=10) is None  # unreadable: fall back to backoff, never crash
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
    assert 3.0 <= retry_after(soon, cap=10) <= 5.0
    waits = [backoff(n, base=0.5, cap=4) for n in range(1, 6)]
    assert all(0.0 <= w <= min(4, 0.5 * 2 ** (n - 1)) for n, w in enumerate(waits, 1))  # full jitter


@pytest.mark.slow
def test_session_waits_for_x_ratelimit_reset_but_never_past_its_total_time() -> None:
    from pipekit.testing.sink import WebhookSink

    with WebhookSink() as sink:
        reset = str(time.time() + 30)  # epoch seconds, 30 s away: more than the session may wait
        sink.answer_next(*(Answer(429, "", {"X-RateLimit-Reset": reset}) for _ in range(5)))
        started = time.monotonic()
        with pytest.raises(ExternalError, match="failed after retries: HTTP 429"):
            http.session(attempts=5, total_timeout=1.0, max_backoff=60).post(sink.url("teams"), data=b"{}")
        assert 0.9 <= time.monotonic() - started < 3
        assert len(sink.requests) == 2  # the first try, and one at the total time's end
