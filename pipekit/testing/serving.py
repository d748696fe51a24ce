"""The start/stop loop every stand-in shares.

:class:`ChildServer` runs a server program (moto, ``docker-registry``) as a child through
:mod:`pipekit.core.process` (its own process group, stopped on SIGINT/SIGTERM too), its output
in a log file, and waits until its URL answers; :class:`ThreadServer` serves an in-process
``ThreadingHTTPServer`` (the webhook sink, the Argo CD stand-in) on a daemon thread.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from http.server import ThreadingHTTPServer
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
    :meth:`launch` returns once ``ready_url`` answers."""

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
        with open(log, "wb") as out:
            self.proc = process.start(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=False)
        try:
            wait_http(ready_url, timeout, self.proc, log)
        except BaseException:
            self.halt()
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


T = TypeVar("T", bound="ServedStandIn")


class ServedStandIn:
    """The start/stop/``with`` life of an in-process stand-in served by ``self._serving``."""

    _serving: ThreadServer

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
