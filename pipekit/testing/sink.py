"""A webhook sink on 127.0.0.1: records every request, answers like Teams Workflows or Slack.

Use it from tests, or to rehearse a pipeline's notifications without a real channel::

    with WebhookSink() as sink:
        url = sink.url("teams")              # http://127.0.0.1:PORT/teams/...
        sink.fail_next(429, retry_after=1)   # the next request gets 429 + Retry-After: 1
        ... post ...
        sink.requests[0].json

From a shell: ``python -m pipekit.testing.sink --port 8099`` prints the URLs and logs
each request. Paths starting with ``/slack`` answer like Slack (200 ``ok``); every other
path answers like a Teams Workflows trigger (202, empty body).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pipekit.testing.serving import QuietHandler, ServedStandIn, handing_to


@dataclass
class Answer:
    """One scripted answer: status, body, headers, and a delay before answering."""

    status: int = 202
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    """A request the sink received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the sink answered
    at: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def channel(self) -> str:
        return "slack" if self.path.startswith("/slack") else "teams"


def default_answer(path: str) -> Answer:
    if path.startswith("/slack"):
        return Answer(200, "ok", {"Content-Type": "text/plain"})
    return Answer(202, "")


class WebhookSink(ServedStandIn):
    """A threaded HTTP server on 127.0.0.1 (port 0 = any free port)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, log: Any = None, tls: tuple[str, str] | None = None
    ) -> None:
        """``tls=(certfile, keyfile)`` serves https (clients must trust the certificate)."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.reset(log=log)
        self._serve_on(
            handing_to(self._handle, "POST", "PUT"),
            "webhook-sink",
            host,
            port,
            poll_interval=0.05,
            tls=tls,
            block_on_close=False,  # stop() does not wait for a deliberately slow answer
        )
        self.scheme = "https" if tls else "http"

    # -- lifecycle ------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, kind: str = "teams", secret: str = "sig-local-rehearsal") -> str:
        """A webhook URL shaped like the real one, its secret in the path/query like the real ones."""
        if kind == "slack":
            return f"{self.base_url}/slack/services/T000/B000/{secret}"
        return (
            f"{self.base_url}/teams/workflows/0000/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={secret}"
        )

    def reset(self, *, log: Any = None) -> None:
        """Back to a sink just started: no requests kept, nothing scripted, no delay."""
        with self._lock:
            self._generation = getattr(self, "_generation", 0) + 1  # a slower answer of before stays out
            self.requests: list[Request] = []
            self._script: deque[Answer] = deque()
            self.log = log
            self.slow: float = 0.0  # delay every answer by this many seconds

    # -- scripting ------------------------------------------------------
    def answer_next(self, *answers: Answer) -> None:
        """Queue answers for the next requests (then back to the default answer)."""
        with self._lock:
            self._script.extend(answers)

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: str = "",
        delay: float = 0.0,
    ) -> None:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self.answer_next(*(Answer(status, body, dict(headers), delay) for _ in range(times)))

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        """Block until ``count`` requests arrived (or the timeout); return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.requests)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    # -- serving --------------------------------------------------------
    def _handle(self, handler: QuietHandler) -> None:
        body = handler.read_body()
        with self._lock:
            generation = self._generation
            answer = self._script.popleft() if self._script else default_answer(handler.path)
        delay = answer.delay or self.slow
        if delay:
            time.sleep(delay)
        req = Request(
            handler.command, handler.path, dict(handler.headers.items()), body, answer.status, time.time()
        )
        with self._changed:
            if generation == self._generation:
                self.requests.append(req)
            self._changed.notify_all()
        if self.log:
            self.log(req)
        try:
            handler.reply(answer.status, answer.body.encode(), answer.headers)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (slow-answer tests)
            pass


def _main(argv: list[str] | None = None) -> int:
    import argparse

    from pipekit.testing import serve_until_interrupted

    parser = argparse.ArgumentParser(
        prog="python -m pipekit.testing.sink", description="Local webhook sink for Teams/Slack rehearsals."
    )
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--quiet", action="store_true", help="do not print request bodies")
    parser.add_argument(
        "--fail",
        metavar="STATUS[xTIMES]",
        action="append",
        default=[],
        help="answer the next requests with STATUS, e.g. 429x2 or 500 (repeatable, in order)",
    )
    parser.add_argument(
        "--retry-after", type=float, default=None, help="Retry-After seconds sent with --fail answers"
    )
    parser.add_argument("--slow", type=float, default=0.0, help="delay every answer by this many seconds")
    args = parser.parse_args(argv)

    def show(req: Request) -> None:
        print(f"{req.method} {req.path.split('?')[0]} -> {req.status} ({len(req.body)} bytes)", flush=True)
        if not args.quiet and req.body:
            try:
                print(json.dumps(req.json, indent=2)[:4000], flush=True)
            except ValueError:
                print(req.text[:4000], flush=True)

    sink = WebhookSink(port=args.port, log=show)
    sink.slow = args.slow
    for spec in args.fail:
        status, _, times = spec.partition("x")
        if not status.isdigit() or (times and not times.isdigit()):
            parser.error(f"--fail {spec!r}: use STATUS or STATUSxTIMES, e.g. 429x2")
        sink.fail_next(int(status), times=int(times or 1), retry_after=args.retry_after)
    sink.start()
    print(f"webhook sink on {sink.base_url}", flush=True)
    print(f"  export PIPEKIT_TEAMS_WEBHOOK_URL='{sink.url('teams')}'", flush=True)
    print(f"  export PIPEKIT_SLACK_WEBHOOK_URL='{sink.url('slack')}'", flush=True)
    serve_until_interrupted()
    sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
