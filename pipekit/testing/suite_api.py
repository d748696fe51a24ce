"""A tiny HTTP API on 127.0.0.1 for example test suites to test: known answers, and one that is flaky
on purpose, deterministically.

- ``GET /health`` -> 200 ``{"status": "UP"}``
- ``GET /orders/ID`` -> 200 ``{"id": "ID", "status": "OPEN"}``
- ``GET /flaky/KEY`` -> 503 the first time a KEY is asked for, 200 ``{"call": N}`` after that
- ``GET /text`` -> 200 ``not json`` (text/plain: a suite that parses it as JSON breaks)
- anything else -> 404

The test tools' suites in tests/tools/junit/suites/ run against it (tests/reports/test_junit_tools.py)::

    with SuiteAPI() as api:
        api.url            # http://127.0.0.1:PORT
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipekit.testing.serving import ServedStandIn, ThreadServer


class SuiteAPI(ServedStandIn):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                status, body, kind = api.answer(self.path.split("?", 1)[0])
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.block_on_close = False
        self._serving = ThreadServer(self._server, "suite-api", poll_interval=0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, str, str]:
        if path == "/health":
            return 200, json.dumps({"status": "UP"}), "application/json"
        if path.startswith("/orders/") and path.count("/") == 2:
            return 200, json.dumps({"id": path.rsplit("/", 1)[1], "status": "OPEN"}), "application/json"
        if path.startswith("/flaky/"):
            with self._lock:
                n = self.calls[path] = self.calls.get(path, 0) + 1
            return (503 if n == 1 else 200), json.dumps({"call": n}), "application/json"
        if path == "/text":
            return 200, "not json", "text/plain"
        return 404, json.dumps({"error": "not found"}), "application/json"
