"""POST a JSON payload to a webhook with :mod:`http.client`: timeouts, retries, ``Retry-After``.

The same policy as :mod:`pipekit.core.http` (retry connection errors, timeouts, 429 and 5xx,
honour ``Retry-After``, bound the total time, raise :class:`ExternalError` with a masked URL
after the last try), without ``requests``. Kept under the 10% rule: a whole ``pipekit notify``
takes 31-39% less time with it than with the POST through :mod:`pipekit.core.http`
(``scripts/bench_notify.py``, its ``via-requests`` line; dated figures in docs/architecture.md).
The wire (TLS, CONNECT tunnels, chunked answers, ``100 Continue``) is the
standard library's :mod:`http.client`, imported only when something is sent, so ``--help``
stays lean. TLS uses :func:`ssl.create_default_context` (system CAs, ``SSL_CERT_FILE``).
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` are read from the step's environment mapping
(not ``os.environ`` alone, which ``urllib.request.getproxies`` would read), with Basic proxy
credentials from the proxy URL. See scripts/bench_notify.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit

from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import add_secret, mask, mask_url
from pipekit.core.retry import RETRYABLE_STATUSES, Retrying, Watchdog

if TYPE_CHECKING:
    from http.client import HTTPConnection, HTTPResponse

MAX_BODY = 64 * 1024  # only the start of an error body is ever shown
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str]
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Policy:
    """Timeouts and retries for one webhook call."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    attempts: int = 4
    total_timeout: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 10.0


def _proxy_for(scheme: str, host: str, env: Mapping[str, str]) -> str | None:
    if host in LOOPBACK:
        return None
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    for entry in (e.strip().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    name = f"{scheme}_proxy"
    return env.get(name) or env.get(name.upper()) or None


def _proxy_auth(proxy: SplitResult) -> dict[str, str]:
    if not proxy.username:
        return {}
    import base64

    token = base64.b64encode(f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()).decode()
    add_secret(unquote(proxy.password or ""))
    add_secret(token)  # base64: no control character can reach the header
    return {"Proxy-Authorization": f"Basic {token}"}


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be posted to (to follow the place it came from), or None."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        return "is not an http(s) URL"
    try:
        split.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        return "has characters that must be percent-encoded (spaces, control or non-ASCII characters)"
    return None


def _shown(url: str) -> str:
    """The URL as it may be printed (see :func:`mask_url`), also when its port does not parse."""
    try:
        return mask_url(url)
    except ValueError:
        split = urlsplit(url)
        return mask(f"{split.scheme}://{split.hostname or ''}/...")


class BadAnswer(Exception):
    """The server's answer was not HTTP we understand."""


class ConnectTimeout(TimeoutError):
    """No connection (TCP, proxy tunnel, TLS handshake) within the connect timeout."""


class TooSlow(TimeoutError):
    """The answer, body included, was not complete within the read timeout of connecting
    (a trickling server)."""


def _connection(
    url: str, policy: Policy, env: Mapping[str, str]
) -> tuple[HTTPConnection, str, dict[str, str]]:
    """An unconnected connection (through the proxy, if any), the request target and extra headers."""
    import http.client

    split = urlsplit(url)  # checked by url_problem
    host = split.hostname or ""
    port = split.port or (443 if split.scheme == "https" else 80)
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    proxy_url = _proxy_for(split.scheme, host, env)
    proxy = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url) if proxy_url else None
    try:
        address = (proxy.hostname or "", proxy.port or 3128) if proxy else (host, port)
    except ValueError:
        raise BadInput(
            f"{split.scheme.upper()}_PROXY: the proxy URL's port is not a number from 0 to 65535"
        ) from None
    if split.scheme == "http":
        conn = http.client.HTTPConnection(*address, timeout=policy.connect_timeout)
        if proxy:  # a plain-HTTP proxy takes the absolute URL and the credentials with each request
            return conn, url, _proxy_auth(proxy)
        return conn, target, {}
    import ssl

    tls = http.client.HTTPSConnection(
        *address, timeout=policy.connect_timeout, context=ssl.create_default_context()
    )
    if proxy:  # CONNECT through the proxy; TLS is verified end to end for the webhook's name
        tls.set_tunnel(host, port, headers=_proxy_auth(proxy))
    return tls, target, {}


