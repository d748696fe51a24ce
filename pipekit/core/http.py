"""One ``requests`` session factory: timeouts, retries with tenacity, ``Retry-After``, a total bound.

The waits are :func:`pipekit.core.retry.wait_before`'s (``Retry-After``, else ``X-RateLimit-Reset``,
else full-jitter backoff), cut short so that no wait runs past ``total_timeout``.

Retries connection errors, timeouts, 429 and 5xx. After the last try it raises
:class:`~pipekit.core.errors.ExternalError` with a masked URL; other answers (2xx-4xx)
are returned to the caller to judge.

Deadlines: socket timeouts bound each read, not an answer, so each try's whole answer (headers
*and body*) must arrive within the read timeout of the connection being made, and all tries
within ``total_timeout``: a :class:`~pipekit.core.retry.Watchdog` shuts the connection down when
that time is up, however slowly the server trickles. A try cut before the headers came is a
timeout (retried); one cut while the body trickled in is not retried (the server was answering,
only too slowly: another try would be as slow). A body is read here (the caller's
``stream=True`` excepted: then the deadline covers the headers, and the caller reads the body)
and is bounded by ``max_body`` bytes: a bigger answer is
:class:`~pipekit.core.errors.ExternalError`, not memory exhausted.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
)

from pipekit.core.errors import ExternalError
from pipekit.core.masking import add_url_credentials, credentials_sent, mask_url
from pipekit.core.retry import RETRYABLE_STATUSES, Deadline, Watchdog, wait_before

DEFAULT_TIMEOUT = (5.0, 30.0)
MAX_BODY = 64 << 20  # bytes of one answer's body, unless the session says otherwise
_local = threading.local()  # the watchdog of the exchange this thread is making
log = logging.getLogger("pipekit.http")


class TooSlow(requests.RequestException):
    """The answer (body included) was not complete within the try's deadline: not retried."""


def _watch(sock: object) -> None:
    dog: Watchdog | None = getattr(_local, "dog", None)
    if dog is not None and sock is not None:
        dog.watch(lambda: sock)


class _WatchedConnection:
    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch(getattr(self, "sock", None))  # the socket itself: http.client lets go of it on "close"


class _WatchedPool:
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch(getattr(conn, "sock", None))  # a kept-alive connection: connect() is not called again
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


def _pool_classes() -> dict[str, type]:
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    plain = type("WatchedHTTPConnection", (_WatchedConnection, HTTPConnection), {})
    tls = type("WatchedHTTPSConnection", (_WatchedConnection, HTTPSConnection), {})
    return {
        "http": type(
            "WatchedHTTPConnectionPool", (_WatchedPool, HTTPConnectionPool), {"ConnectionCls": plain}
        ),
        "https": type(
            "WatchedHTTPSConnectionPool", (_WatchedPool, HTTPSConnectionPool), {"ConnectionCls": tls}
        ),
    }


