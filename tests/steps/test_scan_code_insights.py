"""Code Insights through a fake Bitbucket API on 127.0.0.1: paths, proxy vs token, batching and limits."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

FIX = Path(__file__).parents[1] / "fixtures" / "scan"
SHA = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
REPORT_PATH = re.compile(
    r"^(?:http://api\.bitbucket\.org)?/2\.0/repositories/(?P<ws>[^/]+)/(?P<repo>[^/]+)/commit/"
    r"(?P<sha>[0-9a-f]{40})/reports/(?P<id>[^/]+)(?P<ann>/annotations)?$"
)
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]


class FakeCodeInsights(ThreadingHTTPServer):
    """Bitbucket's reports API as far as pipekit uses it, with its documented limits enforced."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.reports: dict[str, dict[str, Any]] = {}
        self.annotations: dict[str, list[dict[str, Any]]] = {}
        self.status_override: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeCodeInsights

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                "auth": self.headers.get("Authorization"),
            }
        )
        if self.server.status_override:
            return self._reply(self.server.status_override, {"type": "error", "error": {"message": "denied"}})
        m = REPORT_PATH.match(self.path)
        if not m:
            return self._reply(404, {"type": "error", "error": {"message": f"no such path {self.path}"}})
        key = f"{m['ws']}/{m['repo']}/{m['sha']}/{m['id']}"
        if self.command == "PUT" and not m["ann"]:
            bad = [k for k in ("title", "report_type", "result", "data") if k not in body]
            if (
                bad
                or body["report_type"] not in ("SECURITY", "COVERAGE", "TEST", "BUG")
                or body["result"] not in ("PASSED", "FAILED", "PENDING")
            ):
                return self._reply(400, {"error": {"message": f"bad report {bad}"}})
            for item in body["data"]:
                if item["type"] not in (
                    "BOOLEAN",
                    "DATE",
                    "DURATION",
                    "LINK",
                    "NUMBER",
                    "PERCENTAGE",
                    "TEXT",
                ):
                    return self._reply(400, {"error": {"message": "bad data type"}})
            self.server.reports[key] = body
            self.server.annotations[key] = []
            return self._reply(200, {**body, "uuid": "{report-uuid}", "external_id": m["id"]})
        if self.command == "POST" and m["ann"]:
            if key not in self.server.reports:
                return self._reply(404, {"error": {"message": "report does not exist"}})
            if not isinstance(body, list) or len(body) > 100:
                return self._reply(400, {"error": {"message": "at most 100 annotations per request"}})
            if len(self.server.annotations[key]) + len(body) > 1000:
                return self._reply(400, {"error": {"message": "a report holds at most 1000 annotations"}})
            for a in body:
                if (
                    a.get("annotation_type") not in ("VULNERABILITY", "CODE_SMELL", "BUG")
                    or a.get("severity") not in SEVERITIES
                    or not a.get("external_id")
                    or not a.get("summary")
                ):
                    return self._reply(400, {"error": {"message": f"bad annotation {a}"}})
            self.server.annotations[key].extend(body)
            return self._reply(200, {"values": body})
        return self._reply(405, {"error": {"message": "method not allowed"}})

    do_PUT = do_POST = _handle


@pytest.fixture
def fake() -> Iterator[FakeCodeInsights]:
    server = FakeCodeInsights()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def bitbucket_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BITBUCKET_WORKSPACE", "acme")
    monkeypatch.setenv("BITBUCKET_REPO_SLUG", "orders-service")
    monkeypatch.setenv("BITBUCKET_COMMIT", SHA)
    monkeypatch.setenv("BITBUCKET_BUILD_NUMBER", "42")
    monkeypatch.setenv("BITBUCKET_REPO_FULL_NAME", "acme/orders-service")


