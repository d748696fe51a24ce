"""The Argo CD REST client and the watcher, against the stand-in on 127.0.0.1."""

from __future__ import annotations

import io
import time

import pytest

from pipekit.argocd.settings import parse_argocd_opts
from pipekit.clients.argocd import AppNotFound, ArgoCDClient, AuthRejected, base_url, iter_stream
from pipekit.clients.argocd_watch import APP, Watcher, newer
from pipekit.core import masking
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.testing.argocd import ArgoCDStandIn

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"


@pytest.mark.parametrize(
    "server,root,plain,expected",
    [
        ("argocd.example.com", "", False, "https://argocd.example.com"),
        ("argocd.example.com:8443", "", False, "https://argocd.example.com:8443"),
        ("argocd.example.com", "/argo-cd/", True, "http://argocd.example.com/argo-cd"),
        ("https://argocd.example.com/", "", False, "https://argocd.example.com"),
        ("https://argocd.example.com/tools", "argo-cd", False, "https://argocd.example.com/tools/argo-cd"),
        ("https://argocd.example.com", "", True, "http://argocd.example.com"),
        ("http://127.0.0.1:8080", "", False, "http://127.0.0.1:8080"),
    ],
)
def test_base_url_forms(server, root, plain, expected):
    assert base_url(server, root_path=root, plaintext=plain) == expected


@pytest.mark.parametrize("server", ["", "ftp://x", "https://user:pw@argocd.example.com", "https://"])
def test_base_url_rejects(server):
    with pytest.raises(BadInput):
        base_url(server)


def test_argocd_opts_are_read():
    assert parse_argocd_opts("--grpc-web --insecure --grpc-web-root-path /argo") == {
        "insecure": True,
        "root_path": "/argo",
    }
    assert parse_argocd_opts("--plaintext --grpc-web-root-path=/x") == {"plaintext": True, "root_path": "/x"}
    assert parse_argocd_opts(None) == {}


class FakeRaw:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def read1(self, n: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


class FakeResponse:
    def __init__(self, chunks: list[bytes]) -> None:
        self.raw = FakeRaw(chunks)


def test_iter_stream_joins_lines_split_across_chunks():
    line = b'{"result": {"type": "ADDED", "application": {"metadata": {"name": "a"}}}}\n'
    chunks = [line[:10], line[10:] + b"\n" + line[:5], line[5:], b"not json\n", b'{"result": {}}\n']
    apps = list(iter_stream(FakeResponse(chunks)))  # type: ignore[arg-type]
    assert apps == [{"metadata": {"name": "a"}}] * 2


def test_iter_stream_error_line_raises():
    from pipekit.core.errors import ExternalError

    with pytest.raises(ExternalError, match="stream ended with an error: permission denied"):
        list(
            iter_stream(
                FakeResponse(
                    [
                        b'{"error": {"grpc_code": 7, "message": "x"}}\n'.replace(
                            b'{"grpc_code": 7, "message": "x"}', b'"permission denied"'
                        )
                    ]
                )
            )
        )  # type: ignore[arg-type]


@pytest.fixture
def argo(argocd_standin: ArgoCDStandIn) -> ArgoCDStandIn:
    argocd_standin.reset(users={"ci": "pw-123456"})
    return argocd_standin


def client(argo: ArgoCDStandIn, **kw) -> ArgoCDClient:
    kw.setdefault("token", argo.token)
    return ArgoCDClient(argo.url, request_timeout=1.0, total_timeout=3.0, **kw)


def test_login_and_session_token_masked(argo):
    argo.add_app("a", revision=E)
    c = client(argo, token=None, username="ci", password="pw-123456")
    assert c.get_app("a")["metadata"]["name"] == "a"
    assert c.token and masking.mask(f"token {c.token}") == "token ***"
    assert [p for _, p in argo.requests].count("/api/v1/session") == 1


def test_relogin_once_then_give_up(argo):
    argo.add_app("a", revision=E)
    c = client(argo, token=None, username="ci", password="pw-123456")
    c.get_app("a")
    argo.expire_tokens()
    c.get_app("a")  # logs in again
    assert c.relogins == 1
    argo.expire_tokens()
    with pytest.raises(AuthRejected, match="rejected the session token from ARGOCD_USERNAME/ARGOCD_PASSWORD"):
        c.get_app("a")


def test_bearer_token_rejected_is_bad_input(argo):
    with pytest.raises(AuthRejected) as err:
        client(argo, token="bogus-token-value").get_app("a")
    assert err.value.exit_code == 2 and "bogus-token-value" not in str(err.value)


def test_forbidden_and_not_found(argo):
    argo.add_app("a", revision=E, project="team")
    c = client(argo)
    with pytest.raises(AppNotFound, match="permission denied"):
        c.get_app("b")
    with pytest.raises(AppNotFound, match="does not exist, or this account may not read it"):
        c.open_stream("b")  # a stream answers the same way
    with pytest.raises(AppNotFound, match="not found in project 'team'"):
        c.get_app("b", project="team")


def test_sync_request_and_refusal(argo):
    argo.add_app("a", revision=E, phase="Failed")
    c = client(argo)
    c.sync("a", E)
    assert argo.sync_requests == [
        {"name": "a", "revision": E, "prune": False, "dryRun": False, "strategy": {"hook": {"force": False}}}
    ]
    argo.set_state("a", phase="Running")
    with pytest.raises(CheckFailed, match="another operation is already in progress"):
        c.sync("a", E)


def test_watcher_delivers_stream_and_poll_events_and_stops(argo):
    argo.add_app("a", revision=E)
    w = Watcher(client(argo), ["a"], poll_interval=0.2, idle_timeout=2.0)
    w.start()
    sources = set()
    deadline = time.monotonic() + 15
    while sources != {"stream", "poll"} and time.monotonic() < deadline:
        event = w.events.get(timeout=5)
        assert event.kind == APP
        sources.add(event.source)
    w.stop()
    assert sources == {"stream", "poll"}
    deadline = time.monotonic() + 15  # stop() joins for 0.5 s at most; a thread mid-request ends after it
    while any(t.is_alive() for t in w._threads) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.is_alive() for t in w._threads)


def test_newer_by_resource_version():
    assert newer({"metadata": {"resourceVersion": "11"}}, {"metadata": {"resourceVersion": "9"}})
    assert not newer({"metadata": {"resourceVersion": "9"}}, {"metadata": {"resourceVersion": "11"}})
    assert newer({"metadata": {"resourceVersion": "abc"}}, {"metadata": {"resourceVersion": "11"}})
    assert newer({}, None)


def test_progress_plain_lines_only_on_change():
    from pipekit.argocd.state import AppState, judge
    from pipekit.argocd.view import Progress
    from pipekit.core.console import Console
    from pipekit.testing.argocd.apps import AppModel

    out = io.StringIO()
    p = Progress(Console(stream=out), ["a"], E)
    p.start()
    app = AppModel("a", revision=E).to_json()
    for _ in range(3):
        p.update("a", AppState.from_app(app), judge(app, E))
    p.stop()
    lines = out.getvalue().splitlines()
    assert lines == [
        "waiting for a at revision 5f3c2a1",
        "a: sync=Synced health=Healthy revision=5f3c2a1 operation=Succeeded hooks=- -> succeeded",
    ]