class _Adapter(HTTPAdapter):
    """requests' adapter whose connection pools let the watchdog see each exchange's socket."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes()

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _pool_classes()
        return manager


class RetryingSession(requests.Session):
    def __init__(
        self,
        *,
        attempts: int = 4,
        total_timeout: float = 60.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        max_body: int = MAX_BODY,
    ) -> None:
        super().__init__()
        self.attempts = attempts
        self.total_timeout = total_timeout
        self.default_timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_body = max_body
        self.trust_env = True
        for prefix in ("https://", "http://"):
            self.mount(prefix, _Adapter())

    def _wait(self, state: RetryCallState) -> float:
        """``Retry-After``, else ``X-RateLimit-Reset``, else backoff; never past the total time."""
        outcome = state.outcome
        response = outcome.result() if outcome is not None and not outcome.failed else None
        wait = wait_before(
            state.attempt_number,
            self.backoff,
            self.max_backoff,
            response.headers if response is not None else None,
        )
        return min(wait, max(0.0, self.total_timeout - (state.seconds_since_start or 0.0)))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        # requests lets REQUESTS_CA_BUNDLE override a session-level verify=False (psf/requests#3829):
        # pass the session's choice on every request so --insecure means what it says.
        kwargs.setdefault("verify", self.verify)
        add_url_credentials(url.decode() if isinstance(url, bytes) else url)  # requests sends them as Basic
        streamed = bool(kwargs.get("stream"))
        kwargs["stream"] = True
        total = Deadline(self.total_timeout)
        shown = mask_url(url.decode() if isinstance(url, bytes) else url)
        verb = method.decode() if isinstance(method, bytes) else method
        per_try = _try_seconds(kwargs["timeout"])

        def send(*call: Any, **named: Any) -> requests.Response:
            # The last try may start at the total time's end (after a Retry-After): it still gets a
            # second (or its own bound, if shorter) to be answered, never an instant failure.
            seconds = (
                max(min(per_try, total.remaining()), min(per_try, 1.0)) if self.total_timeout > 0 else per_try
            )
            with Watchdog(seconds) as dog:
                _local.dog = dog
                try:
                    response = super(RetryingSession, self).request(*call, **named)
                except requests.RequestException:
                    if dog.fired:  # no answer (headers) in time: a timeout, retried like one
                        raise requests.Timeout(f"no answer within {seconds:.3g} s") from None
                    raise
                finally:
                    _local.dog = None
                try:
                    if not streamed:
                        self._read_body(response, f"{verb} {shown}")
                except requests.RequestException:  # ChunkedEncodingError too: a body cut by the watchdog
                    if dog.fired:
                        raise TooSlow(f"no complete answer within {seconds:.3g} s") from None
                    raise
            if dog.fired:  # the body may have "ended" at the shut-down: never trust it
                response.close()
                raise TooSlow(f"no complete answer within {seconds:.3g} s")
            return response

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.total_timeout),
            wait=self._wait,
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout))
            | retry_if_result(lambda r: r.status_code in RETRYABLE_STATUSES),
            reraise=True,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        try:
            response = retrying(send, method, url, *args, **kwargs)
        except TooSlow as exc:
            raise ExternalError(
                f"{verb} {shown}: {exc} (a server trickling its answer; "
                f"the total bound is {self.total_timeout:g} s)",
                hint="the service answers too slowly; check it, or raise the step's timeout",
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ExternalError(
                f"{verb} {shown} failed after retries: {type(exc).__name__}",
                hint="check the address and that the service is reachable from this step",
            ) from None
        if response is None or response.status_code in RETRYABLE_STATUSES:
            status = "no answer" if response is None else f"HTTP {response.status_code}"
            raise ExternalError(f"{verb} {shown} failed after retries: {status}")
        return response

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        credentials_sent(request.headers)  # as they travel (Basic base64, Bearer): masked if echoed back
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as exc:
            log.debug("%s %s -> %s", request.method, request.url, type(exc).__name__)  # --debug: every try
            raise
        log.debug("%s %s -> HTTP %s", request.method, request.url, response.status_code)
        return response

    def _read_body(self, response: requests.Response, what: str) -> None:
        """Read the whole body now (under the watchdog), at most :attr:`max_body` bytes."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            response.close()
            raise ExternalError(
                f"{what} answered {int(declared)} bytes, more than the {self.max_body} "
                "bytes pipekit reads from one answer"
            )
        parts: list[bytes] = []
        size = 0
        for part in response.iter_content(1 << 16):
            size += len(part)
            if size > self.max_body:
                response.close()
                raise ExternalError(
                    f"{what} answered more than the {self.max_body} bytes pipekit reads from one answer"
                )
            parts.append(part)
        response._content = b"".join(parts)  # what requests' own .content would have kept
        response._content_consumed = True  # type: ignore[attr-defined]


def _try_seconds(timeout: Any) -> float:
    """One try's bound once connected: the read timeout (of a ``(connect, read)`` pair, or the one number)."""
    if isinstance(timeout, tuple):
        return float(timeout[-1]) if timeout[-1] is not None else DEFAULT_TIMEOUT[1]
    return float(timeout) if timeout else DEFAULT_TIMEOUT[1]


def session(**kwargs: Any) -> RetryingSession:
    """A new session; see :class:`RetryingSession` for the knobs."""
    return RetryingSession(**kwargs)
