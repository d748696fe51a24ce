"""The webhook transport over real sockets: HTTPS with a real certificate, proxies, odd answers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.clients.webhook import Policy, _proxy_for, post_json
from pipekit.core.errors import BadInput, ExternalError
from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT, self_signed_cert

PROXIED_HOST = "webhook.example.test"  # only the proxy stand-in knows where this is
FAST = Policy(connect_timeout=1, read_timeout=1, attempts=2, total_timeout=5, backoff=0.05, max_backoff=0.1)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 made by openssl for this test run."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"), PROXIED_HOST)


def one_shot_server(answer: bytes) -> tuple[int, threading.Thread]:
    """A raw TCP server that reads one request and writes ``answer`` bytes verbatim, then closes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]

    def serve() -> None:
        with srv:
            srv.settimeout(5)
            for _ in range(2):  # at most two attempts
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn, contextlib.suppress(OSError):
                    conn.settimeout(2)
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:  # the client went away
                            break
                        data += chunk
                    if b"\r\n\r\n" not in data:
                        continue
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int(
                        [
                            h.split(b":")[1]
                            for h in head.split(b"\r\n")
                            if h.lower().startswith(b"content-length")
                        ][0]
                    )
                    while len(body) < length:
                        body += conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


class ConnectProxy:
    """A minimal CONNECT proxy on 127.0.0.1 that records its tunnels and sends every one to 127.0.0.1."""

    def __init__(self, refuse: bytes = b"") -> None:
        self.refuse = refuse  # an answer to every CONNECT instead of a tunnel, such as a 407
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.tunnels: list[str] = []
        self.auth: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        try:
            self._relay(client)
        except OSError:  # the client or the sink went away: the test judges what arrived
            client.close()

    def _relay(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        lines = head.decode().split("\r\n")
        target = lines[0].split()[1]
        self.tunnels.append(target)
        self.auth += [line for line in lines if line.lower().startswith("proxy-authorization")]
        if self.refuse:
            client.sendall(self.refuse)
            client.close()
            return
        _, port = target.rsplit(":", 1)
        upstream = socket.create_connection(("127.0.0.1", int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                b.close()

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        # Wake the accept() first: closing the socket alone lets the thread call accept() on a
        # reused descriptor number and steal connections meant for a later test's server.
        with contextlib.suppress(OSError):
            self.srv.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)
        self.srv.close()


@pytest.fixture
def tls_sink(cert: tuple[str, str]) -> Iterator[WebhookSink]:
    with WebhookSink(tls=cert) as sink:
        yield sink


def test_https_with_a_trusted_certificate(
    tls_sink: WebhookSink, cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", cert[0])
    answer = post_json(tls_sink.url("teams"), b'{"type": "message"}', policy=FAST, env={})
    assert answer.status == 202 and tls_sink.requests[0].json == {"type": "message"}


def test_https_with_an_untrusted_certificate_fails_clearly(
    tls_sink: WebhookSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    with pytest.raises(ExternalError, match="SSLCertVerificationError"):
        post_json(tls_sink.url("teams"), b"{}", policy=FAST, env={})
    assert tls_sink.requests == []


def test_https_through_a_connect_proxy_with_credentials(
    tls_sink: WebhookSink, cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", cert[0])
    proxy = ConnectProxy()
    try:
        url = tls_sink.url("slack").replace("127.0.0.1", PROXIED_HOST)
        env = {"HTTPS_PROXY": f"http://user:p%40ss@127.0.0.1:{proxy.port}", "NO_PROXY": "internal.example"}
        answer = post_json(url, b'{"text": "via proxy"}', policy=FAST, env=env)
        assert (answer.status, answer.body) == (200, "ok")  # TLS verified for the name, end to end
        assert proxy.tunnels == [f"{PROXIED_HOST}:{tls_sink.port}"]
        assert proxy.auth == ["Proxy-Authorization: Basic dXNlcjpwQHNz"]  # user:p@ss
        assert tls_sink.requests[0].json == {"text": "via proxy"}
    finally:
        proxy.close()


def test_a_proxy_that_refuses_the_tunnel_is_reported(tls_sink: WebhookSink) -> None:
    proxy = ConnectProxy(refuse=b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
    try:
        url = tls_sink.url("teams").replace("127.0.0.1", PROXIED_HOST)
        with pytest.raises(
            ExternalError,
            match="Tunnel connection failed: 407 Proxy Authentication Required after 2 attempts",
        ):
            post_json(url, b"{}", policy=FAST, env={"HTTPS_PROXY": f"127.0.0.1:{proxy.port}"})
        assert proxy.tunnels == [f"{PROXIED_HOST}:{tls_sink.port}"] * 2 and proxy.auth == []
        assert tls_sink.requests == []
    finally:
        proxy.close()


@pytest.mark.slow
def test_a_server_that_never_completes_the_handshake_is_a_connect_timeout() -> None:
    with socket.socket() as silent:  # the kernel accepts the connection; nobody ever answers the TLS hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        quick = Policy(
            connect_timeout=0.3, read_timeout=5, attempts=2, total_timeout=5, backoff=0.05, max_backoff=0.1
        )
        with pytest.raises(ExternalError, match=r"no connection within 0.3 s after 2 attempts"):
            post_json(f"https://127.0.0.1:{silent.getsockname()[1]}/x", b"{}", policy=quick, env={})


def test_a_proxy_url_with_a_bad_port_is_bad_input() -> None:
    with pytest.raises(BadInput, match="HTTPS_PROXY: the proxy URL's port is not a number"):
        post_json(
            "https://hooks.example/x", b"{}", policy=FAST, env={"https_proxy": "http://u:secret@proxy:312800"}
        )


def test_no_proxy_and_loopback_bypass_the_proxy() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "internal.example, .corp.example"}
    assert _proxy_for("https", "hooks.slack.com", env) == "http://proxy:3128"
    assert _proxy_for("https", "internal.example", env) is None
    assert _proxy_for("https", "a.corp.example", env) is None
    assert _proxy_for("https", "127.0.0.1", env) is None
    assert _proxy_for("http", "hooks.slack.com", env) is None  # no HTTP_PROXY set
    assert _proxy_for("https", "x.example", {**env, "NO_PROXY": "*"}) is None


def test_chunked_and_interim_answers_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    port, _ = one_shot_server(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n"
        b"\r\n7\r\ninvalid\r\n7\r\n_blocks\r\n0\r\n\r\n"
    )
    answer = post_json(f"http://127.0.0.1:{port}/slack/x", b"{}", policy=FAST, env={})
    assert (answer.status, answer.body) == (400, "invalid_blocks")


def test_an_answer_that_is_not_http_is_an_external_error() -> None:
    port, _ = one_shot_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    with pytest.raises(ExternalError, match="bad HTTP answer: not an HTTP answer"):
        post_json(f"http://127.0.0.1:{port}/x", b"{}", policy=FAST, env={})


def test_a_connection_closed_without_an_answer_is_retried_then_reported() -> None:
    port, thread = one_shot_server(b"")
    with pytest.raises(ExternalError, match="connection closed before an answer after 2 attempts"):
        post_json(f"http://127.0.0.1:{port}/x", b"{}", policy=FAST, env={})
    thread.join(timeout=5)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.invalid/x",
        "http:///no-host",
        "http://127.0.0.1:99999/x",
        "http://127.0.0.1:1/a b",
        "http://127.0.0.1:1/caf\u00e9",
        "http://127.0.0.1:1/x\r\nX: y",
    ],
)
def test_urls_that_cannot_be_sent_are_bad_input(url: str) -> None:
    with pytest.raises(BadInput):  # before any connection: port 1 would be refused (ExternalError)
        post_json(url, b"{}", policy=FAST, env={})


def test_notify_over_https_end_to_end(tls_sink: WebhookSink, cert: tuple[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        SSL_CERT_FILE=cert[0],
        PIPEKIT_TEAMS_WEBHOOK_URL=tls_sink.url("teams"),
        PIPEKIT_RUN_RECORD=str(tmp_path / "run.json"),
        BITBUCKET_BUILD_NUMBER="5",
        BITBUCKET_BRANCH="main",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit.notify", "--event", "started", "--stage", "tls"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sent to teams (teams, HTTP 202)" in proc.stdout
    assert tls_sink.requests[0].json["type"] == "message"
