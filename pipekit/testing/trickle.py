"""A hostile HTTP server for tests and benchmarks: it answers slowly, or endlessly, and stops by itself.

Modes (one server, one mode; every connection gets the same treatment):

- ``body``: status line and headers at once, then the body one byte every ``interval`` seconds
  (``Content-Length`` announces ``size`` bytes, so a client waits for all of them);
- ``headers``: the status line, then header lines one byte at a time;
- ``big``: a ``200`` with a JSON body of ``size`` bytes sent as fast as the socket takes it.

Every connection is closed after ``lifetime`` seconds, and :meth:`Trickle.stop` (or leaving the
``with`` block) closes the listener: a test that hangs still ends. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import threading
import time


class Trickle:
    def __init__(
        self,
        mode: str = "body",
        *,
        interval: float = 0.2,
        size: int = 1_000_000,
        lifetime: float = 60.0,
        status: int = 200,
    ) -> None:
        if mode not in ("body", "headers", "big"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode, self.interval, self.size = mode, interval, size
        self.lifetime, self.status = lifetime, status
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="trickle", daemon=True)

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.requests += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                part = conn.recv(65536)
                if not part:
                    return
                data += part
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(rest) < length:
                part = conn.recv(65536)
                if not part:
                    return
                rest += part
        except OSError:
            return

    def _serve(self, conn: socket.socket) -> None:
        ends = time.monotonic() + self.lifetime
        try:
            self._read_request(conn)
            head = (
                f"HTTP/1.1 {self.status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {self.size}\r\nConnection: close\r\n\r\n"
            ).encode()
            if self.mode == "headers":
                self._drip(conn, head + b"{" * self.size, ends)
            elif self.mode == "body":
                conn.sendall(head)
                self._drip(conn, b" " * self.size, ends)
            else:
                conn.sendall(head)
                block = b'{"x":"' + b"a" * 65_000 + b'"}'
                sent = 0
                while sent < self.size and time.monotonic() < ends and not self._stopping.is_set():
                    piece = block[: min(len(block), self.size - sent)]
                    conn.sendall(piece)
                    sent += len(piece)
        except OSError:
            pass
        finally:
            conn.close()

    def _drip(self, conn: socket.socket, data: bytes, ends: float) -> None:
        for i in range(len(data)):
            if time.monotonic() >= ends or self._stopping.is_set():
                return
            conn.sendall(data[i : i + 1])
            time.sleep(self.interval)
