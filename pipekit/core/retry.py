"""The one retry policy: full-jitter exponential backoff, ``Retry-After``, a bounded total time.

Every client waits by these rules: the requests session, the webhook client, AWS calls, git push
retries, the Argo CD watch reconnect. Kept free of ``requests`` so that clients that avoid it for
start-up time (the webhook client) follow exactly the same rules as :mod:`pipekit.core.http`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

# HTTP answers worth another try: rate limited, or the server (or a proxy before it) failing.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date), capped;
    None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils

        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, cap))


def backoff(attempt: int, base: float, cap: float) -> float:
    """The wait before retry ``attempt + 1``: full jitter,
    uniform in ``[0, min(cap, base * 2**(attempt-1))]``.

    Full jitter spreads concurrent retriers (30 pipelines pushing one GitOps repo) the most for
    the least total wait (AWS Architecture Blog, "Exponential Backoff And Jitter").
    """
    import random  # only on a retry: otherwise its import is part of every start-up

    return random.uniform(0.0, min(cap, base * 2 ** (max(1, attempt) - 1)))  # noqa: S311 - timing, not security


def rate_limit_reset(value: str | None, cap: float) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` time (epoch seconds or ISO 8601), capped; None if unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        from datetime import datetime

        try:
            number = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    seconds = number - time.time() if number > 1e9 else number  # an epoch time, or delta seconds
    if seconds <= 0:  # already past (Jira sends it to the minute): back off rather than retry at once
        return None
    return min(seconds, cap)


def wait_before(attempt: int, base: float, cap: float, headers: Mapping[str, str] | None = None) -> float:
    """The wait before the next try: what the server asked for (``Retry-After``, else
    ``X-RateLimit-Reset``), else :func:`backoff`. Header names match in any case."""
    if headers is not None:
        asked = retry_after(_header(headers, "Retry-After"), cap)
        if asked is None:
            asked = rate_limit_reset(_header(headers, "X-RateLimit-Reset"), cap)
        if asked is not None:
            return asked
    return backoff(attempt, base, cap)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


@dataclass
class Deadline:
    """The bounded total time of one retried operation."""

    total: float
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return max(0.0, self.started + self.total - time.monotonic())

    def allows(self, wait: float) -> bool:
        """Whether waiting ``wait`` seconds still leaves time for another try."""
        return wait < self.remaining()


@dataclass
class Retrying:
    """The one shape of a retried operation: ``for attempt in tries:``, and after a failed try
    ``tries.wait(headers)``: the policy's wait, or None when ``attempts`` (None: any number) or
    ``total`` seconds are used up."""

    attempts: int | None
    total: float
    base: float
    cap: float
    attempt: int = 0
    deadline: Deadline = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = Deadline(self.total)

    def __iter__(self) -> Iterator[int]:
        while True:
            self.attempt += 1
            yield self.attempt

    def wait(self, headers: Mapping[str, str] | None = None) -> float | None:
        """After a failed try: the wait before the next one (:func:`wait_before`), None when none is left."""
        wait = wait_before(self.attempt, self.base, self.cap, headers)
        if (self.attempts is not None and self.attempt >= self.attempts) or not self.deadline.allows(wait):
            return None
        return wait

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.deadline.started


class Watchdog:
    """Cuts the connection of one HTTP exchange when its time is up, however the server trickles.

    Socket timeouts bound each read, not an answer: a server that sends one byte per second keeps
    every read short and the exchange endless. The watchdog is one timer per exchange, started when
    the first socket is watched (the connection is made: connecting has its own timeout); when it
    fires, every socket watched (connections of :mod:`pipekit.core.http`, :mod:`pipekit.clients.webhook`)
    is shut down, so a blocked read returns at once, and :attr:`fired` tells the caller that what
    it got (an error, or a body cut short) is the deadline's doing.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self.fired = False
        self._lock = threading.Lock()
        self._sockets: list[Callable[[], object]] = []
        self._timer: threading.Timer | None = None
        self._done = False

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()

    def watch(self, get_socket: Callable[[], object]) -> None:
        """Shut down ``get_socket()`` at the deadline (the first one watched starts the clock)."""
        with self._lock:
            if not self.fired:
                self._sockets.append(get_socket)
                if self._timer is None and not self._done:
                    self._timer = threading.Timer(self.seconds, self._fire)
                    self._timer.daemon = True
                    self._timer.start()
                return
        _shut(get_socket())

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            watched = list(self._sockets)
        for get in watched:
            _shut(get())


def _shut(sock: object) -> None:
    """Shut a socket down under whoever reads it (a TLS socket too: on its descriptor, not its TLS layer)."""
    if isinstance(sock, socket.socket):
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass
