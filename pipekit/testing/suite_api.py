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

from pipekit.testing.serving import QuietHandler, ServedStandIn, handing_to


class SuiteAPI(ServedStandIn):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._serve_on(
            handing_to(self._get, "GET"), "suite-api", host, port, poll_interval=0.05, block_on_close=False
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _get(self, h: QuietHandler) -> None:
        status, body, kind = self.answer(h.path.split("?", 1)[0])
        h.reply(status, body.encode(), {"Content-Type": kind})

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