def scan(*args: str) -> Result:
    from pipekit.scan import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_through_the_pipeline_proxy_without_credentials(
    fake: FakeCodeInsights, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPEKIT_BITBUCKET_PROXY", fake.url)  # stands in for localhost:29418
    result = scan(str(FIX / "veracode-results.json"), "--code-insights")
    assert result.exit_code == 1  # blocked, but the report is published first
    put, post = fake.requests
    assert put["method"] == "PUT" and post["method"] == "POST"
    # a proxy request carries the absolute URL of the real API
    assert (
        put["path"]
        == f"http://api.bitbucket.org/2.0/repositories/acme/orders-service/commit/{SHA}/reports/pipekit-scan"
    )
    assert post["path"] == put["path"] + "/annotations"
    assert put["auth"] is None and post["auth"] is None
    report = put["body"]
    assert report["report_type"] == "SECURITY" and report["result"] == "FAILED"
    data = {d["title"]: d["value"] for d in report["data"]}
    assert data == {
        "Critical": 1,
        "High": 0,
        "Medium": 1,
        "Low": 2,
        "Blocking": 1,
        "Suppressed": 0,
        "Safe to merge": False,
    }
    assert report["link"] == "https://bitbucket.org/acme/orders-service/pipelines/results/42"
    annotations = post["body"]
    assert [a["severity"] for a in annotations] == ["CRITICAL", "MEDIUM", "LOW", "LOW"]
    assert annotations[0]["result"] == "FAILED" and annotations[1]["result"] == "PASSED"
    assert (
        annotations[0]["path"] == "com/example/orders/OrderRepository.java" and annotations[0]["line"] == 57
    )


@pytest.mark.slow
def test_with_a_token_batches_100_and_stops_at_1000_most_severe_first(
    fake: FakeCodeInsights, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.reports.test_readers_scan import _gen_sarif

    token = "bbtoken-s3cr3t-value"
    monkeypatch.setenv("PIPEKIT_BITBUCKET_TOKEN", token)
    monkeypatch.setenv("PIPEKIT_BITBUCKET_API_URL", fake.url)
    _gen_sarif(tmp_path / "many.sarif", 1234)
    result = scan(str(tmp_path / "many.sarif"), "--code-insights", "--fail-on", "none", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["annotations_sent"] == 1000
    posts = [r for r in fake.requests if r["method"] == "POST"]
    assert [len(p["body"]) for p in posts] == [100] * 10
    assert all(r["auth"] == f"Bearer {token}" for r in fake.requests)
    assert all(r["path"].startswith("/2.0/repositories/acme/orders-service/") for r in fake.requests)
    sent = [a for p in posts for a in p["body"]]
    ranks = [SEVERITIES.index(a["severity"]) for a in sent]
    assert ranks == sorted(ranks) and ranks[0] == 0
    assert len({a["external_id"] for a in sent}) == 1000
    assert fake.reports and next(iter(fake.reports.values()))["result"] == "PASSED"
    assert token not in result.stdout + result.stderr


@pytest.mark.slow
def test_rejected_credentials_exit_3_with_a_hint(
    fake: FakeCodeInsights, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPEKIT_BITBUCKET_API_URL", fake.url)
    fake.status_override = 401
    result = scan(str(FIX / "veracode-empty.json"), "--code-insights")
    assert result.exit_code == 3
    assert "HTTP 401" in result.stderr and "PIPEKIT_BITBUCKET_TOKEN" in result.stderr


def test_missing_repository_context_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BITBUCKET_WORKSPACE")
    result = scan(str(FIX / "veracode-empty.json"), "--code-insights")
    assert result.exit_code == 2 and "BITBUCKET_WORKSPACE" in result.stderr


def test_default_is_the_pipeline_proxy() -> None:
    from pipekit.clients.bitbucket import CodeInsights

    ci = CodeInsights.from_env({}, workspace="w", repo="r", commit=SHA)
    assert (ci.base_url, ci.proxy, ci.token) == ("http://api.bitbucket.org", "http://localhost:29418", None)
    ci = CodeInsights.from_env({"PIPEKIT_BITBUCKET_TOKEN": "t"}, workspace="w", repo="r", commit=SHA)
    assert (ci.base_url, ci.proxy) == ("https://api.bitbucket.org", None)


def test_outside_pipelines_the_missing_proxy_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PIPEKIT_BITBUCKET_PROXY", f"http://127.0.0.1:{port}")
    from pipekit.clients import bitbucket

    monkeypatch.setattr(bitbucket.CodeInsights, "timeout_s", 1.0)
    result = scan(str(FIX / "veracode-empty.json"), "--code-insights")
    assert result.exit_code == 3
    assert "only exists inside Bitbucket Pipelines" in result.stderr
