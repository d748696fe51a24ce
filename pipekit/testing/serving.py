"""The start/stop loop every stand-in shares.

:class:`ChildServer` runs a server program (moto, ``docker-registry``) as a child through
:mod:`pipekit.core.process` (its own process group, stopped on SIGINT/SIGTERM too), its output
in a log file, and waits until its URL answers; :class:`ThreadServer` serves an in-process
``ThreadingHTTPServer`` (the webhook sink, the Argo CD stand-in) on a daemon thread, its requests
answered by a :class:`QuietHandler`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from pipekit.core import process

S = TypeVar("S", bound="ChildServer")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen[Any] | None = None, log: Path | None = None
) -> None:
    """Poll ``url`` until it answers (any HTTP status), the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{url}: server exited with {proc.returncode}: {tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: no answer after {timeout:g} s")
        time.sleep(0.05)


class ChildServer:
    """A server program as a child process, logging to ``log``;
    :meth:`launch` returns once ``ready_url`` answers, or stops (:meth:`stop`) and raises."""

    proc: subprocess.Popen[Any] | None = None

    def launch(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        ready_url: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> None:
        try:
            with open(log, "wb") as out:
                self.proc = process.start(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=False)
            wait_http(ready_url, timeout, self.proc, log)
        except BaseException:
            self.stop()  # the child, and what the subclass's start made for it
            raise

    def halt(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; safe to call twice."""
        if self.proc is not None:
            process.stop(self.proc, grace=5.0)
        self.proc = None

    def start(self: S) -> S:
        raise NotImplementedError

    def stop(self) -> None:
        self.halt()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ThreadServer:
    """An in-process HTTP server served on a daemon thread until :meth:`halt`."""

    def __init__(
        self,
        server: ThreadingHTTPServer,
        name: str,
        *,
        poll_interval: float = 0.1,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """``tls``: (certfile, keyfile) to serve https."""
        server.daemon_threads = True
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.name = name
        self.poll_interval = poll_interval
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=self.name,
            daemon=True,
        )
        self._thread.start()

    def halt(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class QuietHandler(BaseHTTPRequestHandler):
    """The request handler the in-process stand-ins build on: HTTP/1.1 (connections kept alive),
    each write sent at once, nothing logged, and the answers they send."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes: without this, Nagle and the client's
        # delayed ACK hold every answer ~40 ms on a kept-alive connection
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stand-ins log nothing
        return

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(
        self, status: int, data: bytes, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> None:
        """``status``, then ``headers`` (a mapping or pairs) and ``Content-Length``, then ``data``."""
        self.send_response(status)
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply_json(self, status: int, body: Any) -> None:
        self.reply(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def start_chunks(self) -> None:
        """A 200 whose JSON body follows in :meth:`chunk` calls (``Transfer-Encoding: chunked``)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        """One chunk of the body (written at once); ``b""`` ends it."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def handing_to(
    answer: Callable[[QuietHandler], None], *methods: str, keep_alive: bool = True
) -> type[QuietHandler]:
    """A :class:`QuietHandler` that hands each request of ``methods`` (``"GET"``, ...) to ``answer``,
    the others 501; ``keep_alive=False`` speaks HTTP/1.0, one request a connection."""

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

    for method in methods:
        setattr(Handler, f"do_{method}", lambda handler: answer(handler))
    return Handler


@contextmanager
def canned(answer: Callable[[QuietHandler], tuple[int, Any]], name: str = "canned") -> Iterator[str]:
    """A server on 127.0.0.1 (its URL yielded) answering every GET, POST and PUT with ``answer(handler)``:
    a status and a body, sent as it is when ``bytes``, else as JSON; the request's body is read first."""

    def reply(handler: QuietHandler) -> None:
        handler.read_body()
        status, body = answer(handler)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.reply(status, data, {"Content-Type": "application/json"})

    server = ThreadServer(
        ThreadingHTTPServer(("127.0.0.1", 0), handing_to(reply, "GET", "POST", "PUT")), name
    )
    server.serve()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.halt()


T = TypeVar("T", bound="ServedStandIn")


class ServedStandIn:
    """The start/stop/``with`` life of an in-process stand-in served by ``self._serving``."""

    _serving: ThreadServer

    def _serve_on(
        self,
        handler: type[BaseHTTPRequestHandler],
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        poll_interval: float = 0.1,
        tls: tuple[str, str] | None = None,
        block_on_close: bool = True,
    ) -> None:
        """Bind the server :meth:`start` serves; ``handler`` finds the stand-in at ``server.standin``."""
        server = ThreadingHTTPServer((host, port), handler)
        server.block_on_close = block_on_close
        server.standin = self  # type: ignore[attr-defined]
        self._serving = ThreadServer(server, name, poll_interval=poll_interval, tls=tls)

    @property
    def port(self) -> int:
        return int(self._serving.server.server_address[1])

    def start(self: T) -> T:
        self._serving.serve()
        return self

    def stop(self) -> None:
        self._before_halt()
        self._serving.halt()

    def _before_halt(self) -> None:
        """Wake what waits on the stand-in (watches, streams) before the server shuts down."""

    def __enter__(self: T) -> T:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