def _once(url: str, body: bytes, policy: Policy, env: Mapping[str, str], seconds: float) -> Answer:
    """One POST; the answer (headers, body) is complete within ``seconds`` of connecting
    (see :class:`Watchdog`)."""
    import http.client

    conn, target, extra = _connection(url, policy, env)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "pipekit-notify",
        "Accept": "*/*",
        "Connection": "close",
        **extra,
    }
    dog = Watchdog(seconds)
    answered: list[bool] = []
    try:
        with dog:
            response, raw = _exchange(conn, target, body, headers, policy, dog, answered)
    except (OSError, http.client.HTTPException, BadAnswer):
        if dog.fired:  # the watchdog shut the socket: the bound passed, whatever the error says
            if answered:  # the body trickled in: too slow, not worth another try
                raise TooSlow from None
            raise TimeoutError from None  # no answer at all in time: a timeout, retried
        raise
    finally:
        conn.close()
    if dog.fired:  # what was read may have "ended" at the shut-down: never trust it
        raise TooSlow
    headers_in = {name.lower(): value for name, value in response.getheaders()}
    return Answer(response.status, raw.decode("utf-8", "replace"), headers_in)


def _exchange(
    conn: HTTPConnection,
    target: str,
    body: bytes,
    headers: dict[str, str],
    policy: Policy,
    dog: Watchdog,
    answered: list[bool],
) -> tuple[HTTPResponse, bytes]:
    import http.client

    try:
        try:
            conn.connect()  # TCP, the proxy's tunnel and TLS, within the connect timeout
        except TimeoutError:
            raise ConnectTimeout from None
        sock = conn.sock  # kept here: http.client lets go of it when the answer says "close"
        if sock is not None:
            sock.settimeout(policy.read_timeout)
            dog.watch(lambda: sock)
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()  # skips 100 Continue; reads chunked and close-delimited bodies
        answered.append(True)
        return response, response.read(MAX_BODY)
    except http.client.RemoteDisconnected:
        raise BadAnswer("connection closed before an answer") from None
    except http.client.BadStatusLine as exc:
        raise BadAnswer(f"not an HTTP answer: {str(exc).strip()[:40]!r}") from None
    except http.client.IncompleteRead:
        raise BadAnswer("answer cut short") from None
    except http.client.HTTPException as exc:  # header lines too long or too many, bad chunk sizes
        raise BadAnswer(f"{type(exc).__name__}: {exc}") from None


def post_json(
    url: str,
    body: bytes,
    *,
    policy: Policy | None = None,
    label: str = "webhook",
    env: Mapping[str, str] | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> Answer:
    """POST ``body``; return the first answer that is not worth retrying (2xx-4xx).

    Raises :class:`ExternalError` when the last try still failed to connect, timed out,
    or got 429/5xx.
    """
    shown = _shown(url)
    problem = url_problem(url)
    if problem:
        raise BadInput(f"webhook URL {shown} {problem}")
    pol = policy or Policy()
    e = os.environ if env is None else env
    tries = Retrying(pol.attempts, pol.total_timeout, pol.backoff, pol.max_backoff)
    for attempt in tries:
        headers: dict[str, str] | None = None
        seconds = max(
            min(pol.read_timeout, tries.deadline.remaining()), min(pol.read_timeout, 1.0)
        )  # as core.http
        try:
            answer = _once(url, body, pol, e, seconds)
            answer.attempts = attempt
            if answer.status not in RETRYABLE_STATUSES:
                return answer
            problem = f"HTTP {answer.status}"
            headers = answer.headers
        except ConnectTimeout:
            problem = f"no connection within {pol.connect_timeout:g} s"
        except TooSlow:  # answering, too slowly: another try would be as slow
            raise ExternalError(
                f"{label} {shown}: no complete answer within {seconds:.3g} s of connecting "
                f"(attempt {attempt})",
                hint="the webhook's server trickles its answer; check it",
            ) from None
        except TimeoutError:
            problem = f"no answer within {pol.read_timeout:g} s"
        except OSError as exc:  # refused, reset, DNS, TLS, a proxy that refused the tunnel
            problem = mask(f"{type(exc).__name__}: {exc.strerror or exc}")
        except BadAnswer as exc:
            problem = f"bad HTTP answer: {exc}"
        wait = tries.wait(headers)
        if wait is None:
            raise ExternalError(
                f"{label} {shown}: {problem} after {attempt} attempt{'s' if attempt > 1 else ''} "
                f"in {tries.elapsed:.1f} s",
                hint="check the webhook URL and that this step can reach it",
            )
        if on_retry:
            on_retry(
                f"{label}: {problem}; retrying in {wait:.1f} s (attempt {attempt + 1} of {pol.attempts})"
            )
        time.sleep(wait)
    raise AssertionError("unreachable: the tries end in a return or a raise")
